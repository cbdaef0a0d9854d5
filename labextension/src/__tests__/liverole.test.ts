/**
 * A role that changes while a room is open. A refused edit is never applied
 * later (the server's rule): content changed while read-only is undone on
 * promotion (never shared); JupyterLab's own bookkeeping (the dirty flag in
 * the `state` map) is sent, so that the next edits apply; an edit the server
 * refused makes this copy stop and ask to be reopened.
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
  // the shared types exist before the connection, as @jupyter/ydoc creates them
  doc.getText('source');
  doc.getMap('meta');
  doc.getMap('state');
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
  it('viewer -> editor: content changed while read-only is undone, never shared, and the next edit applies', async () => {
    // The server's rule (issue 8): an edit it refused, or never received
    // because we could only view, is never applied later.
    const { doc, server, socket, conn } = await connected('editor');
    const discarded: number[] = [];
    conn.changesDiscarded.connect((_, n) => discarded.push(n));
    doc.getText('source').insert(0, 'A');
    doc.getMap('meta').set('k', 'old');
    serverHandle(server, socket.sent);
    socket.receive(encodeNotice({ type: 'role', role: 'viewer' }));
    expect(conn.writable).toBe(false);
    socket.sent = [];
    // changes while read-only (automatic ones: the UI blocks typing)
    doc.getText('source').insert(1, 'B');
    doc.getMap('meta').set('k', 'changed while read-only');
    doc.getText('source').delete(0, 1);
    expect(socket.sentTypes()).toEqual([]);
    socket.receive(encodeNotice({ type: 'role', role: 'editor' }));
    expect(conn.writable).toBe(true);
    expect(conn.state.status).toBe('connected');
    expect(discarded).toEqual([3]);
    // this copy is the room's again
    expect(doc.getText('source').toString()).toBe('A');
    expect(doc.getMap('meta').get('k')).toBe('old');
    doc.getText('source').insert(1, 'C');
    serverHandle(server, socket.sent);
    expect(server.getText('source').toString()).toBe('AC');
    expect(server.getMap('meta').get('k')).toBe('old');
    expect(doc.getText('source').toString()).toBe('AC');
  });

  it('a map entry changed here while read-only and by the room meanwhile: this copy stops, theirs stays', async () => {
    const { doc, server, socket, conn } = await connected('editor');
    const refused: string[] = [];
    conn.refused.connect((_, r) => refused.push(r.kind));
    doc.getMap('meta').set('k', 'old');
    serverHandle(server, socket.sent);
    socket.receive(encodeNotice({ type: 'role', role: 'viewer' }));
    doc.getMap('meta').set('k', 'mine, read-only');
    // the room changes k after that
    const other = new Y.Doc();
    Y.applyUpdate(other, Y.encodeStateAsUpdate(server));
    let remote: Uint8Array | null = null;
    other.on('update', (u: Uint8Array) => (remote = u));
    other.getMap('meta').set('k', 'theirs');
    Y.applyUpdate(server, remote!);
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, 0);
    syncProtocol.writeUpdate(e, remote!);
    socket.receive(encoding.toUint8Array(e));
    socket.sent = [];
    socket.receive(encodeNotice({ type: 'role', role: 'editor' }));
    // undoing ours could take theirs away: nothing is sent, the user reopens
    expect(refused).toEqual(['diverged']);
    expect(socket.sentTypes()).toEqual([]);
    expect(server.getMap('meta').get('k')).toBe('theirs');
  });

  it('viewer -> editor: JupyterLab bookkeeping (the state map) made while read-only is sent, and the next edit applies', async () => {
    const { doc, server, socket, conn } = await connected('editor');
    doc.getText('source').insert(0, 'A');
    serverHandle(server, socket.sent);
    socket.receive(encodeNotice({ type: 'role', role: 'viewer' }));
    socket.sent = [];
    doc.getMap('state').set('dirty', false);
    expect(socket.sentTypes()).toEqual([]);
    socket.receive(encodeNotice({ type: 'role', role: 'editor' }));
    expect(conn.writable).toBe(true);
    expect(conn.state.status).toBe('connected');
    doc.getText('source').insert(1, 'C');
    serverHandle(server, socket.sent);
    expect(server.getText('source').toString()).toBe('AC');
  });

  it('an edit refused by the server (sent just before a demotion) makes the next promotion stop', async () => {
    const { doc, socket, conn } = await connected('editor');
    const refused: string[] = [];
    conn.refused.connect((_, r) => refused.push(r.kind));
    doc.getText('source').insert(0, 'X');
    socket.receive(
      encodeNotice({ type: 'refused', what: 'edit', reason: 'read-only: you may not edit' })
    );
    socket.receive(encodeNotice({ type: 'role', role: 'viewer' }));
    // a refused save is not a refused edit
    socket.receive(
      encodeNotice({ type: 'refused', what: 'save', reason: 'read-only: you may not save' })
    );
    socket.receive(encodeNotice({ type: 'role', role: 'editor' }));
    expect(refused).toEqual(['diverged']);
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
