import { readFile, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';

/**
 * A slow link in front of a loopback onion: re-points its registry entry at a relay that holds
 * every chunk `delayMs` in each direction, and opens the upstream connection only when the
 * dialler's first bytes arrive (as a Tor stream reaches a service together with its data).
 * Returns the real listener's address so a test can also reach it directly (an attacker next
 * to the service).
 */
export async function slowLink(
  registryDir: string,
  onion: string,
  port: number,
  delayMs: number,
): Promise<{ direct: { host: string; port: number }; close: () => Promise<void> }> {
  const entryPath = join(registryDir, `${onion}-${port}.json`);
  const entry = JSON.parse(await readFile(entryPath, 'utf8')) as { host: string; port: number; pid: number };
  const later = (fn: () => void): void => void setTimeout(fn, delayMs);
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    let upstream: Socket | undefined;
    const close = (): void => {
      client.destroy();
      upstream?.destroy();
    };
    client.on('data', (chunk: Buffer) =>
      later(() => {
        if (client.destroyed) return;
        if (upstream === undefined) {
          const up = createConnection({ host: entry.host, port: entry.port });
          upstream = up;
          sockets.add(up);
          up.on('data', (back: Buffer) => later(() => client.destroyed || client.write(back)));
          up.on('close', () => later(close));
          up.on('error', close);
        }
        upstream.write(chunk);
      }),
    );
    client.on('close', () => later(close));
    client.on('error', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('slow link has no address');
  await writeFile(entryPath, JSON.stringify({ ...entry, port: address.port }));
  return {
    direct: { host: entry.host, port: entry.port },
    close: async () => {
      await writeFile(entryPath, JSON.stringify(entry));
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
