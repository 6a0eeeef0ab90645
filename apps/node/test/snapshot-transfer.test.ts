import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_PEER_MESSAGE_DATA, OVERLAY, encodeOverlay } from '@pursuance/cwtch';
import { Identity, sha256, toHex } from '@pursuance/crypto';
import { PursuanceAuthor, captureSnapshot } from '@pursuance/pursuance';
import type { PursuanceEntry, PursuanceRegistry } from '../src/domain/registry.js';
import { MAX_PARTS, PART_BYTES, SnapshotTransfer, SnapshotUnavailableError, decodeBundle, encodeBundle } from '../src/sync/snapshot-transfer.js';
import { FakeNet, FakePeer } from './support/fake-join-peer.js';
import { activistCellRules as rules } from './support/rules.js';

/**
 * The snapshot hand-over's wire (sync/snapshot-transfer.ts), between two fake peers: who gets a
 * bundle (members only; a stranger learns nothing, not even that the pursuance is here), and a
 * joiner that takes only the parts of the answer it asked for, whole and hashing right. Every
 * part and bundle is bytes from the network: fuzzed.
 */
function world(attest: boolean, bodyLength = 0) {
  let t = 1_900_000_000_000;
  const now = () => (t += 1000);
  const founder = PursuanceAuthor.create(Identity.generate(), { name: 'Wire', rules: rules() }, now);
  const joiner = Identity.generate();
  for (let i = 0; i < 4; i++) founder.createTask({ audience: ['member'], title: `t${i}`, body: 'x'.repeat(bodyLength) });
  const frontier = founder.log.heads();
  founder.createTask({ audience: ['member'], title: 'after the frontier' });
  if (attest) founder.attestSnapshot(captureSnapshot(founder.log, frontier));
  founder.addMember(joiner.publicKey, { roles: ['member'] });
  const entry: PursuanceEntry = { id: founder.log.id, log: founder.log, author: founder, version: 1 };
  const warnings: string[] = [];
  const registry = {
    has: (id: string) => id === entry.id,
    get: () => entry,
    warn: (line: string) => void warnings.push(line),
  } as unknown as PursuanceRegistry;
  const net = new FakeNet();
  const server = new SnapshotTransfer(new FakePeer('server', net), registry);
  const clientPeer = new FakePeer(joiner.onion, net);
  const client = new SnapshotTransfer(clientPeer, registry);
  server.start();
  client.start();
  return { founder, joiner, entry, server, client, clientPeer, net, warnings };
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (e: unknown) => e,
  );

describe('handing a snapshot over', () => {
  it('a member gets the whole bundle: the attested snapshot, its attestations and every event after it', async () => {
    const w = world(true, 2_000);
    const bundle = await w.client.fetch('server' as never, w.entry.id, 10_000);
    const parts = w.net.wire.filter((m) => m.overlay.o === OVERLAY.pursuanceSnapshotPart);
    expect(parts.length).toBeGreaterThan(1);
    // Full parts too: what the peer would refuse as too large for one direct message.
    for (const p of parts) expect(encodeOverlay(p.overlay).length).toBeLessThanOrEqual(MAX_PEER_MESSAGE_DATA);
    const attested = [...w.founder.log.events()].find((e) => e.header.kind === 'snapshot.attest')!;
    expect(bundle.attestations).toEqual([attested.bytes]);
    expect(bundle.genesis).toEqual(w.founder.log.genesis.bytes);
    expect(toHex(sha256(bundle.snapshot))).toBe(bundle.hash);
    // After the frontier: a task, the attestation and the addition of the joiner.
    expect(bundle.after).toHaveLength(3);
  });

  it('without a snapshot enough members vouched for, the answer says so', async () => {
    const w = world(false);
    const err = await failure(w.client.fetch('server' as never, w.entry.id, 10_000));
    expect(err).toBeInstanceOf(SnapshotUnavailableError);
    expect(err).toMatchObject({ code: 'NO_SNAPSHOT', message: expect.stringContaining('no snapshot here has enough attestations yet') });
  });

  it('a stranger is told only that there is no such pursuance, as for one that is not here', async () => {
    const w = world(true);
    const stranger = new SnapshotTransfer(new FakePeer(Identity.generate().onion, w.net), {
      has: () => false,
      warn: () => undefined,
    } as unknown as PursuanceRegistry);
    stranger.start();
    const known = await failure(stranger.fetch('server' as never, w.entry.id, 10_000));
    const unknown = await failure(stranger.fetch('server' as never, '0'.repeat(64), 10_000));
    expect(known).toMatchObject({ code: 'UNKNOWN_PURSUANCE' });
    expect(unknown).toMatchObject({ code: 'UNKNOWN_PURSUANCE', message: (known as Error).message });
  });

  it('fuzz: parts nobody asked for, or that do not parse, change nothing; only the real answer settles the request', async () => {
    const w = world(true);
    // The server is silent: this test plays it.
    w.net.peers.delete('server');
    new FakePeer('server', w.net);
    const asked = w.client.fetch('server' as never, w.entry.id, 60_000);
    const request = JSON.parse(w.net.wire.find((m) => m.overlay.o === OVERLAY.pursuanceSnapshotRequest)!.overlay.d) as { p: string; n: string };
    const send = (d: string, from = 'server') => w.net.peers.get(w.joiner.onion)!.deliver(from, `x${Math.random()}`, OVERLAY.pursuanceSnapshotPart, d);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          fc.json(),
          fc
            .record({
              v: fc.constant(1),
              p: fc.constant(request.p),
              n: fc.stringMatching(/^[0-9a-f]{32}$/),
              refused: fc.constant('NO_SNAPSHOT'),
              reason: fc.string(),
            })
            .map((o) => JSON.stringify(o)),
          fc
            .record({
              i: fc.integer({ min: -5, max: MAX_PARTS + 5 }),
              of: fc.integer({ min: -5, max: MAX_PARTS + 5 }),
              d: fc.string({ maxLength: 50 }),
              h: fc.constantFrom('nope', '0'.repeat(64), '__proto__'),
              extra: fc.constantFrom(undefined, 'constructor'),
            })
            .map((o) => JSON.stringify({ v: 1, p: request.p, n: '1'.repeat(32), ...o })),
        ),
        (d) => {
          expect(() => send(d)).not.toThrow();
        },
      ),
      { numRuns: 300 },
    );
    // The right nonce from someone else is not the answer either.
    send(JSON.stringify({ v: 1, p: request.p, n: request.n, refused: 'NO_SNAPSHOT', reason: 'from a bystander' }), Identity.generate().onion);
    send(JSON.stringify({ v: 1, p: request.p, n: request.n, refused: 'NO_SNAPSHOT', reason: 'the real answer' }));
    expect(await failure(asked)).toMatchObject({ code: 'NO_SNAPSHOT', message: expect.stringContaining('the real answer') });
  });

  it('parts that do not add up to what they said, or a bundle that does not decode, are refused as malformed', async () => {
    const w = world(true);
    w.net.peers.delete('server');
    const asked = w.client.fetch('server' as never, w.entry.id, 60_000);
    const request = JSON.parse(w.net.wire.find((m) => m.overlay.o === OVERLAY.pursuanceSnapshotRequest)!.overlay.d) as { p: string; n: string };
    const data = new Uint8Array(PART_BYTES + 10).fill(7);
    const part = (i: number, bytes: Uint8Array, h = '0'.repeat(64)) =>
      JSON.stringify({ v: 1, p: request.p, n: request.n, h, i, of: 2, d: Buffer.from(bytes).toString('base64') });
    const deliver = (d: string) => w.net.peers.get(w.joiner.onion)!.deliver('server', `p${Math.random()}`, OVERLAY.pursuanceSnapshotPart, d);
    deliver(part(0, data.subarray(0, PART_BYTES)));
    deliver(part(1, data.subarray(PART_BYTES)));
    expect(await failure(asked)).toMatchObject({ code: 'MALFORMED', message: expect.stringMatching(/does not hash/) });

    const again = w.client.fetch('server' as never, w.entry.id, 60_000);
    const second = JSON.parse(w.net.wire.filter((m) => m.overlay.o === OVERLAY.pursuanceSnapshotRequest)[1]!.overlay.d) as { n: string };
    const junk = new Uint8Array([1, 2, 3]);
    deliver(JSON.stringify({ v: 1, p: request.p, n: second.n, h: toHex(sha256(junk)), i: 0, of: 1, d: Buffer.from(junk).toString('base64') }));
    expect(await failure(again)).toMatchObject({ code: 'MALFORMED', message: expect.stringMatching(/not canonical CBOR/) });
  });

  it('parts that disagree on their count or hash, claim an index past the end, or answer for another pursuance are refused or ignored', async () => {
    const w = world(true);
    w.net.peers.delete('server');
    const deliver = (d: string) => w.net.peers.get(w.joiner.onion)!.deliver('server', `p${Math.random()}`, OVERLAY.pursuanceSnapshotPart, d);
    const nonceOf = (k: number) => (JSON.parse(w.net.wire.filter((m) => m.overlay.o === OVERLAY.pursuanceSnapshotRequest)[k]!.overlay.d) as { n: string }).n;
    const part = (n: string, fields: Record<string, unknown>) =>
      JSON.stringify({ v: 1, p: w.entry.id, n, h: '0'.repeat(64), i: 0, of: 2, d: 'AAAA', ...fields });
    for (const [k, second, why] of [
      [0, { i: 1, of: 3 }, /do not agree/],
      [1, { i: 1, h: '1'.repeat(64) }, /do not agree/],
      [2, { i: 2 }, /do not agree/],
    ] as const) {
      const asked = w.client.fetch('server' as never, w.entry.id, 60_000);
      const n = nonceOf(k);
      deliver(part(n, {}));
      deliver(part(n, second));
      expect(await failure(asked)).toMatchObject({ code: 'MALFORMED', message: expect.stringMatching(why) });
    }
    // An answer for another pursuance under this nonce is not part of this answer: with it, the
    // two parts would be complete (and not hash right); without it, the real refusal settles it.
    const asked = w.client.fetch('server' as never, w.entry.id, 60_000);
    const n = nonceOf(3);
    deliver(part(n, { p: 'f'.repeat(64), i: 1 }));
    deliver(part(n, {}));
    deliver(JSON.stringify({ v: 1, p: w.entry.id, n, refused: 'NO_SNAPSHOT', reason: 'the real answer' }));
    expect(await failure(asked)).toMatchObject({ code: 'NO_SNAPSHOT' });
  });

  it('a snapshot that is not vouched for enough, or that this history disagrees with, is not handed over', async () => {
    const w = world(true);
    const log = w.founder.log;
    // The founder's attestation no longer counts once a second founder is needed: rules with two members to vouch.
    const rules = { ...log.state().rules, snapshots: { attesters: 2, from: 'members' as const } };
    w.founder.changeRules(rules);
    expect(await failure(w.client.fetch('server' as never, w.entry.id, 10_000))).toMatchObject({ code: 'NO_SNAPSHOT' });
  });

  it('fuzz: any bytes decode to a bundle or a typed refusal', () => {
    const valid = encodeBundle({
      genesis: new Uint8Array(3),
      snapshot: new Uint8Array(4),
      hash: '0'.repeat(64),
      attestations: [new Uint8Array(1)],
      proofs: [],
      after: [],
    });
    expect(decodeBundle(valid).attestations).toHaveLength(1);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc.record({ at: fc.nat(valid.length - 1), to: fc.integer({ min: 0, max: 255 }) }).map(({ at, to }) => {
            const copy = valid.slice();
            copy[at] = to;
            return copy;
          }),
        ),
        (bytes) => {
          try {
            decodeBundle(bytes);
          } catch (err) {
            expect(err).toBeInstanceOf(SnapshotUnavailableError);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
