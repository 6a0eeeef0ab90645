import {
  MAX_GROUP_PAYLOAD_PER_MESSAGE,
  isDropBox,
  newDropBoxInvite,
  parseGroupInvite,
  postToDropBox,
  type DropBoxPostOptions,
  type GroupMessage,
} from '@pursuance/cwtch';
import { equalBytes, publicKeyFromOnion, sha256, toHex } from '@pursuance/crypto';
import {
  ActionNotAllowedError,
  ContentUnreadableError,
  DAY_MS,
  HOUR_MS,
  InvalidReceiptError,
  InvalidLinkOfferError as CoreInvalidLinkOfferError,
  InvalidLinkPostError,
  LINK_KEYS_MAX_DAYS,
  VOUCH_HOURS,
  announceableKeys,
  announcedRoles,
  decodeLinkPost,
  encodeLinkPost,
  forkEvidence,
  linkOfferText,
  openLinkTask,
  parseLinkOfferText,
  receiptProblem,
  signReceipt,
  splitAnnouncements,
  vouchText,
  type Announcement,
  type EventId,
  type LinkGrant,
  type LinkParcel,
  type LinkPost,
  type LinkSend,
  type LinkState,
  type Receipt,
  type RoleKey,
  type SignedEvent,
} from '@pursuance/pursuance';
import { InvalidLinkOfferError, InvalidRequestError, NoLinkOfferError, NotAttachedError, UnknownLinkError, errorCode } from '../domain/errors.js';
import type { PursuanceEntry, PursuanceRegistry } from '../domain/registry.js';
import type { DropBoxFollows } from './drop-box-follows.js';
import { LinkStore, type ForkRecord, type LinkDocument, type LinkRefusal, type OutboxEntry, type ReceiptRecord, type StoredOffer } from './link-store.js';
import type { DropBoxPeer } from './sync-peer.js';
import type { SyncService } from './sync.service.js';

/** How long an offer and each announcement last unless asked otherwise (days). */
export const LINK_DAYS_DEFAULT = 7;
/** Announcements are posted again after this long even when no key changed: each lasts a week, so a missed day costs nothing. */
export const REANNOUNCE_MS = DAY_MS;
const TICK_MS = 15 * 60_000;
/** Sends listed per link (the newest). */
const SENT_SHOWN = 100;
/** After a failed post (their relay down), the next try comes this long after, doubling up to TICK_MS. */
const RETRY_BASE_MS = 5_000;

export interface LinkOfferSpec {
  /** The pursuance to link (its id). */
  readonly to: string;
  /** Our role whose current key anchors the link (one this node holds). */
  readonly anchor: string;
  readonly days?: number | undefined;
  /** The relay of our inbox for this link (an exported key bundle); default: the pursuance's relay. */
  readonly relay?: string | undefined;
}

export interface OpenLinkSpec {
  readonly offer: string;
  /** What we call them (default: the name their offer gives). */
  readonly name?: string | undefined;
  readonly theyMay: readonly LinkGrant[];
  readonly weSend: readonly LinkSend[];
}

export interface LinkTaskSpec {
  readonly ours: string;
  readonly theirs: string;
  readonly title: string;
  readonly body: string;
}

export interface LinkOfferModel {
  readonly to: string;
  readonly anchor: string;
  readonly text: string;
  /** The anchor key's id (hex): what the other side compares with us out of band before opening. */
  readonly keyId: string;
  readonly validUntil: number;
  readonly createdAt: number;
  /** Our link to them is open (it names this offer's inbox). */
  readonly linked: boolean;
}

export interface LinkOfferPreview {
  readonly peer: string;
  readonly name: string;
  readonly anchor: string;
  /** Compare it with them over another channel before opening the link. */
  readonly keyId: string;
  readonly validUntil: number;
  /** This node's member made an offer to them (opening needs one). */
  readonly ourOffer: boolean;
  readonly linked: boolean;
}

export interface LinkModel {
  readonly peer: string;
  readonly name: string;
  readonly theirAnchor: string;
  readonly ourAnchor: string;
  readonly theyMay: readonly LinkGrant[];
  readonly weSend: readonly LinkSend[];
  /** Their roles' keys as last announced. */
  readonly keys: readonly { role: string; n: number; keyId: string; validUntil: number; expired: boolean }[];
  readonly frozen: { role: string; n: number } | null;
  /** This node reads our inbox for this link (it holds a key the link concerns). */
  readonly reading: boolean;
  /** This node holds our anchor's current key, so announces our keys to them. */
  readonly announcing: boolean;
  readonly announcedAt: number | null;
  /** Tasks sent from here not yet handed to their inbox's relay. */
  readonly waiting: number;
  /** Our roles this node's member may vouch as for someone joining them (held, with public halves, told to them). */
  readonly vouchRoles: readonly string[];
  /**
   * They froze the link and showed why: two different keys of ours for one role and ordinal, both
   * signed by our anchor's keys (`signers`, their ordinals): whoever holds such a key, or held it,
   * signs for us. `resolved` once our anchor was re-keyed past every signer (then a new offer
   * lets them open the link again). The latest report, or null.
   */
  readonly fork: (Omit<ForkRecord, 'pursuanceId' | 'peer'> & { readonly resolved: boolean }) | null;
  /** What arrived from them and was refused, newest first (the log keeps only what it accepted). */
  readonly refused: readonly LinkRefusal[];
  /** Our tasks to them (link.send in our log), newest first, with what their receipts said. */
  readonly sent: readonly LinkSentModel[];
  /**
   * Receipts for tasks our log holds no link.send of: someone holding a sending role's key sent
   * without recording it (FEDERATION.md L14), or a send not synced here yet.
   */
  readonly unlogged: readonly { digest: string; verdict: 'accepted' | 'refused'; at: number }[];
}

/** A vouch made here (LinkService.vouch): its text for the applicant, and until when it holds. */
export interface VouchModel {
  readonly text: string;
  readonly role: string;
  readonly applicant: string;
  readonly validUntil: number;
}

export interface LinkSentModel {
  /** The link.send event. */
  readonly id: string;
  readonly ours: string;
  readonly theirs: string;
  readonly by: string;
  readonly at: number;
  /** waiting: in this node's outbox; sent: no receipt yet; accepted or refused: as their receipt says. */
  readonly status: 'waiting' | 'sent' | 'accepted' | 'refused';
  readonly code: string | null;
  readonly reason: string | null;
}

export interface LinkTaskSent {
  /** The link.send event. */
  readonly id: string;
  /** Their inbox's relay holds it (false: kept, retried until it does). */
  readonly posted: boolean;
}

interface Target {
  readonly pursuanceId: string;
  readonly peer: EventId;
}

/**
 * Links between pursuances, on this node (the rules are the fold's: fold/links.ts).
 *
 * Each side's member makes an offer (its anchor key, signed by itself, with a new inbox: a drop
 * box on a relay of its choosing) and gives its text to the other side, who opens the link with
 * it. From then on:
 * - nodes holding our anchor's current key post our announcements to their inbox: at once, after
 *   each rotation of a role the link concerns, and daily (each lasts a week);
 * - nodes holding a key the link concerns read our inbox and carry what arrives into the log:
 *   announcements (skipping what the log has), and tasks for a role whose key they hold (after
 *   checking they open). What the fold would refuse is not signed; it is kept here with its reason;
 * - a holder of a sending role sends a task: `link.send` in our log, the parcel to their inbox
 *   (kept and retried while their relay is unreachable).
 * Neither main relay is involved, so a relay move of either pursuance leaves the link as it was.
 */
export class LinkService {
  readonly #store: LinkStore;
  readonly #listeners = new Set<(pursuanceId: string) => void>();
  readonly #off: (() => void)[] = [];
  #queued: GroupMessage[] = [];
  #draining = false;
  #flushing: Promise<void> | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #running = false;
  /** When this service started (its clock): an outbox entry older than that whose event was never stored is dropped. */
  #startedAt = 0;
  /**
   * Per pursuance, the link.send events its log holds, found by one walk of the log and then kept
   * current from the registry's changes: listing links (on every change the dashboard hears of)
   * reads these, not the whole log. Tied to the author it was built from (a reload starts over).
   */
  readonly #sends = new Map<string, { readonly author: unknown; readonly ids: Set<EventId> }>();
  /** Aborts posts in flight when the service stops. */
  readonly #stopping = new AbortController();
  /** Inboxes whose history was queued since this node started. */
  readonly #scanned = new Set<string>();
  /** Failed posts in a row, and the early retry they scheduled. */
  #failures = 0;
  #retry: NodeJS.Timeout | undefined;
  /** Receipts were queued while carrying in: post them once the batch is done. */
  #receiptsQueued = false;

  public constructor(
    private readonly peer: DropBoxPeer,
    private readonly registry: PursuanceRegistry,
    private readonly sync: Pick<SyncService, 'linkOf' | 'trustRelay'>,
    store: ConstructorParameters<typeof LinkStore>[0],
    private readonly post: DropBoxPostOptions,
    private readonly follows: DropBoxFollows,
    private readonly now: () => number = Date.now,
  ) {
    this.#store = new LinkStore(store);
    follows.want('links', () => this.#wanted());
  }

  public onChange(listener: (pursuanceId: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  public start(): void {
    const onMessage = (m: GroupMessage): void => {
      if (!this.#running || m.own || !isDropBox(this.peer.group(m.groupId).name)) return;
      this.#queued.push(m);
      this.#drainSoon();
    };
    const onChange = ({ pursuanceId, events }: { pursuanceId: string; events: readonly SignedEvent[] }): void => {
      const sends = this.#sends.get(pursuanceId);
      for (const e of events) if (e.header.kind === 'link.send') sends?.ids.add(e.id);
      if (this.#running) void this.#serial(() => this.#refresh(pursuanceId)).catch((err: unknown) => this.#warn(err));
    };
    this.peer.on('groupMessage', onMessage);
    this.#off.push(() => this.peer.off('groupMessage', onMessage));
    this.#off.push(this.registry.onChange(onChange));
    this.#running = true;
    this.#startedAt = this.now();
    // Not awaited: announcing and posting wait on relays, and start-up must not.
    const tick = (): void => void this.tick().catch((err: unknown) => this.#warn(err));
    tick();
    const timer = setInterval(tick, TICK_MS);
    timer.unref();
    this.#off.push(() => clearInterval(timer));
  }

  /** Stop, and wait for work under way (posts in flight are aborted) so nothing touches the store after. */
  public async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#retry);
    for (const off of this.#off.splice(0)) off();
    this.#stopping.abort();
    await this.#flushing?.catch(() => undefined);
    await this.#chain.catch(() => undefined);
  }

  /** Resolves once everything queued so far has been handled (posts in flight included). */
  public async idle(): Promise<void> {
    for (;;) {
      await this.#serial(() => Promise.resolve());
      await this.#flushing;
      if (this.#queued.length === 0 && !this.#draining && this.#flushing === undefined) return;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Follow inboxes, announce what is due, take in what the inboxes hold, post what waits (the timer calls this). */
  public async tick(): Promise<void> {
    await this.#serial(async () => {
      for (const entry of this.registry.list()) await this.#refresh(entry.id).catch((err: unknown) => this.#warn(err));
      await this.follows.tidy();
    });
    this.#flushSoon();
  }

  // --- offers and opening -----------------------------------------------------------------

  public offer(pursuanceId: string, spec: LinkOfferSpec): Promise<LinkOfferModel> {
    return this.#serial(async () => {
      const entry = this.registry.get(pursuanceId);
      if (spec.to === pursuanceId) throw new InvalidRequestError('A pursuance does not link to itself.', 'to');
      const days = spec.days ?? LINK_DAYS_DEFAULT;
      if (!Number.isInteger(days) || days < 1 || days > LINK_KEYS_MAX_DAYS)
        throw new InvalidRequestError(`An offer lasts 1 to ${LINK_KEYS_MAX_DAYS} days.`, 'days');
      let bundle: string;
      if (spec.relay !== undefined) {
        await this.sync.trustRelay(spec.relay, 'relay');
        bundle = spec.relay;
      } else {
        const link = this.sync.linkOf(pursuanceId);
        if (link === null) throw new NotAttachedError(pursuanceId);
        bundle = link.bundle;
      }
      const now = this.now();
      const inbox = newDropBoxInvite(bundle, now);
      const offer = entry.author.linkOffer(spec.to as EventId, spec.anchor, days, inbox);
      const stored: StoredOffer = {
        pursuanceId,
        to: spec.to,
        anchor: spec.anchor,
        inbox,
        text: linkOfferText(offer),
        keyId: toHex(offer.anchor.keyId),
        validUntil: offer.anchor.validUntil,
        createdAt: now,
      };
      await this.#store.update((doc) => void doc.offers.push(stored));
      // Followed now: their announcements may arrive before our side of the link is open.
      await this.peer.acceptGroupInvite(inbox);
      await this.follows.tidy();
      this.#changed(pursuanceId);
      return this.#offerModel(entry, stored);
    });
  }

  public async offers(pursuanceId: string): Promise<LinkOfferModel[]> {
    const entry = this.registry.get(pursuanceId);
    const doc = await this.#store.read();
    return doc.offers
      .filter((o) => o.pursuanceId === pursuanceId)
      .reverse()
      .map((o) => this.#offerModel(entry, o));
  }

  #offerModel(entry: PursuanceEntry, o: StoredOffer): LinkOfferModel {
    const link = entry.log.state().links?.get(o.to as EventId);
    return {
      to: o.to,
      anchor: o.anchor,
      text: o.text,
      keyId: o.keyId,
      validUntil: o.validUntil,
      createdAt: o.createdAt,
      linked: link?.ourInbox === o.inbox,
    };
  }

  public async preview(pursuanceId: string, text: string): Promise<LinkOfferPreview> {
    const entry = this.registry.get(pursuanceId);
    const offer = this.#parse(pursuanceId, text);
    const peer = offer.anchor.from;
    return {
      peer,
      name: offer.name,
      anchor: offer.anchor.role,
      keyId: toHex(offer.anchor.keyId),
      validUntil: offer.anchor.validUntil,
      ourOffer: (await this.#ourOffer(pursuanceId, peer)) !== undefined,
      linked: entry.log.state().links?.has(peer as EventId) ?? false,
    };
  }

  /** Open (or open again) our side of the link from their offer; our own latest offer to them gives our anchor and inbox. */
  public open(pursuanceId: string, spec: OpenLinkSpec): Promise<LinkModel> {
    return this.#serial(async () => {
      this.registry.get(pursuanceId);
      const offer = this.#parse(pursuanceId, spec.offer);
      const peer = offer.anchor.from as EventId;
      const ours = await this.#ourOffer(pursuanceId, peer);
      if (!ours) throw new NoLinkOfferError();
      await this.registry.act(pursuanceId, (a) =>
        a.openLink({ offer, name: spec.name ?? offer.name, theyMay: spec.theyMay, ourAnchor: ours.anchor, weSend: spec.weSend, ourInbox: ours.inbox }),
      );
      await this.#refresh(pursuanceId);
      await this.follows.tidy();
      this.#changed(pursuanceId);
      return (await this.#linkModels(pursuanceId)).find((l) => l.peer === peer)!;
    });
  }

  public close(pursuanceId: string, peer: string): Promise<void> {
    return this.#serial(async () => {
      const entry = this.registry.get(pursuanceId);
      if (!entry.log.state().links?.has(peer as EventId)) throw new UnknownLinkError();
      await this.registry.act(pursuanceId, (a) => a.closeLink(peer as EventId));
      await this.follows.tidy();
      this.#changed(pursuanceId);
    });
  }

  public links(pursuanceId: string): Promise<LinkModel[]> {
    this.registry.get(pursuanceId);
    return this.#linkModels(pursuanceId);
  }

  async #linkModels(pursuanceId: string): Promise<LinkModel[]> {
    const entry = this.registry.get(pursuanceId);
    const doc = await this.#store.read();
    const now = this.now();
    return [...(entry.log.state().links?.values() ?? [])]
      .sort((a, b) => (a.peer < b.peer ? -1 : 1))
      .map((l) => ({
        peer: l.peer,
        name: l.name,
        theirAnchor: l.theirAnchor,
        ourAnchor: l.ourAnchor,
        theyMay: l.theyMay.map((g) => ({ ...g })),
        weSend: l.weSend.map((w) => ({ ...w })),
        keys: [...l.keys]
          .sort(([a], [b]) => (a < b ? -1 : 1))
          .map(([role, k]) => ({ role, n: k.n, keyId: toHex(k.keyId), validUntil: k.validUntil, expired: k.validUntil <= now })),
        frozen: l.frozen ? { role: l.frozen.role, n: l.frozen.n } : null,
        reading: this.#reads(entry, l),
        announcing: this.#announces(entry, l),
        announcedAt: doc.announced.find((x) => x.pursuanceId === pursuanceId && x.peer === l.peer)?.at ?? null,
        waiting: doc.outbox.filter((o) => o.kind === 'task' && o.pursuanceId === pursuanceId && o.peer === l.peer).length,
        vouchRoles: announcedRoles(l).filter((role) => this.#vouchesAs(entry, role)),
        fork: this.#forkModel(entry, l, doc),
        refused: doc.refused.filter((r) => r.pursuanceId === pursuanceId && r.peer === l.peer).reverse(),
        ...this.#sentModels(entry, l.peer, doc),
      }));
  }

  #forkModel(entry: PursuanceEntry, link: LinkState, doc: LinkDocument): LinkModel['fork'] {
    const f = doc.forks.filter((x) => x.pursuanceId === entry.id && x.peer === link.peer).at(-1);
    if (!f) return null;
    const anchorKeys = announceableKeys(entry.log.state(), link.ourAnchor).length;
    const { pursuanceId: _p, peer: _peer, ...rest } = f;
    return { ...rest, resolved: anchorKeys > Math.max(...f.signers) };
  }

  /** Our link.send records to `peer` (the latest SENT_SHOWN), matched with their receipts by digest. */
  #sentModels(entry: PursuanceEntry, peer: string, doc: LinkDocument): Pick<LinkModel, 'sent' | 'unlogged'> {
    const receipts = new Map(doc.receipts.filter((r) => r.pursuanceId === entry.id && r.peer === peer).map((r) => [r.digest, r]));
    const waiting = new Set(doc.outbox.map((o) => o.id));
    const log = entry.log;
    const digests = new Set<string>();
    const sent: LinkSentModel[] = [];
    let known = this.#sends.get(entry.id);
    if (known?.author !== entry.author) {
      known = { author: entry.author, ids: new Set(log.order().filter((id) => log.event(id)?.header.kind === 'link.send')) };
      // Kept only while changes keep it current.
      if (this.#running) this.#sends.set(entry.id, known);
    }
    const ordered = [...known.ids]
      .map((id) => log.event(id))
      .filter((e): e is SignedEvent => e !== undefined)
      .sort((a, b) => a.header.time - b.header.time || (a.id < b.id ? -1 : 1));
    for (const e of ordered) {
      const id = e.id;
      if (e.header.kind !== 'link.send' || !log.isAccepted(id)) continue;
      const body = (e as SignedEvent<'link.send'>).header.body;
      if (body.peer !== peer) continue;
      const digest = toHex(body.digest);
      digests.add(digest);
      const r = receipts.get(digest);
      sent.push({
        id,
        ours: body.ours,
        theirs: body.theirs,
        by: e.author,
        at: e.header.time,
        status: waiting.has(id) ? 'waiting' : (r?.verdict ?? 'sent'),
        code: r?.code || null,
        reason: r?.reason || null,
      });
    }
    const unlogged = [...receipts.values()].filter((r) => !digests.has(r.digest)).map((r) => ({ digest: r.digest, verdict: r.verdict, at: r.at }));
    return { sent: sent.reverse().slice(0, SENT_SHOWN), unlogged };
  }

  #parse(pursuanceId: string, text: string) {
    try {
      return parseLinkOfferText(text, pursuanceId, this.now());
    } catch (err) {
      if (err instanceof CoreInvalidLinkOfferError) throw new InvalidLinkOfferError(err.message);
      throw err;
    }
  }

  async #ourOffer(pursuanceId: string, peer: string): Promise<StoredOffer | undefined> {
    return (await this.#store.read()).offers.filter((o) => o.pursuanceId === pursuanceId && o.to === peer).at(-1);
  }

  // --- sending ----------------------------------------------------------------------------

  /**
   * Vouch, as our role `role`, for `applicant` (an onion) joining `peer` by request: signed here
   * with the role's current key, nothing logged, nothing posted. The text goes to the applicant
   * by any channel (only they can open it), who sends it with their request.
   */
  public vouch(pursuanceId: string, peer: string, spec: { readonly role: string; readonly applicant: string }): VouchModel {
    const entry = this.registry.get(pursuanceId);
    if (!entry.log.state().links?.has(peer as EventId)) throw new UnknownLinkError();
    let applicant: Uint8Array;
    try {
      applicant = publicKeyFromOnion(spec.applicant);
    } catch {
      throw new InvalidRequestError("That is not a Cwtch address: it is the 56 letters and digits of the applicant's onion.", 'applicant');
    }
    const v = entry.author.vouch(peer as EventId, spec.role, applicant);
    return { text: vouchText(v), role: v.role, applicant: spec.applicant, validUntil: (v.hour + VOUCH_HOURS + 1) * HOUR_MS };
  }

  /** Send a task over the link: `link.send` in our log, then the parcel to their inbox (kept and retried until their relay has it). */
  public async send(pursuanceId: string, peer: string, spec: LinkTaskSpec): Promise<LinkTaskSent> {
    const entry = await this.#serial(async () => {
      const e = this.registry.get(pursuanceId);
      const link = e.log.state().links?.get(peer as EventId);
      if (!link) throw new UnknownLinkError();
      let parcel: LinkParcel | undefined;
      let out: OutboxEntry | undefined;
      // The parcel is in the outbox before the send is in the log: a crash between the two leaves
      // an outbox entry for an event never stored, which the next start drops (#flushNow), never a
      // recorded send whose parcel is lost.
      await this.registry.act(
        pursuanceId,
        (a) => {
          const sent = a.sendOverLink(peer as EventId, spec, MAX_GROUP_PAYLOAD_PER_MESSAGE);
          parcel = sent.parcel;
          return sent.event;
        },
        async (event) => {
          out = {
            kind: 'task',
            id: event.id,
            pursuanceId,
            peer,
            inbox: link.theirInbox,
            post: Buffer.from(encodeLinkPost({ t: 'task', p: parcel! })).toString('base64'),
            createdAt: this.now(),
            tries: 0,
            lastError: null,
          };
          const entry = out;
          await this.#store.update((doc) => void doc.outbox.push(entry));
        },
      );
      return out!;
    });
    // A flush already under way read the outbox before this entry was in it: the next one posts it.
    await this.#flushing;
    await this.#flushNow();
    const waiting = (await this.#store.read()).outbox.some((o) => o.id === entry.id);
    this.#changed(pursuanceId);
    return { id: entry.id, posted: !waiting };
  }

  #flushSoon(): void {
    void this.#flushNow().catch((err: unknown) => this.#warn(err));
  }

  /** Post what waits in the outbox, one at a time, outside the serial chain (a post over Tor takes a while). */
  #flushNow(): Promise<void> {
    this.#flushing ??= (async () => {
      try {
        for (const out of (await this.#store.read()).outbox) {
          if (!this.#running) return;
          if (out.kind === 'task' && !this.#recorded(out)) {
            // Written before its event was stored, by a node that stopped in between: never sent, never recorded.
            if (out.createdAt < this.#startedAt) {
              await this.#store.update((doc) => void (doc.outbox = doc.outbox.filter((o) => o.id !== out.id)));
              this.#changed(out.pursuanceId);
            }
            continue;
          }
          try {
            await postToDropBox(out.inbox, new Uint8Array(Buffer.from(out.post, 'base64')), this.#postOptions());
            this.#failures = 0;
            await this.#store.update((doc) => {
              doc.outbox = doc.outbox.filter((o) => o.id !== out.id);
            });
          } catch (err) {
            this.#failed();
            const code = err instanceof Error ? ((err as { code?: string }).code ?? err.name) : 'unknown';
            await this.#store.update((doc) => {
              const o = doc.outbox.find((x) => x.id === out.id);
              if (o) Object.assign(o, { tries: o.tries + 1, lastError: code });
            });
          }
        }
      } finally {
        this.#flushing = undefined;
      }
    })();
    return this.#flushing;
  }

  // --- announcing -------------------------------------------------------------------------

  /** Follow what this node reads of `pursuanceId`'s links, announce what is due, and take in what their inboxes already hold. */
  async #refresh(pursuanceId: string): Promise<void> {
    if (!this.registry.has(pursuanceId) || !this.registry.isLoaded(pursuanceId)) return;
    const entry = this.registry.get(pursuanceId);
    const links = entry.log.state().links;
    if (!links?.size) return;
    for (const link of links.values()) {
      const groupId = inboxGroupId(link.ourInbox);
      if (groupId !== null && this.#reads(entry, link)) {
        if (!this.peer.groups().some((g) => g.id === groupId)) await this.peer.acceptGroupInvite(link.ourInbox);
        // What it held before this node read it for an open link (posts that came before our side
        // opened were left unhandled); later posts arrive as messages.
        if (!this.#scanned.has(groupId)) {
          this.#scanned.add(groupId);
          this.#queued.push(...this.peer.groupHistory(groupId));
        }
      }
      if (this.#announces(entry, link)) {
        await this.#announce(entry, link).catch((err: unknown) => {
          this.#warn(err);
          this.#failed();
        });
      }
      if (link.frozen && this.#reads(entry, link)) await this.#reportFork(entry, link);
    }
    this.#drainSoon();
  }

  /**
   * Our side froze: post the two announcements that froze it to their inbox, once per freeze (by
   * each node that reads the link; they keep one report). Both are signed by their anchor's keys,
   * so they can check it without trusting us, and learn that a key of theirs signs for someone
   * else (FEDERATION.md L7).
   */
  async #reportFork(entry: PursuanceEntry, link: LinkState): Promise<void> {
    const id = `fork:${link.frozen!.events.join(':')}`;
    if ((await this.#store.read()).reported.includes(id)) return;
    const pair = link.frozen!.events.map((e) => announcementIn(entry.log.event(e)));
    if (pair[0] === undefined || pair[1] === undefined) return;
    const out: OutboxEntry = {
      kind: 'fork',
      id,
      pursuanceId: entry.id,
      peer: link.peer,
      inbox: link.theirInbox,
      post: Buffer.from(encodeLinkPost({ t: 'fork', f: [pair[0], pair[1]] })).toString('base64'),
      createdAt: this.now(),
      tries: 0,
      lastError: null,
    };
    await this.#store.update((doc) => {
      if (doc.reported.includes(id)) return;
      doc.reported.push(id);
      doc.outbox.push(out);
    });
    this.#flushSoon();
  }

  /** Post our announcements to their inbox when what we announce changed, or a day has passed. */
  async #announce(entry: PursuanceEntry, link: LinkState): Promise<void> {
    // What we would announce, without signing anything: the keys of every role the link concerns.
    const state = entry.log.state();
    const keys = announcedRoles(link).map((role) => `${role}:${(state.roles.get(role)?.epochs ?? []).map((ep) => (ep.pub ? ep.keyIdHex : '-')).join('.')}`);
    const digest = toHex(sha256(new TextEncoder().encode(keys.join(','))));
    const now = this.now();
    const last = (await this.#store.read()).announced.find((x) => x.pursuanceId === entry.id && x.peer === link.peer);
    if (last && last.digest === digest && now - last.at < REANNOUNCE_MS) return;
    let announcements: Announcement[];
    try {
      announcements = entry.author.linkAnnouncements(link.peer, LINK_DAYS_DEFAULT);
    } catch (err) {
      if (err instanceof ActionNotAllowedError) return;
      throw err;
    }
    for (const post of splitAnnouncements(announcements, MAX_GROUP_PAYLOAD_PER_MESSAGE)) await postToDropBox(link.theirInbox, post, this.#postOptions());
    this.#failures = 0;
    await this.#store.update((doc) => {
      doc.announced = doc.announced.filter((x) => !(x.pursuanceId === entry.id && x.peer === link.peer));
      doc.announced.push({ pursuanceId: entry.id, peer: link.peer, digest, at: now });
    });
    this.#changed(entry.id);
  }

  // --- carrying in --------------------------------------------------------------------------

  #drainSoon(): void {
    if (this.#draining) return;
    this.#draining = true;
    setImmediate(() => {
      void this.#serial(async () => {
        try {
          while (this.#queued.length > 0 && this.#running) await this.#handleBatch(this.#queued.splice(0, 200));
        } finally {
          this.#draining = false;
        }
      }).catch((err: unknown) => this.#warn(err));
    });
  }

  /**
   * Carry in what arrived in our inboxes. A post in an inbox of no open link (yet) stays
   * unhandled: the link may open later. Within a batch, keys go in before tasks, as the fold
   * orders concurrent link.keys before link.task: a task whose key was rotated away meanwhile is
   * refused however the posts were ordered on the way.
   */
  async #handleBatch(batch: readonly GroupMessage[]): Promise<void> {
    const targets = this.#targets();
    const handled = new Set((await this.#store.read()).handled);
    const done: string[] = [];
    const refused: LinkRefusal[] = [];
    const changed = new Set<string>();
    const posts: { target: Target; post: LinkPost }[] = [];
    const refuser =
      (target: Target) =>
      (kind: LinkRefusal['kind'], code: string, reason: string): void => {
        refused.push({ pursuanceId: target.pursuanceId, peer: target.peer, kind, code, reason, at: this.now() });
      };
    for (const m of batch) {
      if (handled.has(m.signature)) continue;
      const target = targets.get(m.groupId);
      if (!target) continue;
      handled.add(m.signature);
      done.push(m.signature);
      changed.add(target.pursuanceId);
      try {
        posts.push({ target, post: decodeLinkPost(m.payload) });
      } catch (err) {
        if (!(err instanceof InvalidLinkPostError)) throw err;
        refuser(target)('malformed', err.code, err.message);
      }
    }
    for (const { target, post } of posts) if (post.t === 'keys') for (const a of post.a) await this.#carryKeys(target, a, refuser(target));
    for (const { target, post } of posts) if (post.t === 'task') await this.#carryTask(target, post.p, refuser(target));
    const receipts: ReceiptRecord[] = [];
    for (const { target, post } of posts) if (post.t === 'receipt') this.#takeReceipt(target, post.r, refuser(target), receipts);
    const forks: ForkRecord[] = [];
    for (const { target, post } of posts) if (post.t === 'fork') this.#takeFork(target, post.f, refuser(target), forks);
    if (done.length === 0) return;
    await this.#store.update((doc) => {
      doc.handled.push(...done);
      doc.refused.push(...refused);
      for (const r of receipts) {
        // Several of their holders may answer for one task. Taken in is a fact of their log, so
        // it stands over a refusal (one that lost a race to carry it); otherwise the first word stands.
        const i = doc.receipts.findIndex((x) => x.pursuanceId === r.pursuanceId && x.digest === r.digest);
        if (i === -1) doc.receipts.push(r);
        else if (r.verdict === 'accepted' && doc.receipts[i]!.verdict === 'refused') doc.receipts[i] = r;
      }
      for (const f of forks) {
        doc.forks = doc.forks.filter((x) => !(x.pursuanceId === f.pursuanceId && x.peer === f.peer && x.role === f.role && x.n === f.n));
        doc.forks.push(f);
      }
    });
    for (const id of changed) this.#changed(id);
    if (this.#receiptsQueued) {
      this.#receiptsQueued = false;
      this.#flushSoon();
    }
  }

  async #carryKeys(t: Target, a: Announcement, refuse: (kind: 'keys', code: string, reason: string) => void): Promise<void> {
    const link = this.#link(t);
    if (!link) return;
    if (a.from !== t.peer || a.to !== t.pursuanceId) {
      refuse('keys', 'WRONG_PURSUANCE', 'an announcement for another link');
      return;
    }
    const have = link.keys.get(a.role);
    // What the log already has, or an older statement (a replay, or another anchor holder's post): nothing to carry.
    if (have && (have.n > a.n || (have.n === a.n && equalBytes(have.keyId, a.keyId) && have.validUntil >= a.validUntil))) return;
    try {
      await this.registry.act(t.pursuanceId, (author) => author.carryLinkKeys(a));
    } catch (err) {
      if (!(err instanceof ActionNotAllowedError)) throw err;
      refuse('keys', err.code, err.message);
    }
  }

  async #carryTask(t: Target, parcel: LinkParcel, refuse: (kind: 'task', code: string, reason: string) => void): Promise<void> {
    const entry = this.registry.get(t.pursuanceId);
    const link = this.#link(t);
    if (!link || link.seen.has(toHex(parcel.credential.nonce))) return;
    // The audience's holders carry it (they are the ones it is for, and can check that it opens).
    const current = entry.log.state().roles.get(parcel.credential.on)?.epochs.at(-1);
    const key = current ? entry.author.keyring.get(current.keyIdHex) : undefined;
    if (!key) return;
    // The sender is told what became of it, by us as holders of the role it was for.
    const answer = (verdict: 'accepted' | 'refused', code = '', reason = ''): Promise<void> =>
      this.#answer(entry, link, parcel.credential.on, key, { digest: parcel.credential.digest, verdict, code, reason });
    if (equalBytes(parcel.keyId, current!.keyId)) {
      try {
        openLinkTask(parcel, t.pursuanceId, key);
      } catch (err) {
        if (!(err instanceof ContentUnreadableError)) throw err;
        refuse('task', 'CONTENT_UNREADABLE', err.message);
        await answer('refused', 'CONTENT_UNREADABLE', err.message);
        return;
      }
    }
    try {
      await this.registry.act(t.pursuanceId, (author) => author.carryLinkTask(parcel));
    } catch (err) {
      if (!(err instanceof ActionNotAllowedError)) throw err;
      // Another of our nodes carried it meanwhile (its event reached us first): that one answers.
      if (this.#link(t)?.seen.has(toHex(parcel.credential.nonce))) return;
      refuse('task', err.code, err.message);
      await answer('refused', err.code, err.message);
      return;
    }
    await answer('accepted');
  }

  /** Queue a receipt for a task they sent, signed by our current key of `role`, to their inbox. */
  async #answer(
    entry: PursuanceEntry,
    link: LinkState,
    role: string,
    key: RoleKey,
    what: { digest: Uint8Array; verdict: 'accepted' | 'refused'; code: string; reason: string },
  ): Promise<void> {
    const n = announceableKeys(entry.log.state(), role).length;
    let receipt;
    try {
      receipt = signReceipt({ from: entry.id, to: link.peer, role, n, ...what, hour: Math.floor(this.now() / HOUR_MS) }, key);
    } catch (err) {
      if (err instanceof InvalidReceiptError) return;
      throw err;
    }
    const out: OutboxEntry = {
      kind: 'receipt',
      id: `receipt:${toHex(what.digest)}`,
      pursuanceId: entry.id,
      peer: link.peer,
      inbox: link.theirInbox,
      post: Buffer.from(encodeLinkPost({ t: 'receipt', r: receipt })).toString('base64'),
      createdAt: this.now(),
      tries: 0,
      lastError: null,
    };
    await this.#store.update((doc) => {
      if (!doc.outbox.some((o) => o.id === out.id)) doc.outbox.push(out);
    });
    this.#receiptsQueued = true;
  }

  /** Keep a receipt for one of our tasks once our state vouches for its signature. */
  #takeReceipt(t: Target, r: Receipt, refuse: (kind: 'receipt', code: string, reason: string) => void, receipts: ReceiptRecord[]): void {
    if (!this.registry.has(t.pursuanceId) || !this.registry.isLoaded(t.pursuanceId)) return;
    const problem = receiptProblem(this.registry.get(t.pursuanceId).log.state(), r);
    if (problem !== null || r.from !== t.peer) {
      refuse('receipt', 'INVALID_RECEIPT', problem ?? 'a receipt from another link');
      return;
    }
    receipts.push({ pursuanceId: t.pursuanceId, peer: t.peer, digest: toHex(r.digest), verdict: r.verdict, code: r.code, reason: r.reason, at: this.now() });
  }

  /** Keep their report of a fork of ours once our own state shows it is one (forkEvidence). */
  #takeFork(t: Target, pair: readonly [Announcement, Announcement], refuse: (kind: 'fork', code: string, reason: string) => void, forks: ForkRecord[]): void {
    if (!this.registry.has(t.pursuanceId) || !this.registry.isLoaded(t.pursuanceId)) return;
    const evidence = forkEvidence(this.registry.get(t.pursuanceId).log.state(), t.peer, pair);
    if (typeof evidence === 'string') {
      refuse('fork', 'INVALID_FORK', evidence);
      return;
    }
    forks.push({ pursuanceId: t.pursuanceId, peer: t.peer, ...evidence, signers: [...evidence.signers], at: this.now() });
  }

  /** Our log holds the link.send a task in the outbox is the parcel of (or the pursuance is not loaded to tell). */
  #recorded(out: OutboxEntry): boolean {
    if (!this.registry.has(out.pursuanceId) || !this.registry.isLoaded(out.pursuanceId)) return true;
    return this.registry.get(out.pursuanceId).log.event(out.id as EventId) !== undefined;
  }

  #link(t: Target): LinkState | undefined {
    if (!this.registry.has(t.pursuanceId) || !this.registry.isLoaded(t.pursuanceId)) return undefined;
    return this.registry.get(t.pursuanceId).log.state().links?.get(t.peer);
  }

  /** Our inbox (group id) → the link it belongs to, for the links this node reads. */
  #targets(): Map<string, Target> {
    const out = new Map<string, Target>();
    for (const entry of this.registry.list()) {
      if (!this.registry.isLoaded(entry.id)) continue;
      for (const link of entry.log.state().links?.values() ?? []) {
        if (!this.#reads(entry, link)) continue;
        const groupId = inboxGroupId(link.ourInbox);
        if (groupId !== null) out.set(groupId, { pursuanceId: entry.id, peer: link.peer });
      }
    }
    return out;
  }

  /** The drop boxes links read here: open links' inboxes this node reads, and the inboxes of offers still waiting for their link. */
  async #wanted(): Promise<Set<string>> {
    const wanted = new Set(this.#targets().keys());
    const now = this.now();
    for (const o of (await this.#store.read()).offers) {
      if (o.validUntil <= now || !this.registry.has(o.pursuanceId) || !this.registry.isLoaded(o.pursuanceId)) continue;
      if (
        this.registry
          .get(o.pursuanceId)
          .log.state()
          .links?.has(o.to as EventId)
      )
        continue;
      const groupId = inboxGroupId(o.inbox);
      if (groupId !== null) wanted.add(groupId);
    }
    return wanted;
  }

  /**
   * This node reads the link's inbox: it holds the current key of our anchor, of a role they may
   * send to, or of a role we send from (its receipts come there).
   */
  #reads(entry: PursuanceEntry, link: LinkState): boolean {
    return announcedRoles(link).some((role) => this.#holds(entry, role));
  }

  #announces(entry: PursuanceEntry, link: LinkState): boolean {
    return this.#holds(entry, link.ourAnchor);
  }

  /** We hold `role`'s current key and it has public halves (what their side checks a vouch with). */
  #vouchesAs(entry: PursuanceEntry, role: string): boolean {
    const current = entry.log.state().roles.get(role)?.epochs.at(-1);
    return current?.pub !== undefined && entry.author.keyring.has(current.keyIdHex);
  }

  #holds(entry: PursuanceEntry, role: string): boolean {
    const current = entry.log.state().roles.get(role)?.epochs.at(-1);
    return current !== undefined && entry.author.keyring.has(current.keyIdHex);
  }

  #postOptions(): DropBoxPostOptions {
    return { ...this.post, signal: this.#stopping.signal };
  }

  /** A post failed: try everything again soon (their relay may be back in a moment), then less and less often. */
  #failed(): void {
    this.#failures++;
    if (this.#retry !== undefined || !this.#running) return;
    const delay = Math.min(TICK_MS, RETRY_BASE_MS * 2 ** Math.min(this.#failures - 1, 16));
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      void this.tick().catch((err: unknown) => this.#warn(err));
    }, delay);
    this.#retry.unref();
  }

  #changed(pursuanceId: string): void {
    for (const l of this.#listeners) l(pursuanceId);
  }

  #warn(err: unknown): void {
    this.registry.warn(`links: ${errorCode(err)}`);
  }

  #serial<T>(job: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(job);
    this.#chain = run.catch(() => undefined);
    return run;
  }
}

/** The inbox's group id, or null when it is no group invite we can read. */
function inboxGroupId(inbox: string): string | null {
  try {
    return parseGroupInvite(inbox).invite.groupId;
  } catch {
    return null;
  }
}

/** The announcement an event of ours adopted a key of theirs from: a carried announcement, or the offer a link was opened with. */
function announcementIn(e: SignedEvent | undefined): Announcement | undefined {
  if (e?.header.kind === 'link.keys') return (e as SignedEvent<'link.keys'>).header.body.announcement;
  if (e?.header.kind === 'link.open') return (e as SignedEvent<'link.open'>).header.body.offer.anchor;
  return undefined;
}
