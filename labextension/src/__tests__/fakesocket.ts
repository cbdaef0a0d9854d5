/**
 * A fake WebSocket for the unit tests: the test plays the server.
 * (Shared by the room connection and content provider tests.)
 */
import * as decoding from 'lib0/decoding';

import { IWebSocketLike } from '../roomconnection';

export class FakeSocket implements IWebSocketLike {
  constructor(readonly url: string) {}
  binaryType = 'blob';
  readyState = 0;
  onopen: ((ev: any) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: any) => void) | null = null;
  onmessage: ((ev: { data: any }) => void) | null = null;
  /** Frames the client sent. */
  sent: Uint8Array[] = [];
  /** How the client closed the socket, if it did. */
  closed: { code?: number; reason?: string } | null = null;

  send(data: Uint8Array): void {
    this.sent.push(data);
  }
  close(code?: number, reason?: string): void {
    this.closed = { code, reason };
    this.readyState = 3;
  }

  // server side
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  receive(data: Uint8Array): void {
    // deliver as an ArrayBuffer, as browsers do with binaryType arraybuffer
    this.onmessage?.({ data: data.slice().buffer });
  }
  serverClose(code: number, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  /** Types of the frames the client sent ('sync0', 'awareness', '100'...). */
  sentTypes(): string[] {
    return this.sent.map(frame => {
      const d = decoding.createDecoder(frame);
      const t = decoding.readVarUint(d);
      if (t === 0) {
        return `sync${decoding.readVarUint(d)}`;
      }
      return t === 1 ? 'awareness' : String(t);
    });
  }
}

/**
 * A FakeSocket class that records every instance in `sockets`: for code
 * that calls `new WebSocket(url)` itself (ServerConnection settings).
 */
export function recordingSocketClass(
  sockets: FakeSocket[]
): new (url: string) => FakeSocket {
  return class RecordingSocket extends FakeSocket {
    constructor(url: string) {
      super(url);
      sockets.push(this);
    }
  };
}
