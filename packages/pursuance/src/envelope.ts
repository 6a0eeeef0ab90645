import {
  CryptoError,
  canonicalDecode,
  canonicalEncode,
  strictDecode,
  concatBytes,
  onionFromPublicKey,
  sha256,
  toHex,
  defaultVerifier,
  type CanonicalValue,
  type Identity,
  type OnionName,
  type SignatureVerifier,
} from '@pursuance/crypto';
import { z } from 'zod';
import { BODY_SCHEMAS, EVENT_KINDS, type EventBody, type EventKind } from './bodies.js';
import { EventRejectedError, RejectionCode } from './errors.js';
import { RoleIdSchema } from './rules/schema.js';
import { bytes } from '@pursuance/codec';

/**
 * The signed event envelope. Canonical CBOR (see @pursuance/crypto canonical.ts) of
 *   { event: { v, pursuance, author, seq, parents, time, kind, audience, body }, sig }
 * where `sig` is ed25519 over DOMAIN ‖ canonical(event), and the event id is
 * SHA-256 of the whole signed encoding. Genesis has `pursuance: null`; the pursuance id is the
 * genesis event id, so it never depends on a relay.
 */
export const EVENT_FORMAT_VERSION = 1;
export const MAX_EVENT_BYTES = 1024 * 1024;
const DOMAIN = new TextEncoder().encode('pursuance/event/v1\n');

export type EventId = string & { readonly __eventId: true };
export type PursuanceId = EventId;

/** Which events belong to a set, without listing them. */
export interface EventSet {
  has(id: EventId): boolean;
}

const eventIdBytes = bytes(32);

export const HeaderSchema = z.strictObject({
  v: z.literal(EVENT_FORMAT_VERSION),
  pursuance: eventIdBytes.nullable(),
  author: bytes(32),
  seq: z
    .number()
    .int()
    .min(1)
    .max(2 ** 40),
  parents: z.array(eventIdBytes).max(64),
  time: z
    .number()
    .int()
    .min(0)
    .max(2 ** 50),
  kind: z.enum(EVENT_KINDS),
  audience: z.array(RoleIdSchema).max(16),
  body: z.unknown(),
});

export interface EventHeader<K extends EventKind = EventKind> {
  readonly v: typeof EVENT_FORMAT_VERSION;
  readonly pursuance: Uint8Array | null;
  readonly author: Uint8Array;
  readonly seq: number;
  readonly parents: readonly Uint8Array[];
  readonly time: number;
  readonly kind: K;
  readonly audience: readonly string[];
  readonly body: EventBody<K>;
}

/** A verified event: parsed, schema-checked, signature-checked. */
export interface SignedEvent<K extends EventKind = EventKind> {
  readonly id: EventId;
  readonly bytes: Uint8Array;
  readonly header: EventHeader<K>;
  readonly author: OnionName;
  readonly parentIds: readonly EventId[];
  readonly pursuanceId: PursuanceId | null;
}

/**
 * Narrow an event to one kind, typing its body by that kind's schema. Sound for decoded events:
 * decodeEvent checked the body against BODY_SCHEMAS[kind].
 */
export function isKind<K extends EventKind>(e: SignedEvent, kind: K): e is SignedEvent<K> {
  return e.header.kind === kind;
}

export function eventIdFromBytes(id: Uint8Array): EventId {
  return toHex(id) as EventId;
}

function sortedUniqueBytes(list: readonly Uint8Array[]): boolean {
  for (let i = 1; i < list.length; i++) if (Buffer.compare(list[i - 1]!, list[i]!) >= 0) return false;
  return true;
}

function sortedUniqueStrings(list: readonly string[]): boolean {
  for (let i = 1; i < list.length; i++) if (list[i - 1]! >= list[i]!) return false;
  return true;
}

/** A header as the canonical value that is signed (and encoded in the envelope). */
export function headerValue(h: EventHeader): Record<string, CanonicalValue> {
  return {
    v: h.v,
    pursuance: h.pursuance,
    author: h.author,
    seq: h.seq,
    parents: [...h.parents],
    time: h.time,
    kind: h.kind,
    audience: [...h.audience],
    body: h.body,
  };
}

function normalisedHeader<K extends EventKind>(author: Uint8Array, header: Omit<EventHeader<K>, 'v' | 'author'>): EventHeader<K> {
  return {
    ...header,
    v: EVENT_FORMAT_VERSION,
    author,
    parents: [...header.parents].sort((a, b) => Buffer.compare(a, b)),
    audience: [...new Set(header.audience)].sort(),
  };
}

/**
 * The event a header would become, before anything is signed: for checking an action against
 * the rules first. It has no bytes and a placeholder id; never store or send it.
 */
export function unsignedCandidate<K extends EventKind>(identity: Identity, header: Omit<EventHeader<K>, 'v' | 'author'>): SignedEvent<K> {
  const full = normalisedHeader(identity.publicKey, header);
  return {
    id: '0'.repeat(64) as EventId,
    bytes: new Uint8Array(0),
    header: full,
    author: identity.onion,
    parentIds: full.parents.map(eventIdFromBytes),
    pursuanceId: full.pursuance === null ? null : eventIdFromBytes(full.pursuance),
  };
}

/** Sign a header. Parents and audience are sorted here, so callers need not. */
export function signEvent<K extends EventKind>(identity: Identity, header: Omit<EventHeader<K>, 'v' | 'author'>): SignedEvent<K> {
  const full = normalisedHeader(identity.publicKey, header);
  const encodedHeader = canonicalEncode(headerValue(full));
  const sig = identity.sign(concatBytes(DOMAIN, encodedHeader));
  const signed = canonicalEncode({ event: headerValue(full), sig });
  return decodeEvent(signed) as SignedEvent<K>;
}

const EnvelopeSchema = z.strictObject({ event: z.unknown(), sig: bytes(64) });

/**
 * A canonical envelope is the map {sig, event} in that key order ("sig" sorts first), so its
 * bytes are a fixed 77-byte prefix — map header, "sig", the 64-byte signature, "event" —
 * followed by exactly the canonical header that was signed. Slicing it out saves re-encoding
 * the header for every event on replay; the prefix is checked and re-encoding is the fallback.
 */
const ENVELOPE_PREFIX = Uint8Array.from([0xa2, 0x63, 0x73, 0x69, 0x67, 0x58, 0x40]);
const EVENT_KEY = Uint8Array.from([0x65, 0x65, 0x76, 0x65, 0x6e, 0x74]);
const SIGNED_OFFSET = ENVELOPE_PREFIX.length + 64 + EVENT_KEY.length;

function hasEnvelopePrefix(envelopeBytes: Uint8Array): boolean {
  return (
    envelopeBytes.length > SIGNED_OFFSET &&
    ENVELOPE_PREFIX.every((b, i) => envelopeBytes[i] === b) &&
    EVENT_KEY.every((b, i) => envelopeBytes[ENVELOPE_PREFIX.length + 64 + i] === b)
  );
}

function signedHeaderBytes(envelopeBytes: Uint8Array, header: unknown): Uint8Array {
  return hasEnvelopePrefix(envelopeBytes) ? envelopeBytes.subarray(SIGNED_OFFSET) : canonicalEncode(header as CanonicalValue);
}

/** Author key → onion name; replay sees the same few dozen authors over and over. */
const onionCache = new Map<string, OnionName>();
function authorOnion(key: Uint8Array): OnionName {
  const id = Buffer.from(key).toString('base64');
  let onion = onionCache.get(id);
  if (onion === undefined) {
    onion = onionFromPublicKey(key);
    if (onionCache.size >= 10_000) onionCache.clear();
    onionCache.set(id, onion);
  }
  return onion;
}

/**
 * Parse and verify an event from bytes: canonical encoding, envelope and header schema, the
 * kind's body schema (unknown fields and kinds rejected), sorted parents/audience, signature.
 * Throws EventRejectedError with a code; never returns an unverified event.
 */
export function decodeEvent(bytesIn: Uint8Array, verifier: SignatureVerifier = defaultVerifier): SignedEvent {
  if (bytesIn.length > MAX_EVENT_BYTES) throw new EventRejectedError(RejectionCode.INVALID_ENCODING, `event exceeds ${MAX_EVENT_BYTES} bytes`);
  const { header: h, sig, signedPart } = parseEnvelope(bytesIn);
  if (!sortedUniqueBytes(h.parents)) throw new EventRejectedError(RejectionCode.INVALID_SCHEMA, 'parents must be sorted and unique');
  if (!sortedUniqueStrings(h.audience)) throw new EventRejectedError(RejectionCode.INVALID_SCHEMA, 'audience must be sorted and unique');
  if ((h.kind === 'genesis') !== (h.pursuance === null)) {
    throw new EventRejectedError(RejectionCode.INVALID_GENESIS, 'only a genesis event has no pursuance id');
  }
  let valid: boolean;
  try {
    valid = verifier.verify(concatBytes(DOMAIN, signedPart), sig, h.author);
  } catch {
    valid = false;
  }
  if (!valid) throw new EventRejectedError(RejectionCode.BAD_SIGNATURE, 'signature does not verify under the author key');
  // Nothing here is packed or copied for keeping: a log copies the encoding into its arena and
  // keeps the decoded header only for a while (held-event.ts). The header's byte strings are
  // the decoder's own copies, never views of `bytesIn`.
  return {
    id: toHex(sha256(bytesIn)) as EventId,
    bytes: bytesIn,
    header: h,
    author: authorOnion(h.author),
    parentIds: h.parents.map(eventIdFromBytes),
    pursuanceId: h.pursuance === null ? null : eventIdFromBytes(h.pursuance),
  };
}

/**
 * The encoding's header, schema-checked (the kind's body included), before anything about
 * ordering or the signature is checked: what decodeEvent checks further, and what a held
 * event decodes again from bytes that passed decodeEvent once (held-event.ts).
 */
function parseEnvelope(bytesIn: Uint8Array): { header: EventHeader; sig: Uint8Array; signedPart: Uint8Array } {
  let value: CanonicalValue;
  try {
    // With the fixed envelope prefix in place, the rest of the bytes is exactly the signed
    // header (checked by the signature below), so nobody but the signer can re-encode it and
    // the re-encode comparison can be skipped on this hot path. Anything else gets the full
    // canonical check.
    value = hasEnvelopePrefix(bytesIn) ? strictDecode(bytesIn) : canonicalDecode(bytesIn);
  } catch (cause) {
    const detail = cause instanceof CryptoError ? cause.message : 'undecodable';
    throw new EventRejectedError(RejectionCode.INVALID_ENCODING, `not a canonical event: ${detail}`, { cause });
  }
  const envelope = EnvelopeSchema.safeParse(value);
  if (!envelope.success) throw schemaError('envelope', envelope.error);
  const header = HeaderSchema.safeParse(envelope.data.event);
  if (!header.success) throw schemaError('event header', header.error);
  const h = header.data;
  const body = BODY_SCHEMAS[h.kind].safeParse(h.body);
  if (!body.success) throw schemaError(`${h.kind} body`, body.error);
  return {
    header: { ...h, body: body.data },
    sig: envelope.data.sig,
    signedPart: signedHeaderBytes(bytesIn, envelope.data.event),
  };
}

/**
 * The header of an event decodeEvent already accepted, decoded again from its bytes: the same
 * value, byte strings in allocations of their own. Only for bytes that passed decodeEvent in
 * this process (a held event's): nothing here checks the signature.
 */
export function headerOfVerified(bytesIn: Uint8Array): EventHeader {
  return parseEnvelope(bytesIn).header;
}

function schemaError(what: string, error: z.ZodError): EventRejectedError {
  const issue = error.issues[0];
  const path = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
  return new EventRejectedError(RejectionCode.INVALID_SCHEMA, `invalid ${what}${path}: ${issue?.message ?? 'invalid'}`);
}
