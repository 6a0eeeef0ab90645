import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Identity, randomKey, toBase64, toHex } from '@pursuance/crypto';
import {
  MemoryKeyBundlePins,
  RelayClient,
  encodePostRequest,
  encodeTokenRequest,
  parseBoardRequest,
  spendToken,
  trustKeyBundle,
  type EncryptedGroupMessage,
  type SignedKeyBundle,
} from '@pursuance/relay';
import {
  ApplicationChain,
  AuthApp,
  LoopbackACN,
  PACKET_SIZE,
  ProofOfWorkApp,
  TAPIR_PORT,
  TapirService,
  encodeFrame,
  sealPacket,
  type Connection,
} from '@pursuance/tapir';
import { metricValue, startRelayProcess, type RelayProcess } from '../../apps/relay/test/support/relay-process.js';
import { randomMessage } from '../../packages/relay/test/support/fixtures.js';

/**
 * Hostile input against a live relay process: random bytes and frames on both onions,
 * authenticated sessions sending fuzzed board requests, skipped proof of work, forged and
 * reused tokens, a flood of idle connections and of half-open handshakes. Every hostile
 * connection must end closed with a typed error on the relay's side, an honest client must
 * keep being served, and the stored data must be exactly the honest posts.
 */
let dir: string;
let relay: RelayProcess;
let acn: LoopbackACN;
let bundle: SignedKeyBundle;
const honestPosted: EncryptedGroupMessage[] = [];
const services: TapirService[] = [];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'relay-hostile-'));
  relay = await startRelayProcess({
    dataDir: join(dir, 'data'),
    registryDir: join(dir, 'registry'),
    args: ['--max-pending-handshakes', '32', '--handshake-timeout-ms', '1500', '--log-level', 'debug'],
  });
  acn = new LoopbackACN({ registryDir: join(dir, 'registry') });
  bundle = await trustKeyBundle(relay.bundle, new MemoryKeyBundlePins());
});
afterAll(async () => {
  await Promise.allSettled(services.map((s) => s.close()));
  await relay.stop('SIGKILL');
  await acn.close();
  await rm(dir, { recursive: true, force: true });
});

const encoder = new TextEncoder();
const hex = (m: EncryptedGroupMessage) => toHex(m.signature);

function tapir(): TapirService {
  const s = new TapirService(acn, Identity.generate(), { maxConnections: 4096 });
  services.push(s);
  return s;
}

/** Send raw bytes on a fresh stream and wait until the relay closes it. */
async function rawConnection(onion: typeof bundle.boardOnion, bytes: Uint8Array): Promise<void> {
  const socket = await acn.open(onion, TAPIR_PORT);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => undefined);
  socket.resume();
  socket.end(bytes);
  await closed;
}

/**
 * An honest client posting in the background until stopped. It buys its tokens up front, so
 * the token-service counters seen during the attack belong to the attackers alone.
 */
async function honestLoop(): Promise<{ stop: () => Promise<number> }> {
  const client = new RelayClient({ acn, bundle, batchSize: 100, lowWaterMark: 0 });
  await client.buyTokens();
  const session = await client.openSession();
  let running = true;
  const done = (async () => {
    let n = 0;
    while (running && client.wallet.size > 0) {
      const m = randomMessage();
      await session.post(m);
      honestPosted.push(m);
      n++;
    }
    return n;
  })();
  return {
    stop: async () => {
      running = false;
      try {
        return await done;
      } finally {
        await client.close();
      }
    },
  };
}

/** Run `fn` over `items`, at most `width` at a time (below the relay's pending-handshake cap). */
async function inBatches<T>(items: readonly T[], width: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map((item, j) => fn(item, i + j)));
}

describe('a live relay under hostile input', () => {
  it('closes every fuzzed raw connection on both onions while serving an honest client', async () => {
    const hello = () => {
      const id = Identity.generate();
      return encodeFrame(
        encoder.encode(JSON.stringify({ LongTermPublicKey: toBase64(id.publicKey), EphemeralPublicKey: toBase64(Identity.generate().publicKey) })),
      );
    };
    const input = fc.oneof(
      fc.uint8Array({ maxLength: 3 * PACKET_SIZE }),
      fc.uint8Array({ minLength: PACKET_SIZE, maxLength: PACKET_SIZE }),
      fc.string().map((s) => encodeFrame(encoder.encode(s))),
      fc.constant(null).map(() => {
        const bad = new Uint8Array(PACKET_SIZE);
        bad.set([0xff, 0xff]); // a length prefix beyond the packet: an "oversized" payload
        return bad;
      }),
      fc.constant(null).map(() => Buffer.concat([hello(), sealPacket(randomKey(), 0, encoder.encode('guess'))])),
      fc.constant(null).map(() => encodeFrame(encodeTokenRequest([new Uint8Array(randomBytes(32))]))), // skips proof of work
    );
    const honest = await honestLoop();
    const samples = fc.sample(input, { numRuns: 160, seed: 20261122 });
    const before = await relay.metrics();
    await inBatches(samples, 16, (bytes, i) => rawConnection(i % 2 === 0 ? bundle.boardOnion : bundle.tokenOnion, bytes));
    const posted = await honest.stop();
    expect(posted).toBeGreaterThan(0);
    const after = await relay.metrics();
    const errors = (text: string) => sumMetric(text, 'relay_connection_errors_total');
    expect(errors(after) - errors(before)).toBe(samples.length);
    expect(metricValue(after, 'relay_token_batches_total')).toBe(metricValue(before, 'relay_token_batches_total'));
  });

  it('closes authenticated sessions that send fuzzed or oversized board requests, and token requests after work that are malformed', async () => {
    const b64 = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max }).map((b) => toBase64(b));
    const request = fc.oneof(
      fc.record({
        MessageType: fc.constantFrom(0, 1, 2, 3, 4, 9),
        PostRequest: fc.record({
          Token: fc.record({ T: b64(30, 34), MAC: b64(30, 34) }),
          EGM: fc.record({ Ciphertext: b64(4090, 4100), Signature: b64(60, 66) }),
        }),
      }),
      fc.record({ MessageType: fc.constantFrom(0, 2), ReplayRequest: fc.record({ LastCommit: fc.oneof(b64(60, 66), fc.integer()) }) }),
      fc.jsonValue({ maxDepth: 3 }),
      fc.constant({ MessageType: 0, ReplayRequest: { LastCommit: 'x'.repeat(8000) } }),
    );
    const payloads = fc
      .sample(request, { numRuns: 60, seed: 7 })
      .map((v) => encoder.encode(JSON.stringify(v) ?? 'null'))
      .filter((p) => {
        try {
          parseBoardRequest(p);
          return false; // valid by chance: not hostile
        } catch {
          return true;
        }
      });
    const honest = await honestLoop();
    const svc = tapir();
    await inBatches(payloads, 16, async (payload) => {
      const conn = await svc.connect(bundle.boardOnion, new ApplicationChain([new AuthApp()]));
      await conn.send(payload).catch(() => undefined);
      await conn.closed;
    });
    // Token service: proof of work done, then garbage instead of a blinded batch.
    for (const junk of ['{}', '{"BlindedTokens":[]}', '{"BlindedTokens":["AAAA"]}', 'not json']) {
      const probe: { name: string; capability: string; run(c: Connection): Promise<void> } = {
        name: 'junk',
        capability: 'never',
        async run(c) {
          await c.send(encoder.encode(junk));
          await c.expect();
        },
      };
      await expect(svc.connect(bundle.tokenOnion, new ApplicationChain([new ProofOfWorkApp(), probe]))).rejects.toBeDefined();
    }
    expect(await honest.stop()).toBeGreaterThan(0);
    const metrics = await relay.metrics();
    expect(metricValue(metrics, 'relay_connection_errors_total', '{service="board",code="MALFORMED_REQUEST"}')).toBe(payloads.length);
    expect(metricValue(metrics, 'relay_connection_errors_total', '{service="token",code="MALFORMED_REQUEST"}')).toBe(4);
  });

  it('refuses forged and reused tokens through the daemon', async () => {
    const client = new RelayClient({ acn, bundle, batchSize: 3 });
    const session = await client.openSession();
    const m = randomMessage();
    const token = await client.takeToken();
    const spent = spendToken(token, m, bundle.boardOnion);
    expect(await session.postSpent(m, spent)).toEqual({ ok: true });
    honestPosted.push(m);
    expect(await session.postSpent(m, spent)).toEqual({ ok: false, code: 'TOKEN_SPENT' });
    const other = randomMessage();
    const forged = spendToken({ epoch: 0, input: new Uint8Array(randomBytes(32)), output: new Uint8Array(randomBytes(64)) }, other, bundle.boardOnion);
    expect(await session.postSpent(other, forged)).toEqual({ ok: false, code: 'TOKEN_INVALID' });
    // A hand-written request with a valid token for a different post.
    const conn = await tapir().connect(bundle.boardOnion, new ApplicationChain([new AuthApp()]));
    await conn.send(encodePostRequest(other, spendToken(await client.takeToken(), randomMessage(), bundle.boardOnion)));
    expect(new TextDecoder().decode(await conn.expect())).toContain('"Code":"TOKEN_INVALID"');
    conn.close();
    await client.close();
    const metrics = await relay.metrics();
    expect(metricValue(metrics, 'relay_posts_rejected_total', '{code="TOKEN_SPENT"}')).toBe(1);
    expect(metricValue(metrics, 'relay_posts_rejected_total', '{code="TOKEN_INVALID"}')).toBe(2);
  });

  it('bounds floods of idle sessions and half-open handshakes, then serves honest clients again', async () => {
    // 100 authenticated sessions that never send anything: they hold connections, not handshakes.
    const svc = tapir();
    const idle: Connection[] = [];
    await inBatches(Array.from({ length: 100 }), 16, async () => {
      idle.push(await svc.connect(bundle.boardOnion, new ApplicationChain([new AuthApp()])));
    });
    const duringClient = new RelayClient({ acn, bundle, batchSize: 2 });
    const during = randomMessage();
    await (await duringClient.openSession()).post(during);
    honestPosted.push(during);
    await duringClient.close();

    // 120 streams that open and never complete the handshake: at most 32 are held pending,
    // each newcomer beyond that evicts the oldest; the last held ones time out after 1.5 s.
    const before = await relay.metrics();
    // Resolves once every one was closed by the relay: evicted by a newer one, or timed out.
    await Promise.all(
      Array.from({ length: 120 }, async () => {
        const s = await acn.open(bundle.boardOnion, TAPIR_PORT);
        s.on('error', () => undefined);
        s.resume();
        await new Promise<void>((resolve) => s.once('close', () => resolve()));
      }),
    );
    const after = await relay.metrics();
    const delta = (state: string) =>
      metricValue(after, 'relay_connections', `{service="board",state="${state}"}`)! -
      metricValue(before, 'relay_connections', `{service="board",state="${state}"}`)!;
    expect(delta('evictedPending')).toBeGreaterThanOrEqual(120 - 32);
    expect(delta('refused')).toBe(0);
    expect(metricValue(after, 'relay_connection_errors_total', '{service="board",code="HANDSHAKE_TIMEOUT"}')).toBeGreaterThanOrEqual(1);
    for (const c of idle) c.close();

    // Honest service resumes; the relay process is alive, and it stored exactly the honest posts.
    const client = new RelayClient({ acn, bundle });
    const session = await client.openSession();
    const last = randomMessage();
    await session.post(last);
    honestPosted.push(last);
    // Exactly the honest posts, in the order they were acknowledged; nothing hostile got in.
    expect((await session.replay()).map(hex)).toEqual(honestPosted.map(hex));
    await client.close();
    expect(relay.child.exitCode).toBeNull();
  });
});

function sumMetric(text: string, name: string): number {
  let sum = 0;
  for (const match of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum += Number(match[1]);
  return sum;
}
