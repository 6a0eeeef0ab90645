import { readFile, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';

/**
 * A man-in-the-middle on loopback: re-points an onion's registry entry at itself and relays
 * bytes to the real listener, letting a test record or alter the client→server stream.
 */
export async function interpose(
  registryDir: string,
  onion: string,
  port: number,
  rewrite: (chunk: Buffer, offset: number) => Buffer = (c) => c,
): Promise<{ recorded: () => Buffer; close: () => Promise<void> }> {
  const entryPath = join(registryDir, `${onion}-${port}.json`);
  const entry = JSON.parse(await readFile(entryPath, 'utf8')) as { host: string; port: number; pid: number };
  const chunks: Buffer[] = [];
  let offset = 0;
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: entry.host, port: entry.port });
    client.on('data', (chunk: Buffer) => {
      const out = rewrite(chunk, offset);
      offset += chunk.length;
      chunks.push(Buffer.from(chunk));
      upstream.write(out);
    });
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no address');
  await writeFile(entryPath, JSON.stringify({ ...entry, port: address.port }));
  return {
    recorded: () => Buffer.concat(chunks),
    close: async () => {
      await writeFile(entryPath, JSON.stringify(entry));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Flip one byte at absolute stream offset `at` (if it passes through this chunk). */
export function flipByteAt(at: number) {
  return (chunk: Buffer, offset: number): Buffer => {
    if (at < offset || at >= offset + chunk.length) return chunk;
    const copy = Buffer.from(chunk);
    copy[at - offset] = copy[at - offset]! ^ 0x01;
    return copy;
  };
}
