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

async function connected(role = 'editor', clientID?: number) {
  const doc = new Y.Doc();
  if (clientID !== undefined) {
    doc.clientID = clientID;
  }
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
    // (Yjs lets the higher client id win concurrent writes: ours shows here)
    const { doc, server, socket, conn } = await connected('editor', 2000);
    const refused: string[] = [];
    conn.refused.connect((_, r) => refused.push(r.kind));
    doc.getMap('meta').set('k', 'old');
    serverHandle(server, socket.sent);
    socket.receive(encodeNotice({ type: 'role', role: 'viewer' }));
    doc.getMap('meta').set('k', 'mine, read-only');
    // the room changes k after that
    const other = new Y.Doc();
    other.clientID = 1000;
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

  it('viewer -> editor: what the room wrote while this page could only view is kept (only our changes are undone)', async () => {
    // Regression: the undo tracked the room's changes too (Y.UndoManager asks
    // about the origin's class as well), so a promotion deleted what others
    // had typed meanwhile, and sent the deletion to the room.
    const { doc, server, socket, conn } = await connected('editor');
    const discarded: number[] = [];
    conn.changesDiscarded.connect((_, n) => discarded.push(n));
    doc.getText('source').insert(0, 'A');
    serverHandle(server, socket.sent);
    socket.receive(encodeNotice({ type: 'role', role: 'viewer' }));
    const other = new Y.Doc();
    Y.applyUpdate(other, Y.encodeStateAsUpdate(server));
    const remote: Uint8Array[] = [];
    other.on('update', (u: Uint8Array) => remote.push(u));
    other.getText('source').insert(1, 'B');
    other.getMap('meta').set('k', 'theirs');
    for (const update of remote) {
      Y.applyUpdate(server, update);
      const e = encoding.createEncoder();
      encoding.writeVarUint(e, 0);
      syncProtocol.writeUpdate(e, update);
      socket.receive(encoding.toUint8Array(e));
    }
    socket.sent = [];
    socket.receive(encodeNotice({ type: 'role', role: 'editor' }));
    expect(conn.writable).toBe(true);
    expect(discarded).toEqual([]);
    serverHandle(server, socket.sent);
    for (const d of [doc, server]) {
      expect(d.getText('source').toString()).toBe('AB');
      expect(d.getMap('meta').get('k')).toBe('theirs');
    }
  });

  it('a map entry changed on both sides where the room\'s value shows: undoing ours keeps theirs, no reopening', async () => {
    // (JupyterLab writes some entries by itself on every page, kernel metadata
    // for example: when the room's write is the one that shows, undoing ours
    // cannot take it away)
    const { doc, server, socket, conn } = await connected('editor', 1000);
    const refused: string[] = [];
    conn.refused.connect((_, r) => refused.push(r.kind));
    doc.getMap('meta').set('k', 'old');
    doc.getMap('meta').set('other', 'kept');
    serverHandle(server, socket.sent);
    socket.receive(encodeNotice({ type: 'role', role: 'viewer' }));
    doc.getMap('meta').set('k', 'mine, read-only');
    doc.getMap('meta').set('other', 'mine too, read-only');
    const other = new Y.Doc();
    other.clientID = 2000;
    Y.applyUpdate(other, Y.encodeStateAsUpdate(server));
    const remote: Uint8Array[] = [];
    other.on('update', (u: Uint8Array) => remote.push(u));
    other.getMap('meta').set('k', 'theirs');
    for (const update of remote) {
      Y.applyUpdate(server, update);
      const e = encoding.createEncoder();
      encoding.writeVarUint(e, 0);
      syncProtocol.writeUpdate(e, update);
      socket.receive(encoding.toUint8Array(e));
    }
    expect(doc.getMap('meta').get('k')).toBe('theirs');
    socket.sent = [];
    socket.receive(encodeNotice({ type: 'role', role: 'editor' }));
    expect(refused).toEqual([]);
    expect(conn.writable).toBe(true);
    serverHandle(server, socket.sent);
    for (const d of [doc, server]) {
      expect(d.getMap('meta').get('k')).toBe('theirs');
      expect(d.getMap('meta').get('other')).toBe('kept');
    }
  });

  it('viewer -> editor while the room edited and saved meanwhile: the dirty flag changed on both sides is no conflict', async () => {
    // Regression (sharing_e2e on main): a viewer's page resets its own dirty
    // flag (readonly.ts), and the room changes that flag too (another
    // editor's JupyterLab sets it, the server clears it after a save). The
    // state map is never undone, so it cannot conflict: the promoted viewer
    // becomes an editor live, and later notices still arrive.
    const { doc, server, socket, conn } = await connected('editor');
    const refused: string[] = [];
    conn.refused.connect((_, r) => refused.push(r.kind));
    const notices: string[] = [];
    conn.noticeReceived.connect((_, n) => notices.push(n.type));
    doc.getText('source').insert(0, 'A');
    doc.getMap('state').set('dirty', true);
    serverHandle(server, socket.sent);
    socket.receive(encodeNotice({ type: 'role', role: 'viewer' }));
    // JupyterLab on the viewer's page: the model is kept clean
    doc.getMap('state').set('dirty', false);
    // the room: another editor types (their page marks the document dirty),
    // then the server saves and clears the flag
    const other = new Y.Doc();
    Y.applyUpdate(other, Y.encodeStateAsUpdate(server));
    const remote: Uint8Array[] = [];
    other.on('update', (u: Uint8Array) => remote.push(u));
    other.getText('source').insert(1, 'B');
    other.getMap('state').set('dirty', true);
    other.getMap('state').set('dirty', false);
    for (const update of remote) {
      Y.applyUpdate(server, update);
      const e = encoding.createEncoder();
      encoding.writeVarUint(e, 0);
      syncProtocol.writeUpdate(e, update);
      socket.receive(encoding.toUint8Array(e));
    }
    expect(doc.getText('source').toString()).toBe('AB');
    socket.sent = [];
    socket.receive(encodeNotice({ type: 'role', role: 'editor' }));
    expect(refused).toEqual([]);
    expect(conn.writable).toBe(true);
    expect(conn.state.status).toBe('connected');
    // what the room wrote meanwhile is kept (the undo takes back only ours)
    expect(doc.getText('source').toString()).toBe('AB');
    doc.getText('source').insert(2, 'C');
    serverHandle(server, socket.sent);
    expect(server.getText('source').toString()).toBe('ABC');
    expect(doc.getText('source').toString()).toBe('ABC');
    // the room's later notices still reach this page
    socket.receive(encodeNotice({ type: 'saved', path: 'a.txt' }));
    expect(notices).toContain('saved');
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
