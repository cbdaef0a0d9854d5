// A stock Yjs client: yjs + y-websocket 1.5.x over the `ws` package, nothing written here
// besides this driver. The Python tests start it, send it commands as JSON lines on stdin and
// read what happened as JSON lines on stdout:
//
//   {"cmd": "connect", "url": "ws://host/api/collab/room", "room": ..., "token": ..., "kind": "file"|"notebook"}
//      ("keepDoc": true connects the document it has, with a new provider, to "room")
//      optional "clientID": the document's Yjs client id (tests that depend on the order of ids)
//      optional "params": more query parameters for the socket's URL (y-websocket's `params`)
//   {"cmd": "insert", "index": 0, "text": "abc"}          text of a file (`source`)
//   {"cmd": "delete", "index": 0, "length": 3}
//   {"cmd": "cell-insert", "index": 0, "source": "x = 1", "cell_type": "code"}
//   {"cmd": "cell-edit", "cell": 0, "index": 0, "text": "# "}
//   {"cmd": "cell-delete", "index": 0}
//   {"cmd": "send-raw", "hex": "0002..."}                  a frame, as is, on the open socket
//   {"cmd": "disconnect"} / {"cmd": "reconnect"}           y-websocket's own disconnect()/connect()
//   {"cmd": "drop"}                                        the network drops: socket closed, provider reconnects by itself
//   {"cmd": "dump", "id": 1}                               -> {"event": "dump", "id": 1, "content": ..., ...}
//   {"cmd": "relpos", "id": 2, "cell": null|<index>, "index": 6, "assoc": 0|-1}
//       -> {"event": "relpos", "id": 2, "position": <base64 of Y.encodeRelativePosition>}
//   {"cmd": "abspos", "id": 3, "position": <base64>}
//       -> {"event": "abspos", "id": 3, "index": <int or null>, "cell": <cell id or null>}
//   {"cmd": "exit"}
//
// Events: status (connecting/connected/disconnected), synced, close (code, reason), update
// (local or remote), notice (a jupyter-collab notice, type 100), dump, error.
import * as readline from 'node:readline';

import * as decoding from 'lib0/decoding';
import WebSocket from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';

let doc = null;
let provider = null;
let kind = 'file';

function emit(event) {
  process.stdout.write(JSON.stringify(event) + '\n');
}

function content() {
  if (kind === 'notebook') {
    return {
      cells: doc.getArray('cells').toJSON(),
      meta: doc.getMap('meta').toJSON()
    };
  }
  return doc.getText('source').toString();
}

function hex(bytes) {
  return Buffer.from(bytes).toString('hex');
}

function newCell(source, cellType) {
  const cell = new Y.Map();
  cell.set('id', `stock-${Math.random().toString(16).slice(2, 10)}`);
  cell.set('cell_type', cellType);
  cell.set('source', new Y.Text(source));
  cell.set('metadata', new Y.Map());
  if (cellType === 'code') {
    cell.set('outputs', new Y.Array());
    cell.set('execution_count', null);
  }
  return cell;
}

function connectProvider(msg) {
  provider = new WebsocketProvider(msg.url, msg.room, doc, {
    WebSocketPolyfill: WebSocket,
    params: { ...(msg.params ?? {}), ...(msg.token ? { token: msg.token } : {}) },
    disableBc: true,
    maxBackoffTime: msg.maxBackoffTime ?? 500
  });
  // jupyter-collab's notices (message type 100) are only watched, so that the tests can
  // wait for them; y-websocket itself has no handler for them and would log an error.
  provider.messageHandlers[100] = (_encoder, decoder) => {
    let body = null;
    try {
      body = JSON.parse(decoding.readVarString(decoder));
    } catch {
      // not JSON: nothing to report
    }
    emit({ event: 'notice', body });
  };
  provider.on('status', ({ status }) => emit({ event: 'status', status }));
  provider.on('sync', synced => {
    if (synced) {
      emit({ event: 'synced' });
    }
  });
  provider.on('connection-close', ev => {
    emit({ event: 'close', code: ev?.code ?? null, reason: String(ev?.reason ?? '') });
  });
  provider.on('connection-error', () => emit({ event: 'connection-error' }));
}

const commands = {
  connect(msg) {
    kind = msg.kind ?? 'file';
    if (msg.keepDoc && doc !== null) {
      // the same document on another provider: a tab kept open while the server lost the
      // room's history and loaded the file again (the old provider is gone)
      provider?.destroy();
      provider = null;
      connectProvider(msg);
      return;
    }
    doc = new Y.Doc();
    if (msg.clientID != null) {
      doc.clientID = msg.clientID;
    }
    doc.on('update', (update, origin) => {
      emit({
        event: 'update',
        local: origin !== provider,
        update: msg.recordUpdates ? hex(update) : undefined
      });
    });
    connectProvider(msg);
  },
  insert(msg) {
    doc.getText('source').insert(msg.index, msg.text);
  },
  delete(msg) {
    doc.getText('source').delete(msg.index, msg.length);
  },
  'cell-insert'(msg) {
    doc.getArray('cells').insert(msg.index, [newCell(msg.source ?? '', msg.cell_type ?? 'code')]);
  },
  'cell-edit'(msg) {
    const cell = doc.getArray('cells').get(msg.cell);
    cell.get('source').insert(msg.index, msg.text);
  },
  'cell-delete'(msg) {
    doc.getArray('cells').delete(msg.index, 1);
  },
  'send-raw'(msg) {
    provider.ws.send(Buffer.from(msg.hex, 'hex'));
  },
  disconnect() {
    provider.disconnect();
  },
  reconnect() {
    provider.connect();
  },
  drop() {
    // What a dropped network does to the socket; y-websocket reconnects by itself.
    provider.ws?.terminate?.();
  },
  dump(msg) {
    emit({
      event: 'dump',
      id: msg.id ?? null,
      content: content(),
      clientID: doc.clientID,
      stateVector: hex(Y.encodeStateVector(doc)),
      synced: provider.synced,
      connected: provider.wsconnected
    });
  },
  relpos(msg) {
    // A comment anchor as any Yjs editor makes it (docs/comments-api.md): a relative
    // position in the file's text or a cell's source, encoded as Yjs encodes it.
    const text =
      msg.cell === null || msg.cell === undefined
        ? doc.getText('source')
        : doc.getArray('cells').get(msg.cell).get('source');
    const position = Y.createRelativePositionFromTypeIndex(text, msg.index, msg.assoc ?? 0);
    emit({
      event: 'relpos',
      id: msg.id ?? null,
      position: Buffer.from(Y.encodeRelativePosition(position)).toString('base64')
    });
  },
  abspos(msg) {
    // Where an encoded relative position (an anchor the server sent) is in this document.
    const position = Y.decodeRelativePosition(Buffer.from(msg.position, 'base64'));
    const found = Y.createAbsolutePositionFromRelativePosition(position, doc);
    let cell = null;
    if (found && kind === 'notebook') {
      for (const item of doc.getArray('cells')) {
        if (item.get('source') === found.type) {
          cell = item.get('id');
        }
      }
    }
    emit({ event: 'abspos', id: msg.id ?? null, index: found ? found.index : null, cell });
  },
  exit() {
    provider?.destroy();
    process.exit(0);
  }
};

const lines = readline.createInterface({ input: process.stdin });
lines.on('line', line => {
  if (!line.trim()) {
    return;
  }
  let msg;
  try {
    msg = JSON.parse(line);
    const command = commands[msg.cmd];
    if (!command) {
      throw new Error(`unknown command ${msg.cmd}`);
    }
    command(msg);
  } catch (err) {
    emit({ event: 'error', cmd: msg?.cmd ?? null, message: String(err?.stack ?? err) });
  }
});
lines.on('close', () => {
  provider?.destroy();
  process.exit(0);
});
