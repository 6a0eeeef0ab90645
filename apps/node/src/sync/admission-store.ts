import { z } from 'zod';
import type { EventStore } from '../store/event-store.js';
import { readSealedJson } from '../store/sealed-json.js';

/**
 * What joining by request keeps, sealed in the node's store. A gatekeeper's node: its review
 * inbox (requests it opened, at most REVIEW_MAX waiting per pursuance), the applicants it blocked,
 * the inbox messages already handled and what it dropped unread, by reason. An applicant's node:
 * the requests it sent (the profile each went to, so answers can be checked against its key).
 * Requests never enter the governed log: this document is all there is of them.
 */
export const REVIEW_STATUSES = ['pending', 'admitted', 'declined'] as const;
export type ReviewStatus = (typeof REVIEW_STATUSES)[number];

const StoredJoinRequestSchema = z.strictObject({
  /** SHA-256 of the request's sealed part (hex): what an answer names. */
  id: z.string(),
  pursuanceId: z.string(),
  onion: z.string(),
  /** The applicant's identity key (hex), which an answer is sealed to. */
  key: z.string(),
  name: z.string(),
  answers: z.array(z.string()),
  /** Leading zero bits of its proof: more work is shown first, and survives a full queue. */
  work: z.number(),
  receivedAt: z.number(),
  status: z.enum(REVIEW_STATUSES),
  decidedAt: z.number().nullable(),
  roles: z.array(z.string()),
  /** The linked pursuance (id, name) and role whose vouch held (absent on requests kept before vouches). */
  vouch: z.strictObject({ peer: z.string(), name: z.string(), role: z.string() }).nullable().optional(),
});
export type StoredJoinRequest = z.infer<typeof StoredJoinRequestSchema>;

/** `vouch`: work enough only for a vouched request, whose vouch did not hold (or was spent). */
export const DROP_COUNTERS = ['malformed', 'foreign', 'stale', 'work', 'replay', 'unreadable', 'blocked', 'full', 'vouch'] as const;
export type DropCounter = (typeof DROP_COUNTERS)[number];
// A counter added later reads as 0 in a document written before it.
const Counters = z.strictObject(Object.fromEntries(DROP_COUNTERS.map((k) => [k, z.number().default(0)])) as Record<DropCounter, z.ZodDefault<z.ZodNumber>>);
export type DropCounts = z.output<typeof Counters>;

const InboxDoc = z.strictObject({
  v: z.literal(1),
  requests: z.array(StoredJoinRequestSchema),
  /** Per pursuance: applicants (onions) whose later requests are dropped unanswered. */
  blocked: z.array(z.strictObject({ pursuanceId: z.string(), onion: z.string() })),
  /** Inbox messages (group message signatures) already handled. */
  handled: z.array(z.string()),
  dropped: z.array(z.strictObject({ pursuanceId: z.string(), counts: Counters })),
  /** Vouches spent (their nonces, hex) with the hour each was made: good once, forgotten once too old to hold anyway. */
  vouches: z.array(z.strictObject({ nonce: z.string(), hour: z.number() })).default([]),
});
export type InboxDocument = z.output<typeof InboxDoc>;

export const SENT_STATUSES = ['sent', 'declined'] as const;
const SentRequestSchema = z.strictObject({
  id: z.string(),
  pursuanceId: z.string(),
  pursuanceName: z.string(),
  /** The profile's text, as pasted: the key its answers are signed with, and the inbox. */
  profile: z.string(),
  inboxGroupId: z.string(),
  sentAt: z.number(),
  expiresAt: z.number(),
  status: z.enum(SENT_STATUSES),
  note: z.string().nullable(),
  updatedAt: z.number(),
});
export type SentRequest = z.infer<typeof SentRequestSchema>;
const SentDoc = z.strictObject({ v: z.literal(1), sent: z.array(SentRequestSchema) });
export type SentDocument = z.infer<typeof SentDoc>;

const HANDLED_MAX = 20_000;

export function zeroCounts(): DropCounts {
  return Object.fromEntries(DROP_COUNTERS.map((k) => [k, 0])) as DropCounts;
}

const emptyInbox = (): InboxDocument => ({ v: 1, requests: [], blocked: [], handled: [], dropped: [], vouches: [] });

export class AdmissionStore {
  public constructor(private readonly store: Pick<EventStore, 'sealedDocument' | 'updateSealedDocument'>) {}

  public async inbox(): Promise<InboxDocument> {
    return readSealedJson(InboxDoc, await this.store.sealedDocument('admission-inbox'), emptyInbox(), 'admission inbox');
  }

  /** Change the inbox document; `change` returns what to answer the caller with. */
  public async updateInbox<T>(change: (doc: InboxDocument) => T): Promise<T> {
    let out: T | undefined;
    await this.store.updateSealedDocument('admission-inbox', (json) => {
      const doc = readSealedJson(InboxDoc, json, emptyInbox(), 'admission inbox');
      out = change(doc);
      if (doc.handled.length > HANDLED_MAX) doc.handled = doc.handled.slice(doc.handled.length - HANDLED_MAX);
      return JSON.stringify(InboxDoc.parse(doc));
    });
    return out as T;
  }

  public async sent(): Promise<SentDocument> {
    return readSealedJson(SentDoc, await this.store.sealedDocument('admission-sent'), { v: 1, sent: [] }, 'sent join requests');
  }

  public async updateSent<T>(change: (doc: SentDocument) => T): Promise<T> {
    let out: T | undefined;
    await this.store.updateSealedDocument('admission-sent', (json) => {
      const doc = readSealedJson(SentDoc, json, { v: 1, sent: [] }, 'sent join requests');
      out = change(doc);
      return JSON.stringify(SentDoc.parse(doc));
    });
    return out as T;
  }
}
