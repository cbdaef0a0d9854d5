import * as decoding from 'lib0/decoding';
import { describe, expect, it } from 'vitest';

import {
  CloseCode,
  MessageType,
  backoffDelay,
  canWrite,
  closePolicy,
  encodeNotice,
  parseNotice,
  readNotice
} from '../protocol';

describe('parseNotice', () => {
  it('parses every notice of docs/protocol.md', () => {
    expect(parseNotice('{"type":"role","role":"viewer"}')).toEqual({
      type: 'role',
      role: 'viewer'
    });
    expect(
      parseNotice(
        '{"type":"saved","path":"a.ipynb","lastModified":"2026-01-01T00:00:00Z"}'
      )
    ).toEqual({
      type: 'saved',
      path: 'a.ipynb',
      lastModified: '2026-01-01T00:00:00Z'
    });
    expect(parseNotice('{"type":"save-error","message":"disk full"}')).toEqual({
      type: 'save-error',
      message: 'disk full'
    });
    expect(parseNotice('{"type":"disk-merged","path":"a.txt"}')).toEqual({
      type: 'disk-merged',
      path: 'a.txt'
    });
    expect(parseNotice('{"type":"renamed","path":"b.txt"}')).toEqual({
      type: 'renamed',
      path: 'b.txt'
    });
    expect(parseNotice('{"type":"refused","reason":"viewer"}')).toEqual({
      type: 'refused',
      reason: 'viewer'
    });
  });

  it('never throws on unexpected input', () => {
    expect(parseNotice('not json').type).toBe('unknown');
    expect(parseNotice('42').type).toBe('unknown');
    expect(parseNotice('null').type).toBe('unknown');
    expect(parseNotice('{"no":"type"}').type).toBe('unknown');
    expect(parseNotice('{"type":"future-thing","x":1}')).toEqual({
      type: 'unknown',
      raw: { type: 'future-thing', x: 1 }
    });
    // required fields missing
    expect(parseNotice('{"type":"role"}').type).toBe('unknown');
    expect(parseNotice('{"type":"renamed"}').type).toBe('unknown');
    // wrong field types are dropped
    expect(parseNotice('{"type":"saved","path":3}')).toEqual({
      type: 'saved',
      path: undefined,
      lastModified: undefined
    });
  });

  it('round-trips through a type 100 frame', () => {
    const frame = encodeNotice({ type: 'saved', path: 'x.txt' });
    const decoder = decoding.createDecoder(frame);
    expect(decoding.readVarUint(decoder)).toBe(MessageType.Notice);
    expect(readNotice(decoder)).toEqual({
      type: 'saved',
      path: 'x.txt',
      lastModified: undefined
    });
  });

  it('reads a truncated frame as unknown', () => {
    const decoder = decoding.createDecoder(new Uint8Array([100]));
    decoding.readVarUint(decoder);
    expect(readNotice(decoder).type).toBe('unknown');
  });
});

describe('closePolicy', () => {
  it('does not reconnect when the server refuses the document', () => {
    for (const code of [
      CloseCode.Malformed,
      CloseCode.Forbidden,
      CloseCode.Deleted,
      CloseCode.TooLarge,
      CloseCode.Unloadable
    ]) {
      expect(closePolicy(code).reconnect).toBe(false);
    }
    expect(closePolicy(4403).kind).toBe('forbidden');
    expect(closePolicy(4410).kind).toBe('deleted');
    expect(closePolicy(4413).kind).toBe('too-large');
    expect(closePolicy(1009)).toMatchObject({ kind: 'too-large', reconnect: false });
    expect(closePolicy(4415).kind).toBe('unloadable');
    expect(closePolicy(4400).kind).toBe('malformed');
  });

  it('reconnects after shutdown, slowness, internal and network errors', () => {
    expect(closePolicy(1001)).toMatchObject({
      kind: 'shutdown',
      reconnect: true,
      renewSession: true
    });
    expect(closePolicy(4429)).toMatchObject({
      kind: 'too-slow',
      reconnect: true
    });
    expect(closePolicy(4500)).toMatchObject({
      kind: 'internal',
      reconnect: true
    });
    expect(closePolicy(1006)).toMatchObject({
      kind: 'network',
      reconnect: true
    });
    expect(closePolicy(1000).reconnect).toBe(true);
    expect(closePolicy(1001).minDelay).toBeGreaterThan(0);
  });

  it('asks for the session again once when the room is unknown', () => {
    expect(closePolicy(4404, 0)).toMatchObject({
      kind: 'unknown-room',
      reconnect: true,
      renewSession: true
    });
    expect(closePolicy(4404, 1).reconnect).toBe(false);
  });
});

describe('backoffDelay', () => {
  it('grows exponentially, with jitter, up to 30 s', () => {
    expect(backoffDelay(0, 0, 0)).toBe(250);
    expect(backoffDelay(0, 0, 0.999)).toBeLessThanOrEqual(500);
    expect(backoffDelay(3, 0, 0)).toBe(2000);
    expect(backoffDelay(20, 0, 0.999)).toBeLessThanOrEqual(30000);
    expect(backoffDelay(20, 0, 0)).toBe(15000);
  });

  it('respects the minimum delay', () => {
    expect(backoffDelay(0, 2000, 0)).toBe(2000);
  });
});

describe('canWrite', () => {
  it('viewers, commenters and users without access may not write', () => {
    expect(canWrite('viewer')).toBe(false);
    expect(canWrite('none')).toBe(false);
    expect(canWrite('commenter')).toBe(false); // comments only: read-only in the document
    expect(canWrite('editor')).toBe(true);
    expect(canWrite('owner')).toBe(true);
    expect(canWrite(null)).toBe(true);
  });
});
