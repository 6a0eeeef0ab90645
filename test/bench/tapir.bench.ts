/**
 * Tapir benchmarks over LoopbackACN, each beside a baseline measured in the same run:
 *  - handshakes/s (auth app, both ends in this process) vs raw X25519 and ed25519 op rates;
 *  - bulk throughput (MB/s of payload through sealed 8192-byte packets) vs raw TCP loopback.
 * Run with `npm run bench`. Figures are printed, not asserted.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Identity,
  randomKey,
  secretboxOpen,
  secretboxSeal,
  verifySignature,
  x25519,
  x25519PublicFromEd25519,
  x25519SecretFromEd25519Seed,
} from '@pursuance/crypto';
import { ApplicationChain, AuthApp, LoopbackACN, MAX_SEALED_PAYLOAD, PACKET_SIZE, TapirService, type Connection } from '@pursuance/tapir';
import { fmt, printTable, rateOf, rawTcpThroughput, timeAsync } from './measure.js';

const BULK_BYTES = 64 * 1024 * 1024;

function primitiveBaselines(): [string, string][] {
  const a = Identity.generate();
  const b = Identity.generate();
  const msg = new Uint8Array(64).fill(1);
  const sig = a.sign(msg);
  const aSecret = a.x25519SecretKey();
  const bPublic = b.x25519PublicKey();
  const seed = new Uint8Array(32).fill(3);
  const key = randomKey();
  const frame = new Uint8Array(PACKET_SIZE - 16);
  const sealed = secretboxSeal(key, frame);
  const rates = [
    rateOf('ed25519 sign (node:crypto)', () => a.sign(msg)),
    rateOf('ed25519 verify (node:crypto)', () => verifySignature(msg, sig, a.publicKey)),
    rateOf('X25519 DH, raw keys (node:crypto)', () => x25519(aSecret, bPublic)),
    rateOf('X25519 DH, cached identity key', () => a.diffieHellman(bPublic)),
    rateOf('ed25519→X25519 public conversion', () => x25519PublicFromEd25519(b.publicKey)),
    rateOf('ed25519→X25519 secret conversion', () => x25519SecretFromEd25519Seed(seed)),
    rateOf('ed25519 identity generation', () => Identity.generate()),
    rateOf('secretbox seal, 8176 B (libsodium)', () => secretboxSeal(key, frame)),
    rateOf('secretbox open, 8176 B (libsodium)', () => secretboxOpen(key, sealed)),
  ];
  return rates.map((r) => [r.label, `${fmt(r.perSecond)} /s`]);
}

async function main(): Promise<void> {
  process.stdout.write(`tapir benchmarks — node ${process.version}, ${new Date().toISOString()}\n`);
  printTable('baseline: raw primitives (same run)', primitiveBaselines());

  const registryDir = await mkdtemp(join(tmpdir(), 'tapir-bench-'));
  const acn = new LoopbackACN({ registryDir });
  const server = new TapirService(acn, Identity.generate(), { maxConnections: 1024, maxPendingHandshakes: 256 });
  let sinkBytes = 0;
  let sinkTarget = Infinity;
  let sinkDone: (() => void) | undefined;
  await server.listen(
    () =>
      new ApplicationChain([new AuthApp()], {
        name: 'sink',
        async run(conn: Connection) {
          for (;;) {
            const p = await conn.expect();
            if (p.length === 0) {
              await conn.send(Uint8Array.of(1));
              continue;
            }
            sinkBytes += p.length;
            if (sinkBytes >= sinkTarget) sinkDone?.();
          }
        },
      }),
  );
  const client = new TapirService(acn, Identity.generate(), { maxConnections: 1024 });
  const chain = (): ApplicationChain => new ApplicationChain([new AuthApp()]);

  // Handshakes: sequential (latency-bound) and 16 in flight (CPU-bound).
  for (let i = 0; i < 20; i++) (await client.connect(server.onion, chain())).close(); // warm-up
  const sequentialN = 300;
  const seq = await timeAsync(async () => {
    for (let i = 0; i < sequentialN; i++) (await client.connect(server.onion, chain())).close();
  });
  const parallelN = 600;
  const par = await timeAsync(async () => {
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next++ < parallelN) (await client.connect(server.onion, chain())).close();
      }),
    );
  });
  // Round-trip latency on an established connection.
  const conn = await client.connect(server.onion, chain());
  const pings = 2000;
  const rtt = await timeAsync(async () => {
    for (let i = 0; i < pings; i++) {
      await conn.send(new Uint8Array(0));
      await conn.expect();
    }
  });

  // Bulk: BULK_BYTES of payload in full sealed packets, one way, until the sink counted it all.
  const payload = new Uint8Array(MAX_SEALED_PAYLOAD).fill(9);
  sinkBytes = 0;
  sinkTarget = Math.floor(BULK_BYTES / payload.length) * payload.length;
  const sunk = new Promise<void>((resolve) => (sinkDone = resolve));
  const bulk = await timeAsync(async () => {
    for (let sent = 0; sent < sinkTarget; sent += payload.length) await conn.send(payload);
    await sunk;
  });
  conn.close();
  const tapirMBs = sinkTarget / bulk.seconds / 1e6;
  const wireMBs = ((sinkTarget / payload.length) * PACKET_SIZE) / bulk.seconds / 1e6;
  const tcpMBs = await rawTcpThroughput(BULK_BYTES);

  printTable('tapir over LoopbackACN (client and server in one process, 2 cores)', [
    ['handshakes/s, sequential (3DH auth, both ends)', `${fmt(sequentialN / seq.seconds)} /s (${fmt((seq.seconds / sequentialN) * 1000, 2)} ms each)`],
    ['handshakes/s, 16 in flight', `${fmt(parallelN / par.seconds)} /s`],
    ['round trip, empty sealed packet', `${fmt((rtt.seconds / pings) * 1e6)} µs`],
    ['bulk payload throughput (sealed 8192 B packets)', `${fmt(tapirMBs, 1)} MB/s payload, ${fmt(wireMBs, 1)} MB/s on the wire`],
    ['baseline: raw TCP loopback, 8192 B writes', `${fmt(tcpMBs, 1)} MB/s`],
    ['tapir / raw TCP', `${fmt((wireMBs / tcpMBs) * 100, 1)} %`],
  ]);

  await client.close();
  await server.close();
  await acn.close();
  await rm(registryDir, { recursive: true, force: true });
}

await main();
