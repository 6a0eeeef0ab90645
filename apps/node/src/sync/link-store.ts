import { z } from 'zod';
import type { EventStore } from '../store/event-store.js';
import { readSealedJson } from '../store/sealed-json.js';

/**
 * What this node keeps of links between pursuances beyond the log, sealed in the node's store:
 * the offers its member made (each names the inbox this side reads, created here, which our
 * `link.open` must name again), the inbox posts already handled, what it last announced over each
 * link, posts waiting to be posted (a relay that was down), the recent refusals of what arrived,
 * with their reasons (the log holds only what was accepted), and the receipts the other side sent
 * for our tasks.
 */
const OfferSchema = z.strictObject({
  pursuanceId: z.string(),
  to: z.string(),
  anchor: z.string(),
  inbox: z.string(),
  text: z.string(),
  keyId: z.string(),
  validUntil: z.number(),
  createdAt: z.number(),
});
export type StoredOffer = z.infer<typeof OfferSchema>;

const AnnouncedSchema = z.strictObject({ pursuanceId: z.string(), peer: z.string(), digest: z.string(), at: z.number() });

const OutboxSchema = z.strictObject({
  /**
   * A task we send (id: its link.send event), a receipt for one of theirs (id: `receipt:` and its
   * digest), or the evidence that froze our side of the link (id: `fork:` and the two events).
   */
  kind: z.enum(['task', 'receipt', 'fork']).default('task'),
  id: z.string(),
  pursuanceId: z.string(),
  peer: z.string(),
  inbox: z.string(),
  /** The encoded post (base64). */
  post: z.string(),
  createdAt: z.number(),
  tries: z.number(),
  lastError: z.string().nullable(),
});
export type OutboxEntry = z.infer<typeof OutboxSchema>;

export const LINK_REFUSAL_KINDS = ['keys', 'task', 'receipt', 'fork', 'malformed'] as const;
const RefusalSchema = z.strictObject({
  pursuanceId: z.string(),
  peer: z.string().nullable(),
  kind: z.enum(LINK_REFUSAL_KINDS),
  code: z.string(),
  reason: z.string(),
  at: z.number(),
});
export type LinkRefusal = z.infer<typeof RefusalSchema>;

/** What the other side told us became of a task we sent (a checked receipt), by the task's digest. */
const ReceiptRecordSchema = z.strictObject({
  pursuanceId: z.string(),
  peer: z.string(),
  digest: z.string(),
  verdict: z.enum(['accepted', 'refused']),
  code: z.string(),
  reason: z.string(),
  at: z.number(),
});
export type ReceiptRecord = z.infer<typeof ReceiptRecordSchema>;
/** Their report that our anchor's keys signed two different keys for one role and ordinal (checked: forkEvidence). */
const ForkRecordSchema = z.strictObject({
  pursuanceId: z.string(),
  peer: z.string(),
  role: z.string(),
  n: z.number(),
  signers: z.array(z.number()),
  ours: z.boolean(),
  at: z.number(),
});
export type ForkRecord = z.infer<typeof ForkRecordSchema>;

const LinkDoc = z.strictObject({
  v: z.literal(1),
  offers: z.array(OfferSchema),
  /** Inbox posts (group message signatures) already carried in or refused. */
  handled: z.array(z.string()),
  announced: z.array(AnnouncedSchema),
  outbox: z.array(OutboxSchema),
  refused: z.array(RefusalSchema),
  receipts: z.array(ReceiptRecordSchema).default([]),
  /** Forks of ours they reported, the latest per link, role and ordinal. */
  forks: z.array(ForkRecordSchema).default([]),
  /** Freezes of our side already reported to them (the outbox ids, `fork:` and the two events). */
  reported: z.array(z.string()).default([]),
});
export type LinkDocument = z.output<typeof LinkDoc>;

const HANDLED_MAX = 20_000;
/** Offers kept per pursuance (the newest); an older offer's inbox is still read once its link is open. */
const OFFERS_MAX = 100;
const REFUSED_MAX = 200;
const RECEIPTS_MAX = 2_000;
const FORKS_MAX = 200;

const empty = (): LinkDocument => ({ v: 1, offers: [], handled: [], announced: [], outbox: [], refused: [], receipts: [], forks: [], reported: [] });

export class LinkStore {
  /**
   * The document as last read or written. The link service reads it on every change of a linked
   * pursuance (is an announcement due?), and it holds up to HANDLED_MAX signatures: opening it
   * each time would cost a decryption of megabytes per event. Only this node writes it.
   */
  #cache: Readonly<LinkDocument> | undefined;

  public constructor(private readonly store: Pick<EventStore, 'sealedDocument' | 'updateSealedDocument'>) {}

  /** The document; not to be changed in place (update() is how). */
  public async read(): Promise<Readonly<LinkDocument>> {
    this.#cache ??= readSealedJson(LinkDoc, await this.store.sealedDocument('links'), empty(), 'links');
    return this.#cache;
  }

  /** Change the document; `change` returns what to answer the caller with. Bounded lists are trimmed, oldest first. */
  public async update<T>(change: (doc: LinkDocument) => T): Promise<T> {
    let out: T | undefined;
    let written: LinkDocument | undefined;
    await this.store.updateSealedDocument('links', (json) => {
      const doc = readSealedJson(LinkDoc, json, empty(), 'links');
      out = change(doc);
      if (doc.handled.length > HANDLED_MAX) doc.handled = doc.handled.slice(doc.handled.length - HANDLED_MAX);
      if (doc.refused.length > REFUSED_MAX) doc.refused = doc.refused.slice(doc.refused.length - REFUSED_MAX);
      if (doc.receipts.length > RECEIPTS_MAX) doc.receipts = doc.receipts.slice(doc.receipts.length - RECEIPTS_MAX);
      if (doc.forks.length > FORKS_MAX) doc.forks = doc.forks.slice(doc.forks.length - FORKS_MAX);
      if (doc.reported.length > FORKS_MAX) doc.reported = doc.reported.slice(doc.reported.length - FORKS_MAX);
      const perPursuance = new Map<string, number>();
      doc.offers = doc.offers
        .reverse()
        .filter((o) => {
          const n = (perPursuance.get(o.pursuanceId) ?? 0) + 1;
          perPursuance.set(o.pursuanceId, n);
          return n <= OFFERS_MAX;
        })
        .reverse();
      written = LinkDoc.parse(doc);
      return JSON.stringify(written);
    });
    this.#cache = written;
    return out as T;
  }
}
