import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { MAX_PEER_MESSAGE_DATA, OVERLAY, type CwtchPeer, type ReceivedDirectMessage } from '@pursuance/cwtch';
import { canonicalDecode, canonicalEncode, fromBase64, sha256, toBase64, toHex, type OnionName } from '@pursuance/crypto';
import { eventsAfter, membershipProof, snapshotAt, type EventId, type SignedEvent } from '@pursuance/pursuance';
import type { PursuanceRegistry } from '../domain/registry.js';
import { snapshotsOf, type SnapshotBundle } from '../domain/snapshots.js';
import type { PeerEvents } from './sync-peer.js';

/**
 * Handing a new member a snapshot to start from, over direct messages: the joiner asks the
 * member who let it in; that member's node answers with a BUNDLE — the genesis, the snapshot
 * document, the attestations that make it count, the attesters' membership proofs, and every
 * event after the snapshot — cut into parts that fit one message each. Nothing in the bundle is
 * taken on the sender's word: the joiner checks the hash, the attestations and the proofs
 * (registry.startFromSnapshot), and the relay's replay of the whole history is verified against
 * it later. A bundle that does not arrive, does not fit or does not check out leaves the joiner
 * to the full replay it would have done anyway.
 */
export type SnapshotPeer = PeerEvents & Pick<CwtchPeer, 'sendOverlay'>;

/** Raw bytes per part: its base64 (5,464 characters) and the JSON around it stay under a direct message's 5,800 bytes. */
export const PART_BYTES = 4_096;
/** At most this many parts (48 MiB): a bundle claiming more is refused before anything is kept. */
export const MAX_PARTS = 16_384;

const Hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const Nonce = z.string().regex(/^[0-9a-f]{32}$/);
const RequestSchema = z.strictObject({ v: z.literal(1), p: Hex64, n: Nonce });
export const REFUSAL_CODES = ['NOT_A_MEMBER', 'NO_SNAPSHOT', 'UNKNOWN_PURSUANCE'] as const;
const PartSchema = z.union([
  z.strictObject({
    v: z.literal(1),
    p: Hex64,
    n: Nonce,
    h: Hex64,
    i: z
      .number()
      .int()
      .min(0)
      .max(MAX_PARTS - 1),
    of: z.number().int().min(1).max(MAX_PARTS),
    d: z.string().max(Math.ceil(PART_BYTES / 3) * 4),
  }),
  z.strictObject({ v: z.literal(1), p: Hex64, n: Nonce, refused: z.enum(REFUSAL_CODES), reason: z.string().max(500) }),
]);

const BundleSchema = z.strictObject({
  v: z.literal(1),
  genesis: z.instanceof(Uint8Array),
  snapshot: z.instanceof(Uint8Array),
  hash: Hex64,
  attestations: z.array(z.instanceof(Uint8Array)).min(1).max(64),
  proofs: z.array(z.instanceof(Uint8Array)).max(64 * 64),
  after: z.array(z.instanceof(Uint8Array)).max(10_000_000),
});

/** The member asked has no snapshot to give, or the answer did not come or did not fit. */
export class SnapshotUnavailableError extends Error {
  public constructor(
    public readonly code: (typeof REFUSAL_CODES)[number] | 'TIMEOUT' | 'MALFORMED',
    message: string,
  ) {
    super(message);
    this.name = 'SnapshotUnavailableError';
  }
}

function parseJson(text: string): unknown {
  if (text.length > MAX_PEER_MESSAGE_DATA) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

export function encodeBundle(b: SnapshotBundle): Uint8Array {
  return canonicalEncode({
    v: 1,
    genesis: b.genesis,
    snapshot: b.snapshot,
    hash: b.hash,
    attestations: [...b.attestations],
    proofs: [...b.proofs],
    after: [...b.after],
  });
}

export function decodeBundle(data: Uint8Array): SnapshotBundle {
  let raw: unknown;
  try {
    raw = canonicalDecode(data);
  } catch (err) {
    throw new SnapshotUnavailableError('MALFORMED', `the snapshot bundle is not canonical CBOR: ${(err as Error).message}`);
  }
  const parsed = BundleSchema.safeParse(raw);
  if (!parsed.success)
    throw new SnapshotUnavailableError('MALFORMED', `the snapshot bundle does not match its schema: ${parsed.error.issues[0]?.message ?? ''}`);
  return parsed.data;
}

interface Pending {
  readonly from: OnionName;
  readonly pursuanceId: string;
  readonly parts: Map<number, Uint8Array>;
  of: number | null;
  hash: string | null;
  readonly done: (result: SnapshotBundle | SnapshotUnavailableError) => void;
}

export class SnapshotTransfer {
  readonly #pending = new Map<string, Pending>();
  /** Bundles this node built, by snapshot hash and event count: building one folds the history. */
  #built: { key: string; data: Uint8Array } | null = null;
  #off: (() => void) | null = null;

  public constructor(
    private readonly peer: SnapshotPeer,
    private readonly registry: PursuanceRegistry,
  ) {}

  public start(): void {
    const onMessage = (m: ReceivedDirectMessage): void => {
      if (m.overlay.o === OVERLAY.pursuanceSnapshotRequest) void this.#serve(m.from, m.overlay.d).catch((err: unknown) => this.#warn(err));
      else if (m.overlay.o === OVERLAY.pursuanceSnapshotPart) this.#part(m.from, m.overlay.d);
    };
    this.peer.on('message', onMessage);
    this.#off = () => this.peer.off('message', onMessage);
  }

  public stop(): void {
    this.#off?.();
    for (const p of this.#pending.values()) p.done(new SnapshotUnavailableError('TIMEOUT', 'the node stopped'));
    this.#pending.clear();
  }

  /** Ask `from` for a snapshot of `pursuanceId`; resolves with the bundle or throws SnapshotUnavailableError. */
  public fetch(from: OnionName, pursuanceId: string, timeoutMs: number): Promise<SnapshotBundle> {
    const nonce = toHex(randomBytes(16));
    return new Promise<SnapshotBundle>((resolve, reject) => {
      const timer = setTimeout(
        () => finish(new SnapshotUnavailableError('TIMEOUT', `no snapshot from ${from} within ${Math.round(timeoutMs / 1000)} s`)),
        timeoutMs,
      );
      const finish = (result: SnapshotBundle | SnapshotUnavailableError): void => {
        clearTimeout(timer);
        this.#pending.delete(nonce);
        if (result instanceof SnapshotUnavailableError) reject(result);
        else resolve(result);
      };
      this.#pending.set(nonce, { from, pursuanceId, parts: new Map(), of: null, hash: null, done: finish });
      this.peer
        .sendOverlay(from, { o: OVERLAY.pursuanceSnapshotRequest, d: JSON.stringify({ v: 1, p: pursuanceId, n: nonce }) })
        .catch((err: unknown) => finish(new SnapshotUnavailableError('TIMEOUT', `the request could not be sent: ${(err as Error).message}`)));
    });
  }

  /** One part of an answer we asked for; anything else (wrong sender, nonce, shape) is dropped. */
  #part(from: OnionName, text: string): void {
    const parsed = PartSchema.safeParse(parseJson(text));
    if (!parsed.success) return;
    const m = parsed.data;
    const pending = this.#pending.get(m.n);
    if (!pending || pending.from !== from || pending.pursuanceId !== m.p) return;
    if ('refused' in m) {
      pending.done(new SnapshotUnavailableError(m.refused, `${from} has no snapshot to give: ${m.reason}`));
      return;
    }
    if ((pending.of !== null && pending.of !== m.of) || (pending.hash !== null && pending.hash !== m.h) || m.i >= m.of) {
      pending.done(new SnapshotUnavailableError('MALFORMED', 'the parts of the snapshot bundle do not agree with each other'));
      return;
    }
    pending.of = m.of;
    pending.hash = m.h;
    const data = fromBase64(m.d);
    if (data.length > PART_BYTES) return;
    pending.parts.set(m.i, data);
    if (pending.parts.size < m.of) return;
    const whole = new Uint8Array([...pending.parts.values()].reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (let i = 0; i < m.of; i++) {
      whole.set(pending.parts.get(i)!, at);
      at += pending.parts.get(i)!.length;
    }
    if (toHex(sha256(whole)) !== m.h) {
      pending.done(new SnapshotUnavailableError('MALFORMED', 'the snapshot bundle does not hash to what its parts said'));
      return;
    }
    try {
      pending.done(decodeBundle(whole));
    } catch (err) {
      pending.done(err as SnapshotUnavailableError);
    }
  }

  /** Answer a member's request: the newest snapshot enough members vouched for and this history agrees with. */
  async #serve(from: OnionName, text: string): Promise<void> {
    const parsed = RequestSchema.safeParse(parseJson(text));
    if (!parsed.success) return;
    const { p, n } = parsed.data;
    const refuse = (refused: (typeof REFUSAL_CODES)[number], reason: string) =>
      this.peer.sendOverlay(from, { o: OVERLAY.pursuanceSnapshotPart, d: JSON.stringify({ v: 1, p, n, refused, reason }) });
    // A stranger learns nothing, not even whether the pursuance is here.
    if (!this.registry.has(p)) return void (await refuse('UNKNOWN_PURSUANCE', 'no such pursuance here'));
    const entry = this.registry.get(p);
    if (!entry.log.state().members.has(from)) return void (await refuse('UNKNOWN_PURSUANCE', 'no such pursuance here'));
    const usable = snapshotsOf(entry).snapshots.find((s) => s.enough && s.check.outcome === 'agrees');
    if (!usable) return void (await refuse('NO_SNAPSHOT', 'no snapshot here has enough attestations yet'));
    const data = this.#bundle(p, usable.hash, usable.frontier as EventId[]);
    const hash = toHex(sha256(data));
    const of = Math.ceil(data.length / PART_BYTES);
    // Queued all at once (each is stored before it is sent, in this order): waiting for each
    // store in turn made the hand-over of a big board take seconds longer.
    const parts: Promise<string>[] = [];
    for (let i = 0; i < of; i++) {
      const d = toBase64(data.subarray(i * PART_BYTES, (i + 1) * PART_BYTES));
      parts.push(this.peer.sendOverlay(from, { o: OVERLAY.pursuanceSnapshotPart, d: JSON.stringify({ v: 1, p, n, h: hash, i, of, d }) }));
    }
    await Promise.all(parts);
  }

  #bundle(pursuanceId: string, hash: string, frontier: readonly EventId[]): Uint8Array {
    const log = this.registry.get(pursuanceId).log;
    const key = `${pursuanceId}:${hash}:${log.size}`;
    if (this.#built?.key === key) return this.#built.data;
    const snapshot = snapshotAt(log, frontier);
    if (snapshot.hash !== hash) throw new Error('the snapshot at an attested frontier no longer hashes the same here');
    const attestations: SignedEvent[] = [];
    for (const id of log.order()) {
      const e = log.event(id);
      if (e?.header.kind === 'snapshot.attest' && log.isAccepted(id) && toHex((e as SignedEvent<'snapshot.attest'>).header.body.snapshot) === hash)
        attestations.push(e);
    }
    const state = log.state();
    const proofs = new Map<string, SignedEvent>();
    for (const a of attestations) for (const p of membershipProof(state, a.author, (id) => log.event(id))) proofs.set(p.id, p);
    const data = encodeBundle({
      genesis: log.genesis.bytes,
      snapshot: snapshot.bytes,
      hash,
      attestations: attestations.map((e) => e.bytes),
      proofs: [...proofs.values()].map((e) => e.bytes),
      after: eventsAfter(log, frontier).map((e) => e.bytes),
    });
    this.#built = { key, data };
    return data;
  }

  #warn(err: unknown): void {
    this.registry.warn(`snapshot transfer: ${err instanceof Error ? err.name : typeof err}`);
  }
}
