import { request } from 'node:http';

/** A node process's live stream of `changed` server-sent events, counted. */
export interface ChangeStream {
  /** How many `changed` events arrived so far. */
  readonly count: () => number;
  /** Resolves once more than `seen` events arrived (no polling: on the stream's own data). */
  readonly after: (seen: number) => Promise<void>;
  readonly close: () => void;
}

/** Open the node's /api/stream with its token and count the `changed` events it sends. */
export function watchChanges(port: number, token: string): ChangeStream {
  let count = 0;
  let waiters: { seen: number; resolve: () => void }[] = [];
  const req = request(
    { host: '127.0.0.1', port, path: `/api/stream?token=${token}`, headers: { host: `127.0.0.1:${port}`, accept: 'text/event-stream' } },
    (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const events = chunk.split('\n\n').filter((b) => /^event: changed$/m.test(b)).length;
        if (events === 0) return;
        count += events;
        const ready = waiters.filter((w) => count > w.seen);
        waiters = waiters.filter((w) => count <= w.seen);
        for (const w of ready) w.resolve();
      });
    },
  );
  req.on('error', () => undefined);
  req.end();
  return {
    count: () => count,
    after: (seen) => (count > seen ? Promise.resolve() : new Promise((resolve) => waiters.push({ seen, resolve }))),
    close: () => req.destroy(),
  };
}

/**
 * Wait until an API read holds on a node process: re-checked after each change its stream
 * reports, and every `recheckMs` for what reports no change (sync counters), up to `timeoutMs`.
 */
export async function untilStream(
  stream: Pick<ChangeStream, 'count' | 'after'>,
  check: () => Promise<boolean>,
  what: string,
  recheckMs = 1_000,
  timeoutMs = 120_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seen = stream.count();
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([stream.after(seen), new Promise((resolve) => (timer = setTimeout(resolve, recheckMs)))]);
    clearTimeout(timer);
  }
}
