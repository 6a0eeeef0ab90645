import { OVERLAY, parseGroupInvite, type CwtchPeer, type ReceivedDirectMessage } from '@pursuance/cwtch';
import { Identity, publicKeyFromOnion, type OnionName } from '@pursuance/crypto';
import { ActionNotAllowedError } from '@pursuance/pursuance';
import { InvalidRequestError, InviteClosedError, NotAttachedError, UnknownInviteError, errorCode } from '../domain/errors.js';
import { encodeJoinLink, joinUrl, newJoinSecret, parseJoinLink, secretDigest, secretMatches } from '../domain/join-link.js';
import type { PursuanceRegistry } from '../domain/registry.js';
import { encodeJoinReply, encodeJoinRequest, parseJoinReply, parseJoinRequest, type JoinReplyMessage, type ReplyCode } from './join-messages.js';
import { JoinStore, rememberHandled, type InviteState, type StoredInvite, type StoredRequest } from './join-store.js';
import { parseGroupName } from './rekey.js';
import type { PeerEvents } from './sync-peer.js';
import type { SyncService } from './sync.service.js';
import type { SnapshotTransfer } from './snapshot-transfer.js';

/** What joining by link needs of the Cwtch peer: direct messages, contacts, and its events. */
export type JoinPeer = PeerEvents & Pick<CwtchPeer, 'sendOverlay' | 'addContact' | 'acceptContact' | 'contact' | 'contacts' | 'directMessages'>;

/** What joining needs of group sync: the pursuance's relay link, handing the group over, joining one. */
export type JoinSync = Pick<SyncService, 'linkOf' | 'inviteContact' | 'accept' | 'trustRelay'>;

export const INVITE_HOURS_DEFAULT = 7 * 24;
/** How long a joiner waits for a snapshot before it replays the whole history instead. */
export const SNAPSHOT_WAIT_MS = 60_000;
export const INVITE_HOURS_MAX = 30 * 24;
/** Open invites one pursuance may have at once on this node (each is a standing offer to a stranger). */
export const OPEN_INVITES_MAX = 100;
/** Invites kept in all, oldest closed ones dropped first. */
const INVITES_KEPT = 500;
const REQUESTS_KEPT = 200;
const HOUR_MS = 3_600_000;
/**
 * The inviter of a request sent through a pursuance's public profile: whoever admits us is not
 * known in advance (the profile names no member), so a group invite for that pursuance is taken
 * from any sender. What makes us a member is the member.add in the log it leads to, nothing else.
 */
export const ANY_MEMBER = '*';

export interface NewJoinInvite {
  readonly roles: readonly string[];
  /** Let the first holder of the link in without asking (their node is added with `roles`). */
  readonly preApproved: boolean;
  readonly expiresInHours: number;
}

export interface JoinInviteModel {
  readonly id: string;
  readonly pursuanceId: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly roles: readonly string[];
  readonly preApproved: boolean;
  /** `expired`: open, and past its expiry (a request that arrived in time can still be decided). */
  readonly state: InviteState | 'expired';
  readonly requester: { readonly onion: string; readonly name: string | null; readonly at: number } | null;
  readonly decidedAt: number | null;
  readonly note: string | null;
}

export interface CreatedJoinInvite {
  readonly invite: JoinInviteModel;
  /** The link: shown once (this node keeps only a hash of its secret). */
  readonly link: string;
  /** The link as an address of a dashboard on the usual port: opening it fills in Join. */
  readonly url: string;
}

export type JoinRequestModel = StoredRequest;

export interface JoinOutcome {
  readonly pursuanceId: string;
  /** `requested`: asked by link, waiting for the inviter; `joined`: a group invite, joined at once. */
  readonly status: 'requested' | 'joined';
}

/**
 * Joining by link, both sides. The inviter's node makes invites (a one-time secret, roles,
 * pre-approval, expiry), answers a newcomer's request over p2p, and — once a person approves,
 * or at once when pre-approved — signs the member.add and hands the newcomer the pursuance's
 * group. The newcomer's node sends the request and accepts the group invite that follows from
 * that inviter for that pursuance, and no other: a group invite nobody asked for is never joined.
 * Every step is one at a time; messages received before a crash are handled at the next start.
 */
export class JoinService {
  readonly #store: JoinStore;
  readonly #listeners = new Set<(pursuanceId: string | null) => void>();
  readonly #off: (() => void)[] = [];
  #chain: Promise<unknown> = Promise.resolve();
  #running = false;

  public constructor(
    private readonly peer: JoinPeer,
    private readonly registry: PursuanceRegistry,
    private readonly sync: JoinSync,
    store: ConstructorParameters<typeof JoinStore>[0],
    private readonly profileName: () => string | null,
    private readonly now: () => number = Date.now,
    /** Where a snapshot to start from is asked for (absent: every join replays the whole history). */
    private readonly snapshots?: Pick<SnapshotTransfer, 'fetch'>,
    private readonly snapshotWaitMs = SNAPSHOT_WAIT_MS,
  ) {
    this.#store = new JoinStore(store);
  }

  /** Be told when invites (a pursuance id) or this node's own requests (null) change. */
  public onChange(listener: (pursuanceId: string | null) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  public async start(): Promise<void> {
    const onMessage = (m: ReceivedDirectMessage): void => {
      if (m.overlay.o === OVERLAY.pursuanceJoinRequest || m.overlay.o === OVERLAY.pursuanceJoinReply || m.overlay.o === OVERLAY.groupInvite) {
        void this.#serial(() => this.#handle(m.from, m.id, m.overlay.o, m.overlay.d)).catch((err: unknown) => this.#warn(err));
      }
    };
    this.peer.on('message', onMessage);
    this.#off.push(() => this.peer.off('message', onMessage));
    this.#running = true;
    // Whatever arrived (stored and acknowledged) but was not handled before the last stop.
    await this.#serial(async () => {
      const [invites, requests] = await Promise.all([this.#store.invites(), this.#store.requests()]);
      const handled = new Set([...invites.handled, ...requests.handled]);
      for (const contact of this.peer.contacts()) {
        if (contact.state === 'blocked') continue;
        for (const m of await this.peer.directMessages(contact.onion)) {
          if (m.direction !== 'in' || handled.has(m.id)) continue;
          if (m.overlay !== OVERLAY.pursuanceJoinRequest && m.overlay !== OVERLAY.pursuanceJoinReply && m.overlay !== OVERLAY.groupInvite) continue;
          await this.#handle(contact.onion, m.id, m.overlay, m.data).catch((err: unknown) => this.#warn(err));
        }
      }
    });
  }

  /** Resolves once everything queued so far (messages, requests) has been handled. */
  public idle(): Promise<void> {
    return this.#serial(() => Promise.resolve());
  }

  public stop(): void {
    this.#running = false;
    for (const off of this.#off.splice(0)) off();
  }

  // --- the inviting side ------------------------------------------------------------------

  public createInvite(pursuanceId: string, spec: NewJoinInvite): Promise<CreatedJoinInvite> {
    return this.#serial(async () => {
      const entry = this.registry.get(pursuanceId);
      const link = this.sync.linkOf(pursuanceId);
      if (link === null) throw new NotAttachedError(pursuanceId);
      const hours = spec.expiresInHours;
      if (!Number.isInteger(hours) || hours < 1 || hours > INVITE_HOURS_MAX)
        throw new InvalidRequestError(`An invite lasts 1 to ${INVITE_HOURS_MAX} hours.`, 'expiresInHours');
      const roles = [...new Set(spec.roles)].sort();
      // Whoever approves is this node's member: it must be allowed to add someone with these
      // roles now, or the link would only lead to a refusal. The fold's own dry run decides.
      const refusal = entry.author.checkAddMember(Identity.generate().publicKey, { roles });
      if (refusal) throw new ActionNotAllowedError(refusal.code, refusal.reason, refusal.rule);
      const now = this.now();
      const secret = newJoinSecret();
      const { id, hash } = secretDigest(secret);
      const stored: StoredInvite = {
        id,
        hash,
        pursuanceId,
        createdAt: now,
        expiresAt: now + hours * HOUR_MS,
        roles,
        preApproved: spec.preApproved,
        state: 'open',
        requester: null,
        decidedAt: null,
        note: null,
      };
      await this.#store.updateInvites((doc) => {
        const open = doc.invites.filter((i) => i.pursuanceId === pursuanceId && i.state === 'open' && i.expiresAt > now).length;
        if (open >= OPEN_INVITES_MAX) throw new InvalidRequestError(`This pursuance already has ${OPEN_INVITES_MAX} open invites here. Revoke some first.`);
        doc.invites.push(stored);
        doc.invites = prune(doc.invites, now);
      });
      const text = encodeJoinLink({
        pursuanceId,
        pursuanceName: entry.log.state().name,
        inviter: this.registry.identity.onion,
        inviterName: this.profileName(),
        relayBundle: link.bundle,
        groupId: link.groupId,
        expiresAt: stored.expiresAt,
        secret,
      });
      this.#changed(pursuanceId);
      return { invite: model(stored, now), link: text, url: joinUrl(text) };
    });
  }

  public async invites(pursuanceId: string): Promise<JoinInviteModel[]> {
    this.registry.get(pursuanceId);
    const now = this.now();
    const doc = await this.#store.invites();
    return doc.invites
      .filter((i) => i.pursuanceId === pursuanceId)
      .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : 1))
      .map((i) => model(i, now));
  }

  /** Withdraw an invite: its link stops working; a request waiting on it is refused. */
  public revoke(pursuanceId: string, inviteId: string): Promise<JoinInviteModel> {
    return this.#serial(async () => {
      const now = this.now();
      const invite = await this.#invite(pursuanceId, inviteId);
      if (invite.state !== 'open' && invite.state !== 'requested') throw new InviteClosedError(model(invite, now).state);
      const updated = await this.#setInvite(invite.id, { state: 'revoked', decidedAt: now });
      if (invite.state === 'requested' && invite.requester)
        await this.#reply(invite.requester.onion, { pursuanceId, status: 'refused', code: 'INVITE_REVOKED' });
      return model(updated, now);
    });
  }

  /** Let the one who asked in, with `roles` (the invite's unless given). */
  public approve(pursuanceId: string, inviteId: string, roles?: readonly string[]): Promise<JoinInviteModel> {
    return this.#serial(async () => {
      const now = this.now();
      const invite = await this.#invite(pursuanceId, inviteId);
      if (invite.state !== 'requested' || !invite.requester) throw new InviteClosedError(model(invite, now).state);
      const chosen = roles ? [...new Set(roles)].sort() : invite.roles;
      await this.#admit(pursuanceId, invite.requester.onion as OnionName, invite.requester.name, chosen);
      const updated = await this.#setInvite(invite.id, { state: 'approved', decidedAt: now, roles: chosen, note: null });
      return model(updated, now);
    });
  }

  public refuse(pursuanceId: string, inviteId: string): Promise<JoinInviteModel> {
    return this.#serial(async () => {
      const now = this.now();
      const invite = await this.#invite(pursuanceId, inviteId);
      if (invite.state !== 'requested' || !invite.requester) throw new InviteClosedError(model(invite, now).state);
      const updated = await this.#setInvite(invite.id, { state: 'refused', decidedAt: now });
      await this.#reply(invite.requester.onion, { pursuanceId, status: 'refused', code: 'REFUSED' });
      return model(updated, now);
    });
  }

  // --- the newcomer's side ----------------------------------------------------------------

  /** Ask to join by a link: pin its relay, send the request, remember it. */
  public request(text: string): Promise<JoinOutcome> {
    return this.#serial(async () => {
      const now = this.now();
      const link = parseJoinLink(text, now);
      if (link.inviter === this.registry.identity.onion)
        throw new InvalidRequestError('This invite is from your own node: send it to the person you want to invite.', 'invite');
      const member = this.registry.has(link.pursuanceId) && this.registry.get(link.pursuanceId).log.state().members.has(this.registry.identity.onion);
      if (member) return { pursuanceId: link.pursuanceId, status: 'joined' as const };
      await this.sync.trustRelay(link.relayBundle, 'invite');
      if (!this.peer.contact(link.inviter)) await this.peer.addContact(link.inviter, link.inviterName ?? '');
      else if (this.peer.contact(link.inviter)!.state === 'pending') await this.peer.acceptContact(link.inviter);
      const request: StoredRequest = {
        pursuanceId: link.pursuanceId,
        pursuanceName: link.pursuanceName,
        inviter: link.inviter,
        inviterName: link.inviterName,
        groupId: link.groupId,
        expiresAt: link.expiresAt,
        sentAt: now,
        status: 'sent',
        code: null,
        updatedAt: now,
      };
      await this.#store.updateRequests((doc) => {
        doc.requests = [...doc.requests.filter((r) => !(r.pursuanceId === request.pursuanceId && r.inviter === request.inviter)), request].slice(
          -REQUESTS_KEPT,
        );
      });
      await this.peer.sendOverlay(link.inviter, {
        o: OVERLAY.pursuanceJoinRequest,
        d: encodeJoinRequest({ pursuanceId: link.pursuanceId, secret: link.secret, name: this.profileName() }),
      });
      this.#changed(null);
      return { pursuanceId: link.pursuanceId, status: 'requested' as const };
    });
  }

  /**
   * Expect the group of `pursuanceId` from whichever member admits us (a request sent through its
   * public profile, see AdmissionService): until `expiresAt`, or until we are in.
   */
  public expectAdmission(pursuanceId: string, pursuanceName: string, expiresAt: number): Promise<void> {
    return this.#serial(async () => {
      const now = this.now();
      const request: StoredRequest = {
        pursuanceId,
        pursuanceName,
        inviter: ANY_MEMBER,
        inviterName: null,
        groupId: '',
        expiresAt,
        sentAt: now,
        status: 'sent',
        code: null,
        updatedAt: now,
      };
      await this.#store.updateRequests((doc) => {
        doc.requests = [...doc.requests.filter((r) => !(r.pursuanceId === pursuanceId && r.inviter === ANY_MEMBER)), request].slice(-REQUESTS_KEPT);
      });
      this.#changed(null);
    });
  }

  /**
   * Admit someone who asked through the pursuance's public profile (AdmissionService): the same
   * steps as approving a link's request — member.add, the group over p2p, the answer.
   */
  public admitByRequest(pursuanceId: string, onion: OnionName, name: string | null, roles: readonly string[]): Promise<void> {
    return this.#serial(() => this.#admit(pursuanceId, onion, name, roles));
  }

  /** The requests this node sent, newest first. */
  public async requests(): Promise<JoinRequestModel[]> {
    return (await this.#store.requests()).requests.sort((a, b) => b.sentAt - a.sentAt);
  }

  // --- messages ---------------------------------------------------------------------------

  async #handle(from: OnionName, messageId: string, overlay: number, data: string): Promise<void> {
    if (!this.#running) return;
    if (overlay === OVERLAY.pursuanceJoinRequest) {
      const seen = (await this.#store.invites()).handled.includes(messageId);
      if (!seen) await this.#onRequest(from, data);
      await this.#store.updateInvites((doc) => void (doc.handled = rememberHandled(doc.handled, messageId)));
      return;
    }
    const seen = (await this.#store.requests()).handled.includes(messageId);
    if (!seen) {
      if (overlay === OVERLAY.pursuanceJoinReply) await this.#onReply(from, data);
      else await this.#onGroupInvite(from, data);
    }
    await this.#store.updateRequests((doc) => void (doc.handled = rememberHandled(doc.handled, messageId)));
  }

  async #onRequest(from: OnionName, data: string): Promise<void> {
    const m = parseJoinRequest(data);
    if (m === null || from === this.registry.identity.onion || !this.registry.has(m.pursuanceId)) return;
    const now = this.now();
    const { id } = secretDigest(m.secret);
    const invite = (await this.#store.invites()).invites.find((i) => i.id === id && i.pursuanceId === m.pursuanceId && secretMatches(m.secret, i.hash));
    const refuse = (code: ReplyCode) => this.#reply(from, { pursuanceId: m.pursuanceId, status: 'refused', code });
    if (!invite) return refuse('INVITE_UNKNOWN');
    if (invite.state === 'revoked') return refuse('INVITE_REVOKED');
    if (invite.requester !== null && invite.requester.onion !== from) return refuse('INVITE_USED');
    if (invite.requester !== null) {
      // The same newcomer asking again (a retry): the answer stands.
      if (invite.state === 'approved') return this.#reply(from, { pursuanceId: m.pursuanceId, status: 'approved' });
      if (invite.state === 'refused') return refuse('REFUSED');
      return this.#reply(from, { pursuanceId: m.pursuanceId, status: 'pending' });
    }
    if (invite.expiresAt <= now) return refuse('INVITE_EXPIRED');
    // The link is spent on its first holder, whatever a person decides next.
    await this.#setInvite(invite.id, { state: 'requested', requester: { onion: from, name: m.name, at: now } });
    if (!invite.preApproved) return this.#reply(from, { pursuanceId: m.pursuanceId, status: 'pending' });
    try {
      await this.#admit(m.pursuanceId, from, m.name, invite.roles);
    } catch (err) {
      // The rules changed since the invite was made: a person decides instead.
      const note = err instanceof ActionNotAllowedError ? `${err.code}: ${err.message}` : errorCode(err);
      await this.#setInvite(invite.id, { note });
      return this.#reply(from, { pursuanceId: m.pursuanceId, status: 'pending' });
    }
    await this.#setInvite(invite.id, { state: 'approved', decidedAt: now });
  }

  /** Sign the member.add (unless they are a member already), then hand them the group and say so. */
  async #admit(pursuanceId: string, onion: OnionName, name: string | null, roles: readonly string[]): Promise<void> {
    const members = this.registry.get(pursuanceId).log.state().members;
    if (!members.has(onion)) {
      const key = publicKeyFromOnion(onion);
      await this.registry.act(pursuanceId, (a) => a.addMember(key, { ...(name ? { name } : {}), roles }));
    }
    if (this.peer.contact(onion)?.state === 'pending') await this.peer.acceptContact(onion);
    await this.sync.inviteContact(pursuanceId, onion);
    await this.#reply(onion, { pursuanceId, status: 'approved' });
  }

  async #onReply(from: OnionName, data: string): Promise<void> {
    const m = parseJoinReply(data);
    if (m === null) return;
    const now = this.now();
    const changed = await this.#store.updateRequests((doc) => {
      const r = doc.requests.find((x) => x.pursuanceId === m.pursuanceId && x.inviter === from);
      if (!r || r.status === 'joined') return false;
      r.status = m.status;
      r.code = m.status === 'refused' ? m.code : null;
      r.updatedAt = now;
      return true;
    });
    if (changed) this.#changed(null);
  }

  /** A group invite: joined only when it is the pursuance we asked this very inviter for. */
  async #onGroupInvite(from: OnionName, text: string): Promise<void> {
    let pursuanceId: string | undefined;
    try {
      pursuanceId = parseGroupName(parseGroupInvite(text).invite.name)?.pursuanceId;
    } catch {
      return;
    }
    if (pursuanceId === undefined) return;
    const now = this.now();
    const asked = (await this.#store.requests()).requests.find(
      (r) => r.pursuanceId === pursuanceId && r.status !== 'joined' && (r.inviter === from || (r.inviter === ANY_MEMBER && r.expiresAt > now)),
    );
    if (!asked) return;
    // Already here (the sync service takes group hand-overs for pursuances we hold).
    let code: 'JOIN_FAILED' | null = null;
    if (!this.registry.has(pursuanceId)) {
      await this.#startFromSnapshot(from, pursuanceId);
      try {
        await this.sync.accept(text);
      } catch (err) {
        this.#warn(err);
        code = 'JOIN_FAILED';
      }
    }
    await this.#store.updateRequests((doc) => {
      const r = doc.requests.find((x) => x.pursuanceId === pursuanceId && x.inviter === asked.inviter);
      if (!r) return;
      r.status = code === null ? 'joined' : r.status;
      r.code = code;
      r.updatedAt = now;
    });
    this.#changed(null);
  }

  /**
   * Before joining the group (whose relay replays the whole history), ask the member who let us
   * in for a snapshot to start from. Anything short of a bundle that checks out leaves the join
   * as it was: the replay of the whole history. A refusal is noted with its reason.
   */
  async #startFromSnapshot(from: OnionName, pursuanceId: string): Promise<void> {
    if (!this.snapshots) return;
    try {
      const bundle = await this.snapshots.fetch(from, pursuanceId, this.snapshotWaitMs);
      await this.registry.startFromSnapshot(bundle);
    } catch (err) {
      const code = errorCode(err);
      const reason = err instanceof Error ? err.message : String(err);
      this.registry.noteSnapshotRefused(pursuanceId, { from, code, reason, at: this.now() });
    }
  }

  // --- helpers ----------------------------------------------------------------------------

  async #reply(to: OnionName | string, m: JoinReplyMessage): Promise<void> {
    await this.peer.sendOverlay(to, { o: OVERLAY.pursuanceJoinReply, d: encodeJoinReply(m) });
  }

  async #invite(pursuanceId: string, inviteId: string): Promise<StoredInvite> {
    this.registry.get(pursuanceId);
    const invite = (await this.#store.invites()).invites.find((i) => i.id === inviteId && i.pursuanceId === pursuanceId);
    if (!invite) throw new UnknownInviteError();
    return invite;
  }

  async #setInvite(id: string, patch: Partial<StoredInvite>): Promise<StoredInvite> {
    const updated = await this.#store.updateInvites((doc) => {
      const i = doc.invites.find((x) => x.id === id);
      if (!i) throw new UnknownInviteError();
      Object.assign(i, patch);
      return { ...i };
    });
    this.#changed(updated.pursuanceId);
    return updated;
  }

  #changed(pursuanceId: string | null): void {
    for (const l of this.#listeners) l(pursuanceId);
  }

  #warn(err: unknown): void {
    this.registry.warn(`join: ${errorCode(err)}`);
  }

  #serial<T>(job: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(job);
    this.#chain = run.catch(() => undefined);
    return run;
  }
}

function model(i: StoredInvite, now: number): JoinInviteModel {
  return {
    id: i.id,
    pursuanceId: i.pursuanceId,
    createdAt: i.createdAt,
    expiresAt: i.expiresAt,
    roles: i.roles,
    preApproved: i.preApproved,
    state: i.state === 'open' && i.expiresAt <= now ? 'expired' : i.state,
    requester: i.requester,
    decidedAt: i.decidedAt,
    note: i.note,
  };
}

/** Keep at most INVITES_KEPT, dropping the oldest of those nobody can use or decide any more. */
export function prune(invites: StoredInvite[], now: number): StoredInvite[] {
  if (invites.length <= INVITES_KEPT) return invites;
  const live = (i: StoredInvite) => i.state === 'requested' || (i.state === 'open' && i.expiresAt > now);
  const closed = invites.filter((i) => !live(i)).sort((a, b) => a.createdAt - b.createdAt);
  const drop = new Set(closed.slice(0, invites.length - INVITES_KEPT).map((i) => i.id));
  return invites.filter((i) => !drop.has(i.id));
}

/** A stable code for an error (its `code`, else its class name), never its message. */
