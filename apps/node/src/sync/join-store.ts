import { z } from 'zod';
import type { EventStore } from '../store/event-store.js';
import { readSealedJson } from '../store/sealed-json.js';
import { REPLY_CODES } from './join-messages.js';

/**
 * What joining by link keeps, sealed in the node's store: on the inviting side its invites (the
 * secret's hash, never the secret) with the one request each may receive; on the newcomer's side
 * the requests it sent. Plus the ids of the direct messages already handled, so that messages
 * received but not handled before a crash are handled at the next start, and none twice.
 */
export const INVITE_STATES = ['open', 'requested', 'approved', 'refused', 'revoked'] as const;
export type InviteState = (typeof INVITE_STATES)[number];

const Requester = z.strictObject({ onion: z.string(), name: z.string().nullable(), at: z.number() });

const StoredInviteSchema = z.strictObject({
  id: z.string(),
  hash: z.string(),
  pursuanceId: z.string(),
  createdAt: z.number(),
  expiresAt: z.number(),
  roles: z.array(z.string()),
  preApproved: z.boolean(),
  state: z.enum(INVITE_STATES),
  requester: Requester.nullable(),
  decidedAt: z.number().nullable(),
  /** Why a pre-approved request waits for a person after all (the rules refused the automatic approval). */
  note: z.string().nullable(),
});
export type StoredInvite = z.infer<typeof StoredInviteSchema>;

export const REQUEST_STATUSES = ['sent', 'pending', 'approved', 'refused', 'joined'] as const;
const StoredRequestSchema = z.strictObject({
  pursuanceId: z.string(),
  pursuanceName: z.string(),
  inviter: z.string(),
  inviterName: z.string().nullable(),
  groupId: z.string(),
  expiresAt: z.number(),
  sentAt: z.number(),
  status: z.enum(REQUEST_STATUSES),
  code: z.enum([...REPLY_CODES, 'JOIN_FAILED']).nullable(),
  updatedAt: z.number(),
});
export type StoredRequest = z.infer<typeof StoredRequestSchema>;

const InvitesDoc = z.strictObject({ v: z.literal(1), invites: z.array(StoredInviteSchema), handled: z.array(z.string()) });
const RequestsDoc = z.strictObject({ v: z.literal(1), requests: z.array(StoredRequestSchema), handled: z.array(z.string()) });
export type InvitesDocument = z.infer<typeof InvitesDoc>;
export type RequestsDocument = z.infer<typeof RequestsDoc>;

/** How many handled message ids are remembered (far more than arrive between two starts). */
const HANDLED_MAX = 2_000;

export function rememberHandled(handled: string[], id: string): string[] {
  const next = handled.includes(id) ? handled : [...handled, id];
  return next.length > HANDLED_MAX ? next.slice(next.length - HANDLED_MAX) : next;
}

export class JoinStore {
  public constructor(private readonly store: Pick<EventStore, 'sealedDocument' | 'updateSealedDocument'>) {}

  public async invites(): Promise<InvitesDocument> {
    return readSealedJson(InvitesDoc, await this.store.sealedDocument('join-invites'), { v: 1, invites: [], handled: [] }, 'join invites');
  }

  /** Change the invites document; `change` returns what to answer the caller with. */
  public async updateInvites<T>(change: (doc: InvitesDocument) => T): Promise<T> {
    let out: T | undefined;
    await this.store.updateSealedDocument('join-invites', (json) => {
      const doc = readSealedJson(InvitesDoc, json, { v: 1, invites: [], handled: [] }, 'join invites');
      out = change(doc);
      return JSON.stringify(InvitesDoc.parse(doc));
    });
    return out as T;
  }

  public async requests(): Promise<RequestsDocument> {
    return readSealedJson(RequestsDoc, await this.store.sealedDocument('join-requests'), { v: 1, requests: [], handled: [] }, 'join requests');
  }

  public async updateRequests<T>(change: (doc: RequestsDocument) => T): Promise<T> {
    let out: T | undefined;
    await this.store.updateSealedDocument('join-requests', (json) => {
      const doc = readSealedJson(RequestsDoc, json, { v: 1, requests: [], handled: [] }, 'join requests');
      out = change(doc);
      return JSON.stringify(RequestsDoc.parse(doc));
    });
    return out as T;
  }
}
