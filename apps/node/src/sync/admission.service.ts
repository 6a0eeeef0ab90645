import { isDropBox, newDropBoxInvite, parseGroupInvite, postToDropBox, type DropBoxPostOptions, type GroupMessage } from '@pursuance/cwtch';
import { fromHex, onionFromPublicKey, toHex, type OnionName } from '@pursuance/crypto';
import {
  ActionNotAllowedError,
  InvalidProfileError as CoreInvalidProfileError,
  JoinRequestError,
  DAY_MS,
  InvalidVouchError,
  PROFILE_MAX_DAYS,
  REQUEST_HOURS_BACK,
  VOUCH_DISCOUNT_BITS,
  VOUCH_HOURS,
  ProfileExpiredError,
  hourOf,
  openJoinAnswer,
  openJoinRequest,
  parseProfileText,
  profileText,
  screenRequest,
  sealJoinAnswer,
  sealJoinRequestAsync,
  openVouchText,
  vouchHourProblem,
  vouchProblem,
  type EventId,
  type Profile,
  type Vouch,
} from '@pursuance/pursuance';
import {
  InvalidProfileError,
  InvalidRequestError,
  JoinRequestClosedError,
  NoProfileError,
  NotAttachedError,
  UnknownJoinRequestError,
  errorCode,
} from '../domain/errors.js';
import type { PursuanceRegistry } from '../domain/registry.js';
import {
  AdmissionStore,
  zeroCounts,
  type DropCounter,
  type DropCounts,
  type InboxDocument,
  type SentRequest,
  type StoredJoinRequest,
} from './admission-store.js';
import { DropBoxFollows } from './drop-box-follows.js';
import type { JoinService } from './join.service.js';
import type { DropBoxPeer } from './sync-peer.js';
import type { SyncService } from './sync.service.js';

/** What joining by request needs of the Cwtch peer: following inboxes, and their messages. */
export type AdmissionPeer = DropBoxPeer;

/** Requests waiting for a decision, per pursuance, on one node: a flood fills this and no more. */
export const REVIEW_MAX = 200;
export const EFFORT_DEFAULT = 18;
/** Vouches remembered as spent, per node, at most (each for VOUCH_HOURS and a little). */
export const VOUCHES_MAX = 10_000;
export const PROFILE_DAYS_DEFAULT = 7;
/** A profile this node published is renewed when it expires sooner than this. */
export const RENEW_BEFORE_MS = 2 * DAY_MS;
const RENEW_CHECK_MS = 3_600_000;

export interface PublishProfileSpec {
  /** The role whose holders read requests (one this node's member holds). */
  readonly role: string;
  readonly name?: string | undefined;
  readonly about: string;
  readonly asks: readonly string[];
  readonly effort?: number | undefined;
  readonly days?: number | undefined;
  /** The inbox's relay (an exported key bundle); default: the current profile's inbox, else the pursuance's relay. */
  readonly relay?: string | undefined;
}

export interface ProfileModel {
  readonly text: string;
  readonly id: string;
  readonly name: string;
  readonly about: string;
  readonly asks: readonly string[];
  readonly role: string;
  readonly effort: number;
  readonly validUntil: number;
  readonly publishedBy: string;
  /** Its key is no longer the role's current one (a holder left since): publish it again. */
  readonly stale: boolean;
  /** This node holds its key, so reads its inbox. */
  readonly reading: boolean;
}

export interface JoinRequestModel {
  readonly id: string;
  readonly onion: string;
  readonly name: string;
  readonly answers: readonly string[];
  readonly asks: readonly string[];
  readonly work: number;
  readonly receivedAt: number;
  /** `member`: admitted (here or by another gatekeeper), whatever this node decided. */
  readonly status: StoredJoinRequest['status'] | 'member';
  readonly decidedAt: number | null;
  readonly roles: readonly string[];
  /** The linked pursuance and role that vouched for the applicant (their vouch held here), or null. */
  readonly vouch: { readonly peer: string; readonly name: string; readonly role: string } | null;
}

export interface ReviewInboxModel {
  readonly requests: readonly JoinRequestModel[];
  readonly dropped: DropCounts;
  readonly waiting: number;
  readonly capacity: number;
}

export interface ProfilePreview {
  readonly pursuanceId: string;
  readonly name: string;
  readonly about: string;
  readonly asks: readonly string[];
  readonly effort: number;
  readonly validUntil: number;
  readonly member: boolean;
}

export interface SentRequestModel {
  readonly id: string;
  readonly pursuanceId: string;
  readonly pursuanceName: string;
  readonly sentAt: number;
  readonly expiresAt: number;
  /** `joined`: this node is a member now. */
  readonly status: SentRequest['status'] | 'joined';
  readonly note: string | null;
}

/**
 * Joining by request, both sides. A member who may invite publishes the pursuance's profile: a
 * drop box on a relay for its inbox (see @pursuance/cwtch drop-box), signed by a role key. Every
 * node holding that key follows the inbox; what arrives is screened before anything costly (size,
 * profile, hour, proof of work, replay), then opened, checked and kept in a bounded review inbox;
 * strangers' messages never reach the log. A reviewer admits (the one-step join: member.add, the
 * group over p2p — to the applicant's own key — and a reply) or declines (an answer signed by the
 * role key, posted as nobody, sealed to the applicant), and may block the applicant.
 *
 * An applicant pastes the profile, answers its questions, works, and posts the request as
 * nobody; its node follows the inbox for the answer, and takes the pursuance's group from
 * whichever member admits it (JoinService.expectAdmission). The applicant learns no member
 * before being admitted.
 */
export class AdmissionService {
  readonly #store: AdmissionStore;
  readonly #listeners = new Set<(pursuanceId: string | null) => void>();
  readonly #off: (() => void)[] = [];
  /** Proofs of work already spent (hex digest → its hour), within the hours a request may be dated. */
  readonly #proofs = new Map<string, number>();
  /** Inbox messages waiting to be handled, in arrival order (handled in batches, one write each). */
  #queued: GroupMessage[] = [];
  #draining = false;
  #chain: Promise<unknown> = Promise.resolve();
  #running = false;

  public constructor(
    private readonly peer: AdmissionPeer,
    private readonly registry: PursuanceRegistry,
    private readonly sync: Pick<SyncService, 'linkOf' | 'trustRelay'>,
    private readonly joins: Pick<JoinService, 'admitByRequest' | 'expectAdmission'>,
    store: ConstructorParameters<typeof AdmissionStore>[0],
    private readonly post: DropBoxPostOptions,
    private readonly profileName: () => string | null,
    private readonly now: () => number = Date.now,
    private readonly follows: DropBoxFollows = new DropBoxFollows(peer),
  ) {
    this.#store = new AdmissionStore(store);
    follows.want('admission', () => this.#wanted());
  }

  public onChange(listener: (pursuanceId: string | null) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  public async start(): Promise<void> {
    const onMessage = (m: GroupMessage): void => {
      if (!this.#running || m.own) return;
      if (!isDropBox(this.peer.group(m.groupId).name)) return;
      this.#queued.push(m);
      this.#drainSoon();
    };
    const onChange = ({ pursuanceId }: { pursuanceId: string }): void => {
      if (this.#running) void this.#serial(() => this.#follow(pursuanceId)).catch((err: unknown) => this.#warn(err));
    };
    this.peer.on('groupMessage', onMessage);
    this.#off.push(() => this.peer.off('groupMessage', onMessage));
    this.#off.push(this.registry.onChange(onChange));
    this.#running = true;
    await this.renewDue();
    const timer = setInterval(() => void this.renewDue().catch((err: unknown) => this.#warn(err)), RENEW_CHECK_MS);
    timer.unref();
    this.#off.push(() => clearInterval(timer));
    // Whatever the inboxes already hold (from before a restart): handled ones are skipped.
    for (const group of this.peer.groups()) if (isDropBox(group.name)) this.#queued.push(...this.peer.groupHistory(group.id));
    this.#drainSoon();
    await this.idle();
  }

  public stop(): void {
    this.#running = false;
    for (const off of this.#off.splice(0)) off();
  }

  /** Resolves once everything queued so far has been handled. */
  public async idle(): Promise<void> {
    for (;;) {
      await this.#serial(() => Promise.resolve());
      if (this.#queued.length === 0 && !this.#draining) return;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  // --- publishing -------------------------------------------------------------------------

  public publish(pursuanceId: string, spec: PublishProfileSpec): Promise<ProfileModel> {
    return this.#serial(async () => {
      const entry = this.registry.get(pursuanceId);
      const current = entry.log.state().profile?.profile;
      const days = spec.days ?? PROFILE_DAYS_DEFAULT;
      if (!Number.isInteger(days) || days < 1 || days > PROFILE_MAX_DAYS)
        throw new InvalidRequestError(`A profile lasts 1 to ${PROFILE_MAX_DAYS} days.`, 'days');
      let inbox: string;
      let id: Uint8Array | undefined;
      if (spec.relay !== undefined) {
        await this.sync.trustRelay(spec.relay, 'relay');
        inbox = newDropBoxInvite(spec.relay, this.now());
      } else if (current) {
        // The same inbox and id: requests already on their way still arrive, and their work still counts.
        inbox = current.inbox;
        id = current.id;
      } else {
        const link = this.sync.linkOf(pursuanceId);
        if (link === null) throw new NotAttachedError(pursuanceId);
        inbox = newDropBoxInvite(link.bundle, this.now());
      }
      await this.registry.act(pursuanceId, (a) =>
        a.publishProfile(spec.role, {
          name: spec.name ?? entry.log.state().name,
          about: spec.about,
          asks: spec.asks,
          inbox,
          effort: spec.effort ?? EFFORT_DEFAULT,
          now: this.now(),
          days,
          ...(id ? { id } : {}),
        }),
      );
      await this.#follow(pursuanceId);
      await this.#tidy();
      this.#changed(pursuanceId);
      return this.#profileModel(pursuanceId)!;
    });
  }

  public withdraw(pursuanceId: string): Promise<void> {
    return this.#serial(async () => {
      if (!this.registry.get(pursuanceId).log.state().profile) throw new NoProfileError();
      await this.registry.act(pursuanceId, (a) => a.withdrawProfile());
      await this.#tidy();
      this.#changed(pursuanceId);
    });
  }

  public profile(pursuanceId: string): ProfileModel | null {
    this.registry.get(pursuanceId);
    return this.#profileModel(pursuanceId);
  }

  #profileModel(pursuanceId: string): ProfileModel | null {
    const entry = this.registry.get(pursuanceId);
    const published = entry.log.state().profile;
    if (!published) return null;
    const p = published.profile;
    const current = entry.log.state().roles.get(p.role)?.epochs.at(-1);
    return {
      text: profileText(p),
      id: toHex(p.id),
      name: p.name,
      about: p.about,
      asks: p.asks,
      role: p.role,
      effort: p.effort,
      validUntil: p.validUntil,
      publishedBy: published.by,
      stale: current?.keyIdHex !== toHex(p.keyId),
      reading: entry.author.profileKeys() !== null,
    };
  }

  /** Renew what is due, and retire inboxes nobody here reads (the timer calls this; so may a test with a clock of its own). */
  public renewDue(): Promise<void> {
    return this.#serial(async () => {
      for (const entry of this.registry.list()) await this.#follow(entry.id).catch((err: unknown) => this.#warn(err));
      await this.#tidy();
    });
  }

  /**
   * Take in only the drop boxes someone here still reads: for joining by request, the inbox of a
   * profile whose key this node holds, or one its own request still waits on (and whatever other
   * services read, see DropBoxFollows). The others are retired (the peer stores and delivers
   * nothing more from them), so a withdrawn profile's inbox, or a stranger's after the answer,
   * costs no storage however much is posted there; following one again takes it back.
   */
  async #tidy(): Promise<void> {
    await this.follows.tidy();
  }

  /** The drop boxes joining by request reads (see #tidy). */
  async #wanted(): Promise<Set<string>> {
    const wanted = new Set(this.#inboxes().keys());
    const now = this.now();
    for (const s of (await this.#store.sent()).sent) {
      if (s.status === 'sent' && s.expiresAt > now && !this.#isMember(s.pursuanceId)) wanted.add(s.inboxGroupId);
    }
    return wanted;
  }

  /**
   * Follow the inbox of the pursuance's profile when this node holds its key (idempotent); and
   * when this node's member published it, publish it again, with the same id and inbox: under the
   * new key when its role was re-keyed since (someone who held the key left: requests sealed to
   * the old key stay readable by them, so the profile must not point there for long), and for
   * another term when it expires within RENEW_BEFORE_MS (a standing invitation does not lapse
   * unless withdrawn).
   */
  async #follow(pursuanceId: string): Promise<void> {
    if (!this.registry.has(pursuanceId) || !this.registry.isLoaded(pursuanceId)) return;
    const entry = this.registry.get(pursuanceId);
    const published = entry.log.state().profile;
    const p = published?.profile;
    if (!p) return;
    const current = entry.log.state().roles.get(p.role)?.epochs.at(-1);
    const mine = entry.log.event(published.by)?.author === this.registry.identity.onion;
    const rekeyed = current !== undefined && current.keyIdHex !== toHex(p.keyId);
    const expiring = p.validUntil - this.now() < RENEW_BEFORE_MS;
    if (mine && current && (rekeyed || expiring) && entry.author.keyring.has(current.keyIdHex)) {
      const days = expiring ? PROFILE_DAYS_DEFAULT : Math.min(PROFILE_MAX_DAYS, Math.max(1, Math.ceil((p.validUntil - this.now()) / DAY_MS)));
      try {
        await this.registry.act(pursuanceId, (a) =>
          a.publishProfile(p.role, { name: p.name, about: p.about, asks: p.asks, inbox: p.inbox, effort: p.effort, now: this.now(), days, id: p.id }),
        );
        this.#changed(pursuanceId);
      } catch (err) {
        // No longer allowed (rights or role gone): the dashboard shows the profile as stale.
        if (!(err instanceof ActionNotAllowedError)) throw err;
      }
    }
    if (entry.author.profileKeys() === null) return;
    const groupId = inboxGroupId(p);
    if (groupId === null || this.peer.groups().some((g) => g.id === groupId)) return;
    await this.peer.acceptGroupInvite(p.inbox);
  }

  // --- reviewing --------------------------------------------------------------------------

  public async inbox(pursuanceId: string): Promise<ReviewInboxModel> {
    const entry = this.registry.get(pursuanceId);
    const doc = await this.#store.inbox();
    const members = entry.log.state().members;
    const asks = entry.log.state().profile?.profile.asks ?? [];
    const requests = doc.requests
      .filter((r) => r.pursuanceId === pursuanceId)
      .sort((a, b) => rank(b) - rank(a) || b.receivedAt - a.receivedAt || (a.id < b.id ? -1 : 1))
      .map((r) => ({
        id: r.id,
        onion: r.onion,
        name: r.name,
        answers: r.answers,
        asks,
        work: r.work,
        receivedAt: r.receivedAt,
        status: members.has(r.onion as OnionName) ? ('member' as const) : r.status,
        decidedAt: r.decidedAt,
        roles: r.roles,
        vouch: r.vouch ?? null,
      }));
    return {
      requests,
      dropped: doc.dropped.find((d) => d.pursuanceId === pursuanceId)?.counts ?? zeroCounts(),
      waiting: requests.filter((r) => r.status === 'pending').length,
      capacity: REVIEW_MAX,
    };
  }

  /** Let the applicant in with `roles`: member.add bound to their key, then the group, over p2p, to that key. */
  public admit(pursuanceId: string, requestId: string, roles: readonly string[]): Promise<JoinRequestModel> {
    return this.#serial(async () => {
      const r = await this.#pending(pursuanceId, requestId);
      const chosen = [...new Set(roles)].sort();
      await this.joins.admitByRequest(pursuanceId, r.onion as OnionName, r.name, chosen);
      await this.#decide(r.id, { status: 'admitted', roles: chosen });
      return this.#model(pursuanceId, r.id);
    });
  }

  /** Decline (the applicant is told, by the role, never by whom), and optionally block the applicant. */
  public decline(
    pursuanceId: string,
    requestId: string,
    options: { readonly note?: string | undefined; readonly block?: boolean | undefined },
  ): Promise<JoinRequestModel> {
    return this.#serial(async () => {
      const r = await this.#pending(pursuanceId, requestId);
      const entry = this.registry.get(pursuanceId);
      const p = entry.log.state().profile?.profile;
      const keys = entry.author.profileKeys();
      if (!p || !keys) throw new NoProfileError();
      const answer = sealJoinAnswer(p, keys, fromHex(r.id), fromHex(r.key), { status: 'declined', note: options.note ?? '' });
      await postToDropBox(p.inbox, answer, this.post);
      await this.#decide(r.id, { status: 'declined', roles: [] });
      if (options.block) {
        await this.#store.updateInbox((doc) => {
          if (!doc.blocked.some((b) => b.pursuanceId === pursuanceId && b.onion === r.onion)) doc.blocked.push({ pursuanceId, onion: r.onion });
        });
      }
      return this.#model(pursuanceId, r.id);
    });
  }

  async #pending(pursuanceId: string, requestId: string): Promise<StoredJoinRequest> {
    this.registry.get(pursuanceId);
    const r = (await this.#store.inbox()).requests.find((x) => x.id === requestId && x.pursuanceId === pursuanceId);
    if (!r) throw new UnknownJoinRequestError();
    if (r.status !== 'pending') throw new JoinRequestClosedError(r.status);
    return r;
  }

  async #decide(id: string, patch: Pick<StoredJoinRequest, 'status' | 'roles'>): Promise<void> {
    const pursuanceId = await this.#store.updateInbox((doc) => {
      const r = doc.requests.find((x) => x.id === id)!;
      Object.assign(r, patch, { decidedAt: this.now() });
      return r.pursuanceId;
    });
    this.#changed(pursuanceId);
  }

  async #model(pursuanceId: string, id: string): Promise<JoinRequestModel> {
    return (await this.inbox(pursuanceId)).requests.find((r) => r.id === id)!;
  }

  // --- applying ---------------------------------------------------------------------------

  public preview(text: string): ProfilePreview {
    const p = this.#parse(text);
    return {
      pursuanceId: p.pursuance,
      name: p.name,
      about: p.about,
      asks: p.asks,
      effort: p.effort,
      validUntil: p.validUntil,
      member: this.#isMember(p.pursuance),
    };
  }

  /**
   * Ask to join through a profile: work, seal, post as nobody; follow the inbox for the answer,
   * and expect the group from whoever admits us. Resolves once the relay has the request.
   */
  public async request(
    text: string,
    spec: { readonly name?: string | undefined; readonly answers: readonly string[]; readonly vouch?: string | undefined },
  ): Promise<SentRequestModel> {
    const p = this.#parse(text);
    if (this.#isMember(p.pursuance)) throw new InvalidRequestError('You are a member of this pursuance already.', 'profile');
    const name = spec.name ?? this.profileName();
    if (!name) throw new InvalidRequestError('Say what name you go by: the pursuance sees it with your request.', 'name');
    const now = this.now();
    const vouch = spec.vouch ? this.#vouch(spec.vouch, p, now) : undefined;
    let sealed;
    try {
      sealed = await sealJoinRequestAsync(p, this.registry.identity, { name, answers: spec.answers, vouch }, now, {
        pause: () => new Promise((resolve) => setImmediate(resolve)),
      });
    } catch (err) {
      if (err instanceof JoinRequestError) throw new InvalidRequestError(err.message, 'answers');
      throw err;
    }
    // Follow the inbox first, so an answer posted right after the request is not missed.
    await this.peer.acceptGroupInvite(p.inbox);
    const sent: SentRequest = {
      id: toHex(sealed.digest),
      pursuanceId: p.pursuance,
      pursuanceName: p.name,
      profile: text.trim(),
      inboxGroupId: inboxGroupId(p) ?? '',
      sentAt: now,
      expiresAt: p.validUntil,
      status: 'sent',
      note: null,
      updatedAt: now,
    };
    await this.#store.updateSent((doc) => {
      doc.sent = [...doc.sent, sent].slice(-100);
    });
    // An inbox retired after an earlier answer is taken in again before anything is posted to it.
    await this.#tidy();
    try {
      await postToDropBox(p.inbox, sealed.bytes, this.post);
    } catch (err) {
      // Never reached the relay: not listed as sent (it could never be answered).
      await this.#store.updateSent((doc) => {
        doc.sent = doc.sent.filter((s) => s.id !== sent.id);
      });
      throw err;
    }
    // Only once the request is out: nobody can admit us before a person has read it.
    await this.joins.expectAdmission(p.pursuance, p.name, p.validUntil);
    this.#changed(null);
    return this.#sentModel(sent);
  }

  public async sent(): Promise<SentRequestModel[]> {
    return (await this.#store.sent()).sent.sort((a, b) => b.sentAt - a.sentAt).map((s) => this.#sentModel(s));
  }

  #sentModel(s: SentRequest): SentRequestModel {
    return {
      id: s.id,
      pursuanceId: s.pursuanceId,
      pursuanceName: s.pursuanceName,
      sentAt: s.sentAt,
      expiresAt: s.expiresAt,
      status: this.#isMember(s.pursuanceId) ? 'joined' : s.status,
      note: s.note,
    };
  }

  /** A pasted vouch, opened with our key and checked as far as we can: theirs to judge the rest. */
  #vouch(text: string, p: Profile, now: number): Vouch {
    let v: Vouch;
    try {
      v = openVouchText(text, this.registry.identity);
    } catch (err) {
      if (err instanceof InvalidVouchError) throw new InvalidRequestError(`This vouch cannot be used: ${err.message}.`, 'vouch');
      throw err;
    }
    if (v.to !== p.pursuance) throw new InvalidRequestError('This vouch is for joining another pursuance.', 'vouch');
    const hour = vouchHourProblem(v.hour, hourOf(now));
    if (hour !== null) throw new InvalidRequestError(`This vouch cannot be used: ${hour}. Ask for a new one.`, 'vouch');
    return v;
  }

  #parse(text: string): Profile {
    try {
      return parseProfileText(text, this.now());
    } catch (err) {
      if (err instanceof CoreInvalidProfileError || err instanceof ProfileExpiredError) throw new InvalidProfileError(err.message);
      throw err;
    }
  }

  #isMember(pursuanceId: string): boolean {
    return (
      this.registry.has(pursuanceId) &&
      this.registry.isLoaded(pursuanceId) &&
      this.registry.get(pursuanceId).log.state().members.has(this.registry.identity.onion)
    );
  }

  // --- inbox messages ---------------------------------------------------------------------

  #drainSoon(): void {
    if (this.#draining) return;
    this.#draining = true;
    setImmediate(() => {
      void this.#serial(async () => {
        try {
          while (this.#queued.length > 0 && this.#running) {
            const batch = this.#queued.splice(0, 500);
            await this.#handleBatch(batch);
          }
        } finally {
          this.#draining = false;
        }
      }).catch((err: unknown) => this.#warn(err));
    });
  }

  /** One batch of inbox messages: screened, opened and kept (or counted as dropped) with one write. */
  async #handleBatch(batch: readonly GroupMessage[]): Promise<void> {
    const inboxes = this.#inboxes();
    // Our own requests still waiting for an answer, each with the profile that signs its answers.
    const mine: { id: string; groupId: string; profile: Profile; digest: Uint8Array }[] = [];
    for (const s of (await this.#store.sent()).sent) {
      if (s.status !== 'sent') continue;
      try {
        mine.push({ id: s.id, groupId: s.inboxGroupId, profile: parseProfileText(s.profile, s.sentAt), digest: fromHex(s.id) });
      } catch {
        // Stored as it was pasted and checked then: a profile that no longer parses has no answers to match.
      }
    }
    const answers: { id: string; note: string }[] = [];
    const changed = new Set<string>();
    const now = this.now();
    this.#pruneProofs(now);
    await this.#store.updateInbox((doc) => {
      // A vouch this old holds for no request still in its hours.
      const oldest = hourOf(now) - REQUEST_HOURS_BACK - VOUCH_HOURS - 1;
      doc.vouches = doc.vouches.filter((x) => x.hour >= oldest);
      const handled = new Set(doc.handled);
      for (const m of batch) {
        if (handled.has(m.signature)) continue;
        handled.add(m.signature);
        doc.handled.push(m.signature);
        // An answer to one of our own requests?
        for (const s of mine) {
          if (s.groupId !== m.groupId) continue;
          const a = openJoinAnswer(m.payload, this.registry.identity, s.profile, [s.digest]);
          if (a) answers.push({ id: s.id, note: a.note });
        }
        const pursuanceId = inboxes.get(m.groupId);
        if (pursuanceId === undefined) continue;
        const verdict = this.#judge(doc, pursuanceId, m, now);
        if (verdict === 'answer') continue;
        if (verdict !== 'kept') count(doc, pursuanceId, verdict);
        changed.add(pursuanceId);
      }
    });
    if (answers.length > 0) {
      await this.#store.updateSent((doc) => {
        for (const a of answers) {
          const s = doc.sent.find((x) => x.id === a.id);
          if (s && s.status === 'sent') Object.assign(s, { status: 'declined', note: a.note || null, updatedAt: now });
        }
      });
      this.#changed(null);
    }
    for (const id of changed) this.#changed(id);
  }

  /** Judge one inbox message of `pursuanceId`'s profile; keeps it in `doc` when it is a request to review. */
  #judge(doc: InboxDocument, pursuanceId: string, m: GroupMessage, now: number): DropCounter | 'kept' | 'answer' {
    const entry = this.registry.get(pursuanceId);
    const p = entry.log.state().profile?.profile;
    const keys = entry.author.profileKeys();
    if (!p || !keys) return 'foreign';
    const screened = screenRequest(m.payload, { profile: p, now, seen: (proof) => this.#proofs.has(proof) });
    if (!screened.ok) return screened.reason;
    this.#proofs.set(screened.proof, screened.message.h);
    const id = toHex(screened.digest);
    if (doc.requests.some((r) => r.id === id)) return 'replay';
    let opened;
    try {
      opened = openJoinRequest(p, keys, screened.message);
    } catch (err) {
      if (err instanceof JoinRequestError) return 'unreadable';
      throw err;
    }
    const onion = onionFromPublicKey(opened.from);
    if (doc.blocked.some((b) => b.pursuanceId === pursuanceId && b.onion === onion)) return 'blocked';
    // A vouch counts when our links stand behind it and it was not spent here before.
    const v = opened.vouch;
    const state = entry.log.state();
    const holds =
      v !== null &&
      vouchProblem(state, v, { reviewer: p.role, applicant: opened.from, hour: screened.message.h }) === null &&
      !doc.vouches.some((x) => x.nonce === toHex(v.nonce)) &&
      // Full (a flood of vouched requests within VOUCH_HOURS): no vouch counts until old ones age out, none is forgotten early.
      doc.vouches.length < VOUCHES_MAX;
    const vouch = holds ? { peer: v.from, name: state.links!.get(v.from as EventId)!.name, role: v.role } : null;
    if (screened.vouchNeeded && !vouch) return 'vouch';
    const waiting = doc.requests.filter((r) => r.pursuanceId === pursuanceId && r.status === 'pending');
    // One waiting request per applicant: a newer one replaces it.
    const earlier = waiting.find((r) => r.onion === onion);
    const ranked = screened.work + (vouch ? VOUCH_DISCOUNT_BITS : 0);
    if (!earlier && waiting.length >= REVIEW_MAX) {
      const least = waiting.reduce((a, b) => (rank(b) < rank(a) || (rank(b) === rank(a) && b.receivedAt < a.receivedAt) ? b : a));
      if (rank(least) >= ranked) return 'full';
      // More work than the least: it takes that one's place (counted as dropped for the queue being full).
      doc.requests = doc.requests.filter((r) => r !== least);
      count(doc, pursuanceId, 'full');
    }
    if (earlier) doc.requests = doc.requests.filter((r) => r !== earlier);
    doc.requests.push({
      id,
      pursuanceId,
      onion,
      key: toHex(opened.from),
      name: opened.name,
      answers: [...opened.answers],
      work: screened.work,
      receivedAt: now,
      status: 'pending',
      decidedAt: null,
      roles: [],
      vouch,
    });
    if (vouch) doc.vouches.push({ nonce: toHex(v!.nonce), hour: v!.hour });
    // Decided requests are kept for the record, the oldest dropped first past a bound.
    const decided = doc.requests.filter((r) => r.status !== 'pending');
    if (decided.length > REVIEW_MAX * 5) {
      const drop = new Set(decided.sort((a, b) => (a.decidedAt ?? 0) - (b.decidedAt ?? 0)).slice(0, decided.length - REVIEW_MAX * 5));
      doc.requests = doc.requests.filter((r) => !drop.has(r));
    }
    return 'kept';
  }

  /** Inbox group → pursuance, for the profiles whose key this node holds. */
  #inboxes(): Map<string, string> {
    const out = new Map<string, string>();
    for (const entry of this.registry.list()) {
      if (!this.registry.isLoaded(entry.id)) continue;
      const p = entry.log.state().profile?.profile;
      if (!p || entry.author.profileKeys() === null) continue;
      const groupId = inboxGroupId(p);
      if (groupId !== null) out.set(groupId, entry.id);
    }
    return out;
  }

  #pruneProofs(now: number): void {
    const oldest = hourOf(now) - 3;
    for (const [proof, hour] of this.#proofs) if (hour < oldest) this.#proofs.delete(proof);
  }

  #changed(pursuanceId: string | null): void {
    for (const l of this.#listeners) l(pursuanceId);
  }

  #warn(err: unknown): void {
    this.registry.warn(`admission: ${errorCode(err)}`);
  }

  #serial<T>(job: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(job);
    this.#chain = run.catch(() => undefined);
    return run;
  }
}

/** Where a request stands in the queue: its work, and a vouch counts as the work it spared. */
function rank(r: Pick<StoredJoinRequest, 'work' | 'vouch'>): number {
  return r.work + (r.vouch ? VOUCH_DISCOUNT_BITS : 0);
}

function count(doc: InboxDocument, pursuanceId: string, reason: DropCounter): void {
  let row = doc.dropped.find((d) => d.pursuanceId === pursuanceId);
  if (!row) doc.dropped.push((row = { pursuanceId, counts: zeroCounts() }));
  row.counts[reason] += 1;
}

/** The inbox group's id, or null when the profile's inbox is no group invite we can read. */
function inboxGroupId(p: Profile): string | null {
  try {
    return parseGroupInvite(p.inbox).invite.groupId;
  } catch {
    return null;
  }
}
