import { createConnection, createServer } from 'node:net';

/** Small timing helpers for benchmarks: figures are printed, never asserted. */
export interface Rate {
  readonly label: string;
  readonly ops: number;
  readonly seconds: number;
  readonly perSecond: number;
}

/** Run `fn` repeatedly for about `seconds` (after a short warm-up) and report operations per second. */
export function rateOf(label: string, fn: () => void, seconds = 1.5): Rate {
  const warmUntil = performance.now() + 200;
  while (performance.now() < warmUntil) fn();
  let ops = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 16; i++) fn();
    ops += 16;
  }
  const elapsed = (performance.now() - start) / 1000;
  return { label, ops, seconds: elapsed, perSecond: ops / elapsed };
}

export async function timeAsync<T>(fn: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const start = performance.now();
  const value = await fn();
  return { value, seconds: (performance.now() - start) / 1000 };
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function printTable(title: string, rows: [string, string][]): void {
  const width = Math.max(...rows.map(([k]) => k.length));
  process.stdout.write(`\n${title}\n${'-'.repeat(title.length)}\n`);
  for (const [k, v] of rows) process.stdout.write(`${k.padEnd(width)}  ${v}\n`);
}

/** Baseline: raw TCP loopback throughput (MB/s) for `bytes` sent in `chunkSize` writes. */
export async function rawTcpThroughput(bytes: number, chunkSize = 8192): Promise<number> {
  let received = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const server = createServer((socket) =>
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received >= bytes) done();
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const socket = createConnection({ host: '127.0.0.1', port: (server.address() as { port: number }).port, noDelay: true });
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  const chunk = Buffer.alloc(chunkSize, 7);
  const { seconds } = await timeAsync(async () => {
    for (let sent = 0; sent < bytes; sent += chunkSize) {
      if (!socket.write(chunk)) await new Promise((r) => socket.once('drain', r));
    }
    await finished;
  });
  socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return bytes / seconds / 1e6;
}
