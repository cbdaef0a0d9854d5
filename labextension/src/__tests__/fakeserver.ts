import { ServerConnection } from '@jupyterlab/services';

/** A request the fake server received. */
export interface IRequest {
  url: string;
  method: string;
  body: any;
}

/** What the fake server answers: a status and a JSON body (or raw text, e.g. HTML). */
export interface IReply {
  status?: number;
  body?: unknown;
  text?: string;
  json?: boolean;
}

/**
 * Server settings whose fetch answers every request with `reply(request)`, recording them:
 * the REST clients are tested against it without a server.
 */
export function fakeServer(reply: (req: IRequest) => IReply): {
  settings: ServerConnection.ISettings;
  requests: IRequest[];
} {
  const requests: IRequest[] = [];
  const fetch = async (input: any, init?: any): Promise<Response> => {
    const url = typeof input === 'string' ? input : input.url;
    const method = init?.method ?? (typeof input === 'string' ? 'GET' : input.method);
    const raw = init?.body ?? (typeof input === 'string' ? undefined : await input.text());
    const req = { url, method, body: raw ? JSON.parse(raw) : null };
    requests.push(req);
    const r = reply(req);
    const text = r.text ?? JSON.stringify(r.body ?? {});
    return new Response(text, {
      status: r.status ?? 200,
      headers: { 'Content-Type': r.json === false ? 'text/html' : 'application/json' }
    });
  };
  const settings = ServerConnection.makeSettings({
    baseUrl: 'http://server/base/',
    wsUrl: 'ws://server/base/',
    token: 'tok',
    fetch: fetch as any
  });
  return { settings, requests };
}
