import { createServer, createConnection, type Socket } from 'node:net';
import type { OnionName } from '@pursuance/crypto';
import type { ACN } from '@pursuance/tapir';

/**
 * An ACN whose outbound streams cross a 127.0.0.1 relay that holds every chunk `oneWayMs` in
 * each direction: a fixed round trip like a Tor circuit's, for benchmarks (bytes, ordering and
 * sockets stay real; only the latency is added). Inbound streams are passed through unchanged.
 */
export function delayedACN(inner: ACN, oneWayMs: number): ACN {
  return {
    kind: inner.kind,
    listen: (identity, port, onConnection) => inner.listen(identity, port, onConnection),
    bootstrapStatus: () => inner.bootstrapStatus(),
    close: () => inner.close(),
    async open(onion: OnionName, port: number, options) {
      const upstream = await inner.open(onion, port, options);
      const local = await socketPair();
      relay(local.far, upstream, oneWayMs);
      relay(upstream, local.far, oneWayMs);
      return local.near;
    },
  };
}

/** Two ends of one loopback TCP connection. */
async function socketPair(): Promise<{ near: Socket; far: Socket }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  const near = createConnection({ host: '127.0.0.1', port: (server.address() as { port: number }).port, noDelay: true });
  const far = await accepted;
  far.setNoDelay(true);
  server.close();
  return { near, far };
}

/** Copy `from` → `to`, each chunk after `ms` (same-delay timers fire in order, so bytes stay in order). */
function relay(from: Socket, to: Socket, ms: number): void {
  from.on('data', (chunk: Buffer) => setTimeout(() => to.destroyed || to.write(chunk), ms));
  from.on('error', () => undefined);
  from.once('close', () => setTimeout(() => to.destroy(), ms));
}
