import { readFile, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { PACKET_SIZE } from '../../src/index.js';

export type Direction = 'to-service' | 'to-dialler';

/**
 * What the man in the middle does with packet `index` (counted from 0 in each direction):
 * `forward` is what goes on to the receiver (the packet itself, nothing, copies, or packets held
 * from before), `reflect` sends it back to its sender as well.
 */
export type PacketRule = (direction: Direction, index: number, packet: Buffer) => { forward: Buffer[]; reflect?: boolean };

/**
 * A packet-aware man in the middle on loopback: re-points an onion's registry entry at itself,
 * cuts both directions into 8192-byte packets and lets a rule replay, hold back, reorder or
 * reflect them. It sees only ciphertext after the handshake, as a hostile network would.
 */
export async function packetProxy(registryDir: string, onion: string, port: number, rule: PacketRule): Promise<{ close: () => Promise<void> }> {
  const entryPath = join(registryDir, `${onion}-${port}.json`);
  const entry = JSON.parse(await readFile(entryPath, 'utf8')) as { host: string; port: number; pid: number };
  const server: Server = createServer((dialler) => {
    const service = createConnection({ host: entry.host, port: entry.port });
    const pipe = (from: Socket, to: Socket, direction: Direction): void => {
      let pending = Buffer.alloc(0);
      let index = 0;
      from.on('data', (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= PACKET_SIZE) {
          const packet = Buffer.from(pending.subarray(0, PACKET_SIZE));
          pending = pending.subarray(PACKET_SIZE);
          const { forward, reflect } = rule(direction, index++, packet);
          for (const out of forward) to.write(out);
          if (reflect === true) from.write(packet);
        }
      });
    };
    pipe(dialler, service, 'to-service');
    pipe(service, dialler, 'to-dialler');
    for (const [a, b] of [
      [dialler, service],
      [service, dialler],
    ] as const) {
      a.on('close', () => b.destroy());
      a.on('error', () => b.destroy());
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no address');
  await writeFile(entryPath, JSON.stringify({ ...entry, port: address.port }));
  return {
    close: async () => {
      await writeFile(entryPath, JSON.stringify(entry));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
