/**
 * Support for the hostile suites (hostile-corpus, malicious-property): replicas fed the same
 * events in different ways, verdicts read from any of them, a summary of what a member can read
 * for comparing replicas, and byte-level builders for inputs no encoder would produce.
 */
import { randomBytes } from 'node:crypto';
import { canonicalEncode, padToSize, randomKey, secretboxSeal, sha256, toHex, type Identity } from '@pursuance/crypto';
import { expect } from 'vitest';
import { PursuanceLog, RejectionCode, buildMemberView, type EventId, type Rejection, type SignedEvent } from '../../src/index.js';
import { CONTENT_PADDING_BUCKET, type RoleKey } from '../../src/keys.js';
import { collectKeys } from '../../src/view.js';
import type { AddResult } from '../../src/log.js';
import type { Sealed } from '../../src/bodies.js';

export type Input = SignedEvent | Uint8Array;

export const bytesOf = (input: Input): Uint8Array => (input instanceof Uint8Array ? input : input.bytes);

/** The id a log gives any input, valid or not: the hash of its bytes. */
export const idOf = (input: Input): EventId => toHex(sha256(bytesOf(input))) as EventId;

/** An event id nobody has: a parent that will never arrive. */
export const unknownId = (): EventId => toHex(new Uint8Array(randomBytes(32))) as EventId;

/** A replica and what each `add` told it, by event id (the latest answer, and the first one). */
export interface Replica {
  readonly name: string;
  readonly log: PursuanceLog;
  readonly last: Map<EventId, AddResult>;
  readonly first: Map<EventId, AddResult>;
}

function record(replica: Replica, inputs: readonly Input[], results: readonly AddResult[]): void {
  inputs.forEach((input, i) => {
    const id = idOf(input);
    const result = results[i]!;
    replica.last.set(id, result);
    if (!replica.first.has(id)) replica.first.set(id, result);
  });
}

function replica(name: string, genesis: SignedEvent): Replica {
  return { name, log: new PursuanceLog(genesis.bytes), last: new Map(), first: new Map() };
}

/** A fresh replica given everything in one batch (log.addAll), in the given order. */
export function atOnce(name: string, genesis: SignedEvent, inputs: readonly Input[]): Replica {
  const r = replica(name, genesis);
  const list = inputs.map(bytesOf);
  record(r, inputs, r.log.addAll(list));
  r.log.stateHash();
  return r;
}

/**
 * A replica updated the way a live node is: `base` first, then one event at a time with a read
 * after each, so every event that can take the incremental path does. What it refused to park
 * (PENDING_REFUSED) is offered again at the end, as a node does when more arrives.
 */
export function oneByOne(name: string, genesis: SignedEvent, base: readonly Input[], inputs: readonly Input[]): Replica {
  const r = replica(name, genesis);
  record(r, base, r.log.addAll(base.map(bytesOf)));
  r.log.stateHash();
  for (const input of inputs) {
    record(r, [input], [r.log.add(bytesOf(input))]);
    r.log.stateHash();
  }
  reofferRefused(r, [...base, ...inputs]);
  return r;
}

export function reofferRefused(r: Replica, inputs: readonly Input[]): void {
  const refused = inputs.filter((input) => r.last.get(idOf(input))?.rejection?.code === RejectionCode.PENDING_REFUSED);
  if (refused.length > 0) record(r, refused, r.log.addAll(refused.map(bytesOf)));
  r.log.stateHash();
}

/** Replace a replica by a fresh log fed everything it held (a restart of the node). */
export function restart(r: Replica): Replica {
  const fresh = replica(`${r.name}+restart`, r.log.genesis);
  const held = [...r.log.events()].filter((e) => e.id !== r.log.genesis.id);
  record(fresh, held, fresh.log.addAll(held.map((e) => e.bytes)));
  for (const [id, result] of r.last) if (!fresh.last.has(id)) fresh.last.set(id, result);
  return fresh;
}

/** Everything any replica must agree on, in comparable form. */
export function agreement(log: PursuanceLog): { hash: string; order: readonly EventId[]; pending: EventId[]; size: number } {
  return {
    hash: log.stateHash(),
    order: [...log.order()],
    pending: log
      .pending()
      .map((p) => p.id)
      .sort(),
    size: log.size,
  };
}

export interface Judged {
  readonly atOnce: Replica;
  readonly reversed: Replica;
  readonly oneByOne: Replica;
  readonly all: readonly Replica[];
}

/**
 * Feed `base` (honest history) and then `events` (the case, honest and hostile events in the
 * order they were made) to three replicas — one batch, one batch in reverse order, and one
 * event at a time after the base — and check that they agree on everything.
 */
export function judgeEveryWay(genesis: SignedEvent, base: readonly Input[], events: readonly Input[]): Judged {
  const a = atOnce('at once', genesis, [...base, ...events]);
  const r = atOnce('reversed', genesis, [...base, ...events].reverse());
  const o = oneByOne('one by one', genesis, base, events);
  const reference = agreement(a.log);
  for (const other of [r, o]) expect(agreement(other.log), `${other.name} agrees with ${a.name}`).toEqual(reference);
  return { atOnce: a, reversed: r, oneByOne: o, all: [a, r, o] };
}

/** The verdict on one input: the fold's rejection, or what `add` said for inputs never stored. */
export function verdictOf(r: Replica, input: Input): Rejection | undefined {
  const id = idOf(input);
  return r.log.rejectionOf(id) ?? r.last.get(id)?.rejection;
}

/** Every replica rejects `input` with `code` (and a reason containing `reason`). */
export function expectRejected(judged: Judged, input: Input, code: RejectionCode, reason?: string): void {
  for (const r of judged.all) {
    const v = verdictOf(r, input);
    expect(v?.code, `${r.name}: ${v ? v.reason : 'not rejected'}`).toBe(code);
    if (reason !== undefined) expect(v!.reason, r.name).toContain(reason);
    expect(r.log.isAccepted(idOf(input)), r.name).toBe(false);
  }
}

/** Every replica accepts `input`. */
export function expectAccepted(judged: Judged, input: Input): void {
  for (const r of judged.all) {
    expect(r.log.isAccepted(idOf(input)), `${r.name}: ${JSON.stringify(verdictOf(r, input))}`).toBe(true);
  }
}

/** Bytes that never become an event: reported as invalid, never stored, in every replica. */
export function expectNeverStored(judged: Judged, input: Input, code: RejectionCode, reason?: string): void {
  expectRejected(judged, input, code, reason);
  for (const r of judged.all) {
    expect(r.log.event(idOf(input)), r.name).toBeUndefined();
    expect(r.last.get(idOf(input))?.status, r.name).toBe('invalid');
  }
}

/** What `me` can read from `log`, as plain data, for comparing replicas. */
export function readable(log: PursuanceLog, me: Identity): unknown {
  const view = buildMemberView(log, me);
  return {
    keys: collectKeys(log, me).keyIds().sort(),
    rejections: [...view.contentRejections].sort((a, b) => (a.eventId < b.eventId ? -1 : 1)),
    tasks: [...view.tasks.values()]
      .sort((a, b) => (a.id < b.id ? -1 : 1))
      .map((t) => ({
        id: t.id,
        readable: t.readable,
        closed: t.closed,
        title: t.title,
        status: t.status,
        labels: t.labels,
        comments: t.comments.map((c) => [c.author, c.body]),
      })),
  };
}

/** Every replica gives each of `readers` the same view. */
export function expectSameViews(judged: Judged, readers: readonly Identity[]): void {
  for (const me of readers) {
    const reference = readable(judged.atOnce.log, me);
    for (const r of judged.all.slice(1)) expect(readable(r.log, me), `${r.name}: view of ${me.onion}`).toEqual(reference);
  }
}

/**
 * Sealed content around arbitrary plaintext bytes (not necessarily canonical CBOR, e.g. nested
 * deeper than any encoder allows), wrapped under `keys` exactly as sealContent does.
 */
export function sealPlaintext(plain: Uint8Array, keys: readonly RoleKey[]): Sealed {
  const contentKey = randomKey();
  const size = Math.ceil((plain.length + 4) / CONTENT_PADDING_BUCKET) * CONTENT_PADDING_BUCKET;
  return {
    keys: keys.map((k) => ({ role: k.role, keyId: k.keyId, wrapped: secretboxSeal(k.key, contentKey) })),
    ct: secretboxSeal(contentKey, padToSize(plain, size)),
  };
}

/** CBOR for `depth` nested one-element arrays around 0: [[[…[0]…]]]. */
export function nestedArrays(depth: number): Uint8Array {
  const out = new Uint8Array(depth + 1).fill(0x81);
  out[depth] = 0x00;
  return out;
}

/**
 * A raw envelope {sig, event: <eventCbor>} in canonical key order, around any CBOR for the
 * event (its signature is random: decoding must fail before it matters).
 */
export function rawEnvelope(eventCbor: Uint8Array): Uint8Array {
  const prefix = canonicalEncode({ sig: new Uint8Array(64) }).subarray(0, -64);
  const sig = new Uint8Array(randomBytes(64));
  const eventKey = canonicalEncode('event');
  const out = new Uint8Array(prefix.length + 64 + eventKey.length + eventCbor.length);
  // {sig, event} is a 2-entry map: fix the 1-entry map header the encoder wrote.
  out.set(prefix, 0);
  out[0] = 0xa2;
  out.set(sig, prefix.length);
  out.set(eventKey, prefix.length + 64);
  out.set(eventCbor, prefix.length + 64 + eventKey.length);
  return out;
}

/** A seeded xorshift32 generator: the same seed gives the same shuffle on every run. */
export function rng(seed: number): () => number {
  let x = seed | 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

export function shuffled<T>(list: readonly T[], seed: number): T[] {
  const next = rng(seed);
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
