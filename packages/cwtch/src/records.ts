import { bytes } from '@pursuance/codec';
import type { CanonicalValue, OnionName } from '@pursuance/crypto';
import { z } from 'zod';
import { MAX_BUCKET_INDEX } from '@pursuance/relay';
import { ProfileCorruptError } from './errors.js';
import { isValidOnion } from './onion-keys.js';

/**
 * The records a profile keeps, with their schemas. Records are sealed at rest (vault.ts); the
 * schemas still check every record read back, so a bug or a damaged store surfaces as a typed
 * ProfileCorruptError instead of undefined behaviour further on.
 */
export const COLLECTIONS = {
  settings: 'settings',
  contacts: 'contacts',
  relays: 'relays',
  groups: 'groups',
  relayCursors: 'relay-cursors',
  outbox: 'outbox',
  groupOutbox: 'group-outbox',
  directMessages: (onion: string) => `dm/${onion}`,
  groupMessages: (groupId: string) => `gm/${groupId}`,
} as const;

const onion = z.string().refine(isValidOnion, 'onion name') as unknown as z.ZodType<OnionName>;
/** Payloads and ciphertexts whose size the record does not fix (their codecs bound them). */
const anyBytes: z.ZodType<Uint8Array> = z.instanceof(Uint8Array);
const int = z.number().int().min(0);

export const SettingsSchema = z.strictObject({
  displayName: z.string(),
  attributes: z.record(z.string(), z.string()),
});
export type Settings = z.infer<typeof SettingsSchema>;

export type ContactState = 'pending' | 'accepted' | 'blocked';
export const ContactSchema = z.strictObject({
  onion,
  name: z.string(),
  state: z.enum(['pending', 'accepted', 'blocked']),
  addedAt: int,
});
export type Contact = z.infer<typeof ContactSchema>;

export const RelayRecordSchema = z.strictObject({ boardOnion: onion, bundle: z.string() });
export type RelayRecord = z.infer<typeof RelayRecordSchema>;

export const GroupRecordSchema = z.strictObject({
  id: z.string().regex(/^[0-9a-f]{32}$/),
  name: z.string(),
  key: bytes(32),
  relay: onion,
  /** The relay's exported signed bundle (what invites carry). */
  bundle: z.string(),
  /** Null: anyone holding the key may post. A list: only these onions. */
  members: z.array(onion).nullable(),
  owner: onion,
  createdAt: int,
  /** The group this one moved to, once a verified move was seen. */
  movedTo: z.string().nullable(),
  /** The group this one continues after a move. */
  movedFrom: z.string().nullable(),
  /** The group this one mirrors on another relay (same key; see Groups.mirror). */
  mirrorOf: z.string().optional(),
  /** The relay bucket the group's messages start at (invites carry it; a joiner fetches from it). */
  since: z.number().int().min(0).max(MAX_BUCKET_INDEX).optional(),
  /**
   * Retired by the application (its members re-keyed into another group): history stays, and
   * new messages are taken only from senders the application still counts as members.
   */
  retired: z.boolean().optional(),
});
export type GroupRecord = z.infer<typeof GroupRecordSchema>;

/**
 * Where a profile is on one relay: the bucket its next fetch starts from (relays with bucketed
 * fetch), and the last message it processed (the "since" replay of relays from before it).
 */
export const RelayCursorSchema = z.strictObject({ since: bytes(64).optional(), bucket: z.number().int().min(0).max(MAX_BUCKET_INDEX).optional() });
export type RelayCursor = z.infer<typeof RelayCursorSchema>;

export const OutboxEntrySchema = z.strictObject({
  id: z.string(),
  to: onion,
  context: z.string(),
  data: anyBytes,
  attempts: int,
  nextAttemptAt: int,
  createdAt: int,
});
export type OutboxEntry = z.infer<typeof OutboxEntrySchema>;

export const DirectMessageSchema = z.strictObject({
  id: z.string(),
  peer: onion,
  direction: z.enum(['in', 'out']),
  overlay: int,
  data: z.string(),
  timestamp: int,
  acked: z.boolean(),
});
export type DirectMessage = z.infer<typeof DirectMessageSchema>;

export const FragmentHeaderSchema = z.strictObject({ id: bytes(16), index: int, count: int, length: int });

export const GroupEntrySchema = z.strictObject({
  signature: bytes(64),
  ciphertext: anyBytes,
  previous: bytes(64),
  sender: onion,
  timestamp: int,
  payload: anyBytes,
  fragment: FragmentHeaderSchema.nullable(),
  own: z.boolean(),
  acked: z.boolean(),
  /** Where it came from: the relay, a peer (gap repair), or ourselves. */
  source: z.enum(['relay', 'peer', 'self']),
});
export type StoredGroupEntry = z.infer<typeof GroupEntrySchema>;

export const GroupOutboxSchema = z.strictObject({ groupId: z.string() });

/** Validate a record read from the vault. */
export function decodeRecord<T>(schema: z.ZodType<T>, value: CanonicalValue | undefined, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ProfileCorruptError(`stored ${what} record is invalid`);
  return parsed.data;
}

/** Records are plain objects of canonical values; this only narrows the type for the vault. */
export function toCanonical(record: object): CanonicalValue {
  return record as unknown as CanonicalValue;
}
