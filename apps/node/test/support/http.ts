import { request } from 'node:http';

export interface HttpResult {
  readonly status: number;
  readonly body: unknown;
  readonly text: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** performance.now() when the whole response had arrived, before the client parsed it (benchmarks time the server, not the parse). */
  readonly receivedAt: number;
}

/** A raw HTTP request (node:http, so tests control Host and Origin exactly). */
export function http(
  port: number,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        headers: {
          host: `127.0.0.1:${port}`,
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
          ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
          ...options.headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          const receivedAt = performance.now();
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // not JSON
          }
          resolve({ status: res.statusCode ?? 0, body, text, headers: res.headers, receivedAt });
        });
      },
    );
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}

/** Open the SSE stream and resolve with the first event of `type` whose data satisfies `match`. */
export function nextSse(
  port: number,
  token: string,
  type: string,
  match: (data: Record<string, unknown>) => boolean,
): { ready: Promise<void>; event: Promise<Record<string, unknown>>; close(): void } {
  let close = (): void => undefined;
  let markReady!: () => void;
  const ready = new Promise<void>((r) => (markReady = r));
  const event = new Promise<Record<string, unknown>>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: `/api/stream?token=${token}`, headers: { host: `127.0.0.1:${port}`, accept: 'text/event-stream' } },
      (res) => {
        markReady();
        let buffer = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          buffer += d;
          for (let i = buffer.indexOf('\n\n'); i >= 0; i = buffer.indexOf('\n\n')) {
            const block = buffer.slice(0, i);
            buffer = buffer.slice(i + 2);
            const t = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (t === type && data) {
              const parsed = JSON.parse(data) as Record<string, unknown>;
              if (match(parsed)) {
                resolve(parsed);
                req.destroy();
              }
            }
          }
        });
      },
    );
    req.on('error', (err) => reject(err));
    close = () => req.destroy();
    req.end();
  });
  event.catch(() => undefined);
  return { ready, event, close: () => close() };
}
