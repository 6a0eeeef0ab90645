import { parseOnionName, randomKey, type Identity, type OnionName } from '@pursuance/crypto';
import { KeyBundleChangedError, RelayError, bucketOf, type SignedKeyBundle } from '@pursuance/relay';
import type { ACN } from '@pursuance/tapir';
import type { ContactBook } from './contact-book.js';
import { CwtchError, InviteInvalidError, InviteRejectedError, MoveNotAuthorisedError, PeerStoppedError, RelayUnknownError } from './errors.js';
import { deriveGroupId } from './group-id.js';
import { encodeGroupInvite, parseGroupInvite, type GroupInvite } from './group-invite.js';
import type { DeliveredGroupMessage } from './group-log.js';
import { GroupManager, type GroupState } from './group-manager.js';
import { foundingMembers, mayMove, mayPostToRetired, mayServe, isRepairCandidate, repairCandidates, type MembershipFacts } from './membership-policy.js';
import { currentHome, moveChain, type MoveLookup } from './move-chain.js';
import { encodeOverlay, parseOverlay, type Overlay } from './overlays.js';
import { codeOf, type FullGapReport, type GroupMessage, type PeerEvents, type PeerLifecycle } from './peer-context.js';
import type { PeerLink, PeerLinks } from './peer-links.js';
import type { PeerMessage } from './peer-protocol.js';
import { MAX_GROUP_PAYLOAD, OVERLAY, RELAY_CLOCK_SKEW_MS, type RetryPolicy } from './protocol-profile.js';
import { COLLECTIONS, GroupRecordSchema, decodeRecord, type GroupRecord } from './records.js';
import type { RelayBook } from './relay-book.js';
import type { RelaySyncOptions } from './relay-sync.js';
import { RelaySyncs } from './relay-syncs.js';
import { RepairEngine, type RepairOutcome } from './repair.js';
import { RepairScheduler } from './repair-scheduler.js';
import type { ProfileVault } from './vault.js';

/** Who else is in an open group, as the application knows it (null: it does not know the group). */
export type MembershipResolver = (groupId: string) => readonly OnionName[] | null;

export interface GroupsOptions {
  readonly vault: ProfileVault;
  readonly identity: Identity;
  readonly acn: ACN;
  readonly now: () => number;
  readonly links: PeerLinks;
  readonly contacts: ContactBook;
  readonly relays: RelayBook;
  readonly events: PeerEvents;
  readonly lifecycle: PeerLifecycle;
  readonly requestTimeoutMs: number;
  readonly repairDelayMs: number;
  readonly relayRetry: RetryPolicy;
  readonly relayClient: RelaySyncOptions['client'];
}

/**
 * A peer's groups as the application sees them: creating, joining, posting, moving to another
 * relay, retiring, reading history. Underneath, GroupManager holds the records and logs and
 * judges every message; RelaySyncs keeps each relay in sync; RepairEngine asks members for
 * what a relay left out. Who counts as a member is decided by membership-policy.ts, from the
 * group's record, its log and the application's resolver.
 */
export class Groups {
  readonly #vault: ProfileVault;
  readonly #self: OnionName;
  readonly #now: () => number;
  readonly #contacts: ContactBook;
  readonly #relays: RelayBook;
  readonly #events: PeerEvents;
  readonly #lifecycle: PeerLifecycle;
  readonly #manager: GroupManager;
  readonly #repair: RepairEngine;
  readonly #repairs: RepairScheduler;
  readonly #syncs: RelaySyncs;
  /** Groups whose move to another relay is being followed (the first valid move wins). */
  readonly #moving = new Set<string>();
  #membership: MembershipResolver | null = null;

  public constructor(options: GroupsOptions) {
    this.#vault = options.vault;
    this.#self = options.identity.onion;
    this.#now = options.now;
    this.#contacts = options.contacts;
    this.#relays = options.relays;
    this.#events = options.events;
    this.#lifecycle = options.lifecycle;
    this.#manager = new GroupManager({
      vault: options.vault,
      identity: options.identity,
      now: options.now,
      admits: (state, sender) => mayPostToRetired(this.#facts(state), sender),
    });
    this.#repair = new RepairEngine({
      groups: this.#manager,
      links: options.links,
      self: this.#self,
      requestTimeoutMs: options.requestTimeoutMs,
      mayServe: (onion, state) => mayServe(this.#facts(state), onion, this.#contacts.isAccepted(onion)),
      candidates: (state) => repairCandidates(this.#facts(state)),
    });
    this.#repairs = new RepairScheduler({ repair: this.#repair, events: options.events, lifecycle: options.lifecycle, delayMs: options.repairDelayMs });
    this.#syncs = new RelaySyncs({
      acn: options.acn,
      groups: this.#manager,
      relays: options.relays,
      repairs: this.#repairs,
      events: options.events,
      lifecycle: options.lifecycle,
      retry: options.relayRetry,
      client: options.relayClient,
    });
    this.#wire();
  }

  #wire(): void {
    const events = this.#events;
    this.#manager.on('delivered', (delivered) => this.#onDelivered(delivered));
    this.#manager.on('acknowledged', (ack) => events.emit('groupMessageAcked', ack));
    this.#manager.on('rejected', ({ groupId, source, error }) => events.emit('groupMessageRejected', { groupId, source, code: error.code }));
    this.#manager.on('gap', (gap) => events.emit('gap', gap));
    this.#manager.on('storeError', (error) => events.emit('warning', { code: codeOf(error), where: 'group-store' }));
    this.#repair.on('repaired', (r) => events.emit('gapRepaired', r));
    this.#repair.on('unrepaired', (r) => events.emit('gapUnrepaired', r));
    this.#repair.on('finished', (r) => events.emit('repairFinished', r));
  }

  public async load(): Promise<void> {
    const groups: GroupRecord[] = [];
    for await (const r of this.#vault.all(COLLECTIONS.groups)) groups.push(decodeRecord(GroupRecordSchema, r.value, 'group'));
    await this.#manager.load(groups);
  }

  /** Sync every relay our groups live on (the peer has just started). */
  public start(): void {
    for (const relay of this.#manager.relays()) {
      try {
        this.#syncs.ensure(relay);
      } catch (err) {
        // One relay we can no longer use (its pinned bundle predates token epochs) must not
        // stop the others: its groups wait until the user trusts its new bundle.
        this.#events.emit('warning', { code: codeOf(err), where: 'relay-bundle' });
      }
    }
  }

  /** Stop repairing and syncing; what was received is written by flush(). */
  public async stop(): Promise<void> {
    this.#repair.stop();
    this.#repairs.stop();
    await this.#syncs.stop();
  }

  public flush(): Promise<void> {
    return this.#manager.flush();
  }

  // -------------------------------------------------------------------------------------------
  // Membership.
  // -------------------------------------------------------------------------------------------

  public setMembership(resolver: MembershipResolver): void {
    this.#membership = resolver;
  }

  #facts(state: GroupState): MembershipFacts {
    const { record, log } = state;
    return {
      members: record.members,
      owner: record.owner,
      retired: record.retired === true,
      senders: () => log.senders(),
      appMembers: () => this.#appMembers(record.id),
    };
  }

  /** The application's members of a group; a resolver that fails names nobody. */
  #appMembers(groupId: string): readonly OnionName[] {
    try {
      return this.#membership?.(groupId) ?? [];
    } catch {
      return [];
    }
  }

  // -------------------------------------------------------------------------------------------
  // Peer traffic.
  // -------------------------------------------------------------------------------------------

  /** A gap-repair request or answer from a member (anything else is ignored by the engine). */
  public onRepairMessage(link: PeerLink, message: PeerMessage): void {
    this.#repair.handle(link, message);
  }

  /** A member came online: it may hold what we could not repair before. */
  public onMemberOnline(onion: OnionName): void {
    for (const state of this.#manager.all()) {
      if (state.log.missing().length > 0 && isRepairCandidate(this.#facts(state), onion)) this.#repairs.schedule(state.record.id, 0);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Groups.
  // -------------------------------------------------------------------------------------------

  public records(): GroupRecord[] {
    return this.#manager.all().map((g) => g.record);
  }

  public record(groupId: string): GroupRecord {
    return this.#manager.get(groupId).record;
  }

  public invite(groupId: string): string {
    const record = this.#manager.get(groupId).record;
    return encodeGroupInvite(inviteOf(record), record.bundle);
  }

  public async create(options: { name: string; relay: string; members?: readonly string[] | null }): Promise<string> {
    const relayRecord = this.#relays.get(options.relay);
    if (relayRecord === undefined) throw new RelayUnknownError();
    const key = randomKey();
    const since = this.#startBucket(relayRecord.boardOnion, this.#relays.bucketSeconds(relayRecord.boardOnion));
    const record: GroupRecord = {
      id: deriveGroupId(key, relayRecord.boardOnion),
      name: options.name,
      key,
      relay: relayRecord.boardOnion,
      bundle: relayRecord.bundle,
      members: foundingMembers(this.#self, options.members?.map(parseOnionName)),
      owner: this.#self,
      createdAt: this.#now(),
      movedTo: null,
      movedFrom: null,
      ...(since === undefined ? {} : { since }),
    };
    await this.#manager.addGroup(record);
    if (this.#lifecycle.started) this.#syncs.ensure(record.relay);
    return record.id;
  }

  /**
   * The bucket a new group's messages on `relay` start at, at the earliest: the frontier the
   * relay last named to us, or our clock's bucket less the skew a relay's clock may have. The
   * relay files every later message there or later; undefined on a relay without buckets.
   */
  #startBucket(relay: string, bucketSeconds: number | undefined, at: number = this.#now()): number | undefined {
    if (bucketSeconds === undefined) return undefined;
    const ours = bucketOf(Math.max(0, at - RELAY_CLOCK_SKEW_MS), bucketSeconds * 1000);
    return Math.min(ours, this.#manager.cursor(relay)?.bucket ?? ours);
  }

  public async join(text: string, options: { movedFrom?: string } = {}): Promise<string> {
    const parsed = parseGroupInvite(text);
    await this.#trustForGroup(parsed.bundleText);
    const { invite } = parsed;
    if (this.#manager.has(invite.groupId)) return invite.groupId;
    await this.#follow(
      {
        id: invite.groupId,
        name: invite.name,
        key: invite.key,
        relay: invite.relay,
        bundle: parsed.bundleText,
        members: invite.members === null ? null : [...invite.members],
        owner: invite.owner,
        createdAt: this.#now(),
        movedTo: null,
        movedFrom: options.movedFrom ?? null,
        ...(invite.since === undefined ? {} : { since: invite.since }),
      },
      parsed.bundle.bucketSeconds !== undefined,
    );
    return invite.groupId;
  }

  /**
   * Mirror a group on another relay: the same key, name, members and owner, under the id the
   * key and that relay derive. Every holder of the key derives the same mirror, so none needs
   * an invite; what is posted to both relays reaches a member through either. `since` (ms):
   * when the mirror was decided, so its messages are fetched from then on (default: now).
   */
  public async mirror(groupId: string, bundleText: string, options: { since?: number } = {}): Promise<string> {
    const source = this.#manager.get(groupId).record;
    const bundle = await this.#trustForGroup(bundleText);
    if (bundle.boardOnion === source.relay) throw new InviteInvalidError('a mirror lives on another relay than its group');
    const id = deriveGroupId(source.key, bundle.boardOnion);
    if (this.#manager.has(id)) return id;
    const since = this.#startBucket(bundle.boardOnion, bundle.bucketSeconds, options.since);
    await this.#follow(
      {
        id,
        name: source.name,
        key: source.key,
        relay: bundle.boardOnion,
        bundle: bundleText,
        members: source.members === null ? null : [...source.members],
        owner: source.owner,
        createdAt: this.#now(),
        movedTo: null,
        movedFrom: null,
        mirrorOf: groupId,
        ...(since === undefined ? {} : { since }),
      },
      bundle.bucketSeconds !== undefined,
    );
    return id;
  }

  async #trustForGroup(bundleText: string): Promise<SignedKeyBundle> {
    try {
      return await this.#relays.trust(bundleText);
    } catch (err) {
      if (err instanceof KeyBundleChangedError) throw new InviteRejectedError('the relay key bundle differs from the one pinned for it', { cause: err });
      if (err instanceof RelayError) throw new InviteInvalidError(`relay bundle refused (${err.code})`, { cause: err });
      throw err;
    }
  }

  /**
   * Add a group we did not create and start following it. Already following its relay for
   * other groups, the new group's history may lie before our cursor there: fetch again from
   * the bucket it starts at, or, without one, replay the relay from the start (duplicates are
   * dropped). A "since" cursor (from before buckets) cannot say which buckets it covered, so
   * that one is dropped for a full fetch.
   */
  async #follow(record: GroupRecord, buckets: boolean): Promise<void> {
    const cursor = this.#manager.cursor(record.relay);
    const following = cursor !== undefined;
    await this.#manager.addGroup(record);
    const rewind = buckets && record.since !== undefined && (!following || cursor.bucket !== undefined);
    if (rewind) this.#manager.rewindBucket(record.relay, record.since!);
    if (this.#lifecycle.started) {
      const sync = this.#syncs.ensure(record.relay);
      if (following) sync.resync(rewind ? {} : { fromStart: true });
    }
    if (following && !rewind) await this.#manager.resetCursor(record.relay);
  }

  public async setRetired(groupId: string, retired: boolean): Promise<void> {
    const record = this.#manager.get(groupId).record;
    if ((record.retired === true) === retired) return;
    await this.#manager.updateGroup({ ...record, retired });
  }

  public currentId(groupId: string): string {
    this.#manager.get(groupId); // GroupUnknownError for a group we do not hold
    return currentHome(groupId, this.#moveLinks);
  }

  public async post(groupId: string, content: Overlay | Uint8Array): Promise<{ groupId: string; signature: string; parts: readonly string[] }> {
    if (this.#lifecycle.stopped) throw new PeerStoppedError();
    const target = this.currentId(groupId);
    const payload = content instanceof Uint8Array ? content : encodeOverlay(content);
    const { messages, delivered } = await this.#manager.createPost(target, payload);
    const sync = this.#syncs.ensure(this.#manager.get(target).record.relay);
    for (const message of messages) sync.post(message);
    return { groupId: target, signature: delivered.signature, parts: delivered.parts };
  }

  public messages(groupId: string): GroupMessage[] {
    return this.#manager.get(groupId).log.delivered().map(withOverlay);
  }

  public history(groupId: string): GroupMessage[] {
    this.#manager.get(groupId); // GroupUnknownError for a group we do not hold
    return moveChain(groupId, this.#moveLinks).flatMap((id) => this.messages(id));
  }

  public gapReport(groupId: string): FullGapReport {
    return { ...this.#manager.gapReport(groupId), withheld: this.#repair.withheld(groupId) };
  }

  public repairGaps(groupId: string): Promise<RepairOutcome> {
    return this.#repair.repair(groupId);
  }

  public isRelaySynced(relay: string): boolean {
    return this.#syncs.isSynced(relay);
  }

  /** The bucket our next fetch from `relay` starts at (undefined: from the start, or a relay without buckets). */
  public relayFrontier(relay: string): number | undefined {
    return this.#manager.cursor(relay)?.bucket;
  }

  readonly #moveLinks: MoveLookup = (id) => (this.#manager.has(id) ? this.#manager.get(id).record : undefined);

  /** Move a group to another relay: a new group (new key) whose invite is posted, signed, in the old one. */
  public async move(groupId: string, bundleText: string): Promise<string> {
    const old = this.#manager.get(this.currentId(groupId)).record;
    if (!mayMove(old, this.#self)) throw new MoveNotAuthorisedError();
    const bundle = await this.#relays.trust(bundleText);
    const key = randomKey();
    const record: GroupRecord = {
      ...old,
      id: deriveGroupId(key, bundle.boardOnion),
      key,
      relay: bundle.boardOnion,
      bundle: this.#relays.get(bundle.boardOnion)!.bundle,
      createdAt: this.#now(),
      movedTo: null,
      movedFrom: old.id,
    };
    await this.#manager.addGroup(record);
    await this.post(old.id, { o: OVERLAY.groupMove, d: encodeGroupInvite(inviteOf(record), record.bundle) });
    await this.#manager.updateGroup({ ...this.#manager.get(old.id).record, movedTo: record.id });
    if (this.#lifecycle.started) this.#syncs.ensure(record.relay);
    this.#events.emit('groupMoved', { from: old.id, to: record.id });
    return record.id;
  }

  #onDelivered(delivered: DeliveredGroupMessage): void {
    const message = withOverlay(delivered);
    this.#events.emit('groupMessage', message);
    if (message.overlay?.o === OVERLAY.groupMove && !message.own) {
      void this.#followMove(message, message.overlay.d).catch((err: unknown) => {
        this.#events.emit('groupMessageRejected', { groupId: message.groupId, source: 'relay', code: codeOf(err) });
      });
    }
  }

  /** A member posted a move: follow it if the owner signed it and it names the same owner. */
  async #followMove(message: GroupMessage, text: string): Promise<void> {
    const old = this.#manager.get(message.groupId).record;
    if (!mayMove(old, message.sender)) throw new MoveNotAuthorisedError();
    if (old.movedTo !== null || this.#moving.has(old.id)) return; // the first valid move wins
    this.#moving.add(old.id);
    try {
      const { invite } = parseGroupInvite(text);
      if (!mayMove(old, invite.owner)) throw new MoveNotAuthorisedError();
      const to = await this.join(text, { movedFrom: old.id });
      await this.#manager.updateGroup({ ...this.#manager.get(old.id).record, movedTo: to });
      this.#events.emit('groupMoved', { from: old.id, to });
    } finally {
      this.#moving.delete(old.id);
    }
  }
}

function inviteOf(record: GroupRecord): GroupInvite {
  return {
    groupId: record.id,
    name: record.name,
    key: record.key,
    relay: record.relay,
    owner: record.owner,
    members: record.members,
    timestamp: record.createdAt,
    ...(record.since === undefined ? {} : { since: record.since }),
  };
}

function withOverlay(delivered: DeliveredGroupMessage): GroupMessage {
  let overlay: Overlay | undefined;
  try {
    overlay = parseOverlay(delivered.payload, MAX_GROUP_PAYLOAD);
  } catch (err) {
    if (!(err instanceof CwtchError)) throw err;
  }
  return { ...delivered, overlay };
}
