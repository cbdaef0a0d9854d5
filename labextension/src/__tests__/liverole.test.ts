/**
 * A role that changes while a room is open: viewer -> editor sends what was
 * written while read-only, so that the server can apply the next edits.
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { describe, expect, it } from 'vitest';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';

import { ISessionModel, encodeNotice } from '../protocol';
import { RoomConnection } from '../roomconnection';
import { FakeSocket } from './fakesocket';

const SESSION: ISessionModel = {
  room: 'text:file:abc',
  fileId: 'abc',
  path: 'a.txt',
  format: 'text',
  type: 'file',
  role: 'editor'
};

async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await Promise.resolve();
  }
}

/** Apply the client's sync frames to `doc` (as a y-websocket server). */
function serverHandle(doc: Y.Doc, frames: Uint8Array[]): Uint8Array[] {
  const answers: Uint8Array[] = [];
  for (const frame of frames) {
    const d = decoding.createDecoder(frame);
    if (decoding.readVarUint(d) !== 0) {
      continue;
    }
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, 0);
    syncProtocol.readSyncMessage(d, e, doc, 'client');
    if (encoding.length(e) > 1) {
      answers.push(encoding.toUint8Array(e));
    }
  }
  return answers;
}

async function connected(role = 'editor') {
  const doc = new Y.Doc();
  const server = new Y.Doc();
  const sockets: FakeSocket[] = [];
  const conn = new RoomConnection({
    doc,
    awareness: new awarenessProtocol.Awareness(doc),
    openSession: async () => ({ ...SESSION, role }),
    roomUrl: () => 'ws://test/room',
    createSocket: url => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
    random: () => 0
  });
  await flush();
  const socket = sockets[0];
  socket.open();
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, 0);
  syncProtocol.writeSyncStep1(e, server);
  socket.receive(encoding.toUint8Array(e));
  for (const answer of serverHandle(server, socket.sent)) {
    socket.receive(answer);
  }
  await conn.synced;
  return { doc, server, socket, conn };
}

describe('a role changed while the room is open', () => {
  it('viewer -> editor: the changes made while read-only reach the server, then the next edit applies', async () => {
    const { doc, server, socket, conn } = await connected('editor');
    doc.getText('source').insert(0, 'A');
    serverHandle(server, socket.sent);
    socket.receive(encodeNotice({ type: 'role', role: 'viewer' }));
    expect(conn.writable).toBe(false);
    socket.sent = [];
    // an automatic change while read-only: not sent
    doc.getText('source').insert(1, 'B');
    expect(socket.sentTypes()).toEqual([]);
    socket.receive(encodeNotice({ type: 'role', role: 'editor' }));
    expect(conn.writable).toBe(true);
    doc.getText('source').insert(2, 'C');
    serverHandle(server, socket.sent);
    expect(server.getText('source').toString()).toBe('ABC');
  });

  it('editor -> viewer -> editor with nothing written: nothing extra is sent', async () => {
    const { socket, conn } = await connected('editor');
    socket.receive(encodeNotice({ type: 'role', role: 'viewer' }));
    socket.sent = [];
    socket.receive(encodeNotice({ type: 'role', role: 'editor' }));
    expect(socket.sentTypes()).toEqual([]);
    expect(conn.role).toBe('editor');
  });

  it('an owner writes; the roles are announced in order', async () => {
    const { socket, conn } = await connected('viewer');
    const roles: string[] = [];
    conn.roleChanged.connect((_, r) => roles.push(r));
    socket.receive(encodeNotice({ type: 'role', role: 'owner' }));
    socket.receive(encodeNotice({ type: 'role', role: 'viewer' }));
    expect(roles).toEqual(['owner', 'viewer']);
    expect(conn.writable).toBe(false);
  });
});
