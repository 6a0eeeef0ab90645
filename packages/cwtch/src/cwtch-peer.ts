import { EventEmitter } from 'node:events';
import type { Identity, OnionName, ScryptParams } from '@pursuance/crypto';
import type { ACN } from '@pursuance/tapir';
import type { AttributeResponse } from './attributes.js';
import { ContactBook } from './contact-book.js';
import { DirectMessages } from './direct-messages.js';
import { PeerStoppedError } from './errors.js';
import { Groups, type MembershipResolver } from './groups.js';
import { Outbox } from './outbox.js';
import type { Overlay } from './overlays.js';
import type { CwtchPeerEvents, FullGapReport, GroupMessage } from './peer-context.js';
import { PeerLinks, type PeerLink } from './peer-links.js';
import type { PeerMessage } from './peer-protocol.js';
import {
  DEFAULT_ACK_TIMEOUT_MS,
  DEFAULT_RELAY_RETRY_POLICY,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_RETRY_POLICY,
  OVERLAY,
  PEER_CONTEXT,
  PUBLIC_SCOPE,
  type RetryPolicy,
} from './protocol-profile.js';
import { PublicProfile } from './public-profile.js';
import type { Contact, DirectMessage, GroupRecord, RelayRecord } from './records.js';
import { RelayBook } from './relay-book.js';
import type { RelaySyncOptions } from './relay-sync.js';
import type { RepairOutcome } from './repair.js';
import type { ProfileStore } from './store.js';
import { ProfileVault } from './vault.js';

export interface CwtchPeerOptions {
  readonly store: ProfileStore;
  readonly acn: ACN;
  readonly password: string;
  readonly now?: () => number;
  readonly retry?: Partial<RetryPolicy>;
  readonly relayRetry?: Partial<RetryPolicy>;
  readonly ackTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  readonly relayClient?: RelaySyncOptions['client'];
  /**
   * After a live message reveals a gap, wait this long before asking members: a relay that
   * merely reordered its pushes fills most gaps by itself.
   */
  readonly repairDelayMs?: number;
}

export interface CreatePeerOptions extends CwtchPeerOptions {
  readonly displayName: string;
  /** scrypt cost for sealing the profile (tests pass TEST_SCRYPT_PARAMS). */
  readonly scryptParams?: ScryptParams;
}

/**
 * The Cwtch peer: one profile (identity, contacts, groups, relays) sealed in a ProfileStore,
 * reachable on its onion, talking to contacts over authenticated p2p links and to groups
 * through untrusted relays, with every relay's omissions detected by the previous-signature
 * chain and repaired from other members.
 *
 * A facade: it owns the lifecycle and the p2p links, routes incoming peer messages, and
 * delegates each concern to its collaborator — ContactBook, PublicProfile, DirectMessages,
 * Groups (and, under it, the pure membership policy). Every collaborator raises its events on
 * this one emitter.
 */
export class CwtchPeer extends EventEmitter<CwtchPeerEvents> {
  public readonly identity: Identity;
  /** Written only here; collaborators see it as a read-only PeerLifecycle. */
  readonly #lifecycle: { started: boolean; stopped: boolean } = { started: false, stopped: false };
  readonly #links: PeerLinks;
  readonly #outbox: Outbox;
  readonly #contacts: ContactBook;
  readonly #profile: PublicProfile;
  readonly #direct: DirectMessages;
  readonly #relays: RelayBook;
  readonly #groups: Groups;

  private constructor(options: CwtchPeerOptions, vault: ProfileVault, identity: Identity) {
    super();
    this.identity = identity;
    const now = options.now ?? Date.now;
    const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.#contacts = new ContactBook({ vault, self: identity.onion, now });
    this.#links = new PeerLinks({
      acn: options.acn,
      identity,
      admit: (onion) => !this.#contacts.isBlocked(onion),
      ...(options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.connectTimeoutMs }),
    });
    this.#outbox = new Outbox({
      vault,
      links: this.#links,
      retry: { ...DEFAULT_RETRY_POLICY, ...options.retry },
      ackTimeoutMs: options.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS,
      now,
    });
    this.#profile = new PublicProfile({ vault, links: this.#links, events: this, requestTimeoutMs });
    this.#direct = new DirectMessages({ vault, outbox: this.#outbox, contacts: this.#contacts, events: this, now });
    this.#relays = new RelayBook(vault);
    this.#groups = new Groups({
      vault,
      identity,
      acn: options.acn,
      now,
      links: this.#links,
      contacts: this.#contacts,
      relays: this.#relays,
      events: this,
      lifecycle: this.#lifecycle,
      requestTimeoutMs,
      repairDelayMs: options.repairDelayMs ?? 250,
      relayRetry: { ...DEFAULT_RELAY_RETRY_POLICY, ...options.relayRetry },
      relayClient: options.relayClient,
    });
    this.#links.on('message', (link, message) => this.#dispatch(link, message));
    this.#links.on('up', (link) => this.#linkUp(link.onion));
    this.#links.on('violation', (_onion, error) => this.emit('warning', { code: error.code, where: 'p2p' }));
    this.#outbox.on('attemptFailed', (entry, code) =>
      this.emit('deliveryFailed', { to: entry.to, id: entry.id, attempts: entry.attempts, nextAttemptAt: entry.nextAttemptAt, code }),
    );
  }

  /** Create a new profile in an empty store (ProfileExistsError if it holds one). */
  public static async create(options: CreatePeerOptions): Promise<CwtchPeer> {
    const { vault, identity } = await ProfileVault.create(options.store, options.password, options.scryptParams);
    await PublicProfile.initialise(vault, options.displayName);
    const peer = new CwtchPeer(options, vault, identity);
    await peer.#load();
    return peer;
  }

  /** Open an existing profile. WrongPasswordError leaves the store untouched. */
  public static async open(options: CwtchPeerOptions): Promise<CwtchPeer> {
    const { vault, identity } = await ProfileVault.unlock(options.store, options.password);
    const peer = new CwtchPeer(options, vault, identity);
    await peer.#load();
    return peer;
  }

  public get onion(): OnionName {
    return this.identity.onion;
  }

  async #load(): Promise<void> {
    await this.#profile.load();
    await this.#contacts.load();
    await this.#relays.load();
    await this.#groups.load();
    await this.#outbox.load();
  }

  /** Route a message from a contact's link to the collaborator that handles its context. */
  #dispatch(link: PeerLink, message: PeerMessage): void {
    if (this.#contacts.isBlocked(link.onion)) {
      link.close();
      return;
    }
    switch (message.context) {
      case PEER_CONTEXT.raw:
        this.#direct.receive(link, message);
        return;
      case PEER_CONTEXT.ack:
        this.#outbox.acknowledge(link.onion, message.id);
        return;
      case PEER_CONTEXT.getVal:
        void this.#profile.answer(link, message).catch(() => undefined);
        return;
      case PEER_CONTEXT.retVal:
        this.#profile.onAnswer(link, message);
        return;
      default:
        // Repair messages; anything else (im.cwtch.version, future contexts) is ignored.
        this.#groups.onRepairMessage(link, message);
    }
  }

  #linkUp(onion: OnionName): void {
    this.#outbox.kick(onion);
    this.#groups.onMemberOnline(onion);
  }

  // -------------------------------------------------------------------------------------------
  // Lifecycle.
  // -------------------------------------------------------------------------------------------

  /** Publish our onion, start delivering queued messages, sync every relay, greet contacts. */
  public async start(): Promise<void> {
    if (this.#lifecycle.stopped) throw new PeerStoppedError();
    if (this.#lifecycle.started) return;
    this.#lifecycle.started = true;
    await this.#links.listen();
    this.#outbox.start();
    this.#groups.start();
    // Greeting accepted contacts lets them flush what they queued for us while we were away.
    for (const contact of this.#contacts.all()) {
      if (contact.state === 'accepted') this.#links.connect(contact.onion).catch(() => undefined);
    }
  }

  /** Stop everything and flush pending writes. The store stays open (its owner closes it). */
  public async stop(): Promise<void> {
    if (this.#lifecycle.stopped) return;
    this.#lifecycle.stopped = true;
    this.#outbox.stop();
    await this.#groups.stop();
    await this.#links.close();
    await this.#groups.flush();
  }

  // -------------------------------------------------------------------------------------------
  // Profile and contacts.
  // -------------------------------------------------------------------------------------------

  public get displayName(): string {
    return this.#profile.displayName;
  }

  public setDisplayName(name: string): Promise<void> {
    return this.#profile.setDisplayName(name);
  }

  /** Set an attribute other peers may read with a getVal in the public scope. */
  public setPublicAttribute(path: string, value: string): Promise<void> {
    return this.#profile.setPublicAttribute(path, value);
  }

  /** Ask a peer for one of its public attributes ("name" is its display name). */
  public requestAttribute(onion: string, path: string, scope: string = PUBLIC_SCOPE): Promise<AttributeResponse> {
    return this.#profile.request(onion, path, scope);
  }

  public contacts(): Contact[] {
    return this.#contacts.all();
  }

  public contact(onion: string): Contact | undefined {
    return this.#contacts.get(onion);
  }

  /** Add (or accept) a contact by onion name. */
  public async addContact(onion: string, name = ''): Promise<Contact> {
    const contact = await this.#contacts.add(onion, name);
    if (this.#lifecycle.started && !this.#lifecycle.stopped) this.#links.connect(contact.onion).catch(() => undefined);
    return contact;
  }

  /** Accept a contact request (a peer that messaged us first). */
  public async acceptContact(onion: string): Promise<Contact> {
    const contact = await this.#contacts.accept(onion);
    this.#outbox.kick(contact.onion);
    return contact;
  }

  /** Block a peer: its links are closed and it is refused from now on. */
  public async blockContact(onion: string): Promise<Contact> {
    const contact = await this.#contacts.block(onion);
    this.#links.drop(contact.onion);
    return contact;
  }

  public isConnected(onion: string): boolean {
    return this.#links.isConnected(onion as OnionName);
  }

  // -------------------------------------------------------------------------------------------
  // Direct messages.
  // -------------------------------------------------------------------------------------------

  public sendMessage(onion: string, text: string): Promise<string> {
    return this.sendOverlay(onion, { o: OVERLAY.chat, d: text });
  }

  /**
   * Queue an overlay for a contact. Resolves with the message id once it is stored; delivery
   * (with retries) follows, and `delivered` fires when the contact acknowledges it.
   */
  public async sendOverlay(onion: string, overlay: Overlay): Promise<string> {
    if (this.#lifecycle.stopped) throw new PeerStoppedError();
    return this.#direct.send(onion, overlay);
  }

  /** Messages exchanged with `onion`, oldest first. */
  public directMessages(onion: string): Promise<DirectMessage[]> {
    return this.#direct.list(onion);
  }

  /** Direct messages still waiting for an acknowledgement. */
  public pendingMessages(onion?: string): { id: string; to: OnionName; attempts: number; nextAttemptAt: number }[] {
    return this.#direct.pending(onion);
  }

  // -------------------------------------------------------------------------------------------
  // Relays and groups.
  // -------------------------------------------------------------------------------------------

  /**
   * Import a relay's exported key bundle: verify its signature, pin it on first use, and refuse
   * a bundle that differs from the pinned one (KeyBundleChangedError). Returns the board onion.
   */
  public async addRelay(bundleText: string): Promise<OnionName> {
    return (await this.#relays.trust(bundleText)).boardOnion;
  }

  public relays(): RelayRecord[] {
    return this.#relays.all();
  }

  /** Is the relay for this group currently synced (replay done, live pushes flowing)? */
  public isRelaySynced(relay: string): boolean {
    return this.#groups.isRelaySynced(relay);
  }

  /** The bucket our next fetch from the relay starts at (undefined: from the start, or a relay without bucketed fetch). */
  public relayFrontier(relay: string): number | undefined {
    return this.#groups.relayFrontier(relay);
  }

  /**
   * How the next catch-up with the relay goes: whole buckets of `bucketSeconds` from
   * `fromBucket` (null: everything the relay holds), or null for a relay whose bundle predates
   * bucketed fetch (it replays since the last message processed).
   */
  public relayCatchUp(relay: string): { readonly bucketSeconds: number; readonly fromBucket: number | null } | null {
    const bucketSeconds = this.#relays.bucketSeconds(relay);
    if (bucketSeconds === undefined) return null;
    return { bucketSeconds, fromBucket: this.#groups.relayFrontier(relay) ?? null };
  }

  /** Create a group on a relay we imported: fresh random key, id bound to key and relay. */
  public createGroup(options: { name: string; relay: string; members?: readonly string[] | null }): Promise<string> {
    return this.#groups.create(options);
  }

  /**
   * Mirror a group on another relay (pinning its bundle on first use): the same key, so every
   * member derives the same mirror group and none needs an invite. Returns the mirror's id
   * (the one already held, if any). `since` (ms): when the mirror was decided; its messages
   * are fetched from then on.
   */
  public mirrorGroup(groupId: string, bundle: string, options: { since?: number } = {}): Promise<string> {
    return this.#groups.mirror(groupId, bundle, options);
  }

  public groups(): GroupRecord[] {
    return this.#groups.records();
  }

  public group(groupId: string): GroupRecord {
    return this.#groups.record(groupId);
  }

  /** The invite string for a group (what overlay 101 carries). */
  public groupInvite(groupId: string): string {
    return this.#groups.invite(groupId);
  }

  /** Invite a contact: the invite (with the relay's signed bundle) goes over p2p as overlay 101. */
  public inviteToGroup(groupId: string, onion: string): Promise<string> {
    return this.sendOverlay(onion, { o: OVERLAY.groupInvite, d: this.groupInvite(this.currentGroupId(groupId)) });
  }

  /**
   * Join a group from an invite: verify the relay bundle and the group id, pin the bundle
   * (InviteRejectedError if the relay's keys changed since we pinned them), start syncing.
   */
  public acceptGroupInvite(text: string, options: { movedFrom?: string } = {}): Promise<string> {
    return this.#groups.join(text, options);
  }

  /**
   * Retire a group its members have re-keyed away from (someone was expelled, so a new group
   * with a new key carries on), or bring it back (`retired` false: the application's choice
   * of group changed again). A retired group's history stays readable, but only senders the
   * membership resolver (setGroupMembership) still names are taken in from it, asked for gap
   * repair or served — whoever was expelled still holds its key and may keep posting. It stays
   * synced, because a member who had not yet learned of the re-keying may still post there;
   * our own posts already queued for it are still delivered. Persistent and idempotent.
   */
  public setGroupRetired(groupId: string, retired: boolean): Promise<void> {
    return this.#groups.setRetired(groupId, retired);
  }

  /**
   * Who else is in an open group (one without a fixed member list), as the application above
   * knows it — a pursuance knows its members. Those members may be asked for, and are served,
   * the group's messages in gap repair, even if they never posted (a silent member is not in
   * the group's log, and would otherwise be refused as a stranger).
   */
  public setGroupMembership(resolver: MembershipResolver): void {
    this.#groups.setMembership(resolver);
  }

  /** Where a group lives now (following moves). */
  public currentGroupId(groupId: string): string {
    return this.#groups.currentId(groupId);
  }

  /**
   * Post to a group (to where it lives now): the payload is split into fragments if needed,
   * each part sealed, signed and stored before this resolves, then queued for the relay.
   * `groupMessageAcked` fires per part when the relay echoes it back.
   */
  public postToGroup(groupId: string, content: Overlay | Uint8Array): Promise<{ groupId: string; signature: string; parts: readonly string[] }> {
    return this.#groups.post(groupId, content);
  }

  /** Complete messages of one group (not following moves), in the order they became complete. */
  public groupMessages(groupId: string): GroupMessage[] {
    return this.#groups.messages(groupId);
  }

  /** A group's whole history across moves: from the first group it continued to its current home. */
  public groupHistory(groupId: string): GroupMessage[] {
    return this.#groups.history(groupId);
  }

  /** Set-derived gaps and fragment problems, plus what repair could not fix. */
  public gapReport(groupId: string): FullGapReport {
    return this.#groups.gapReport(groupId);
  }

  /** Ask members for every missing message of a group now. */
  public repairGaps(groupId: string): Promise<RepairOutcome> {
    return this.#groups.repairGaps(groupId);
  }

  /**
   * Move a group to another relay (owner only): a new group (fresh key, new relay) is created
   * and its invite is posted, signed, in the old group; members verify it and follow. The old
   * group's history stays, linked to the new group.
   */
  public moveGroup(groupId: string, bundleText: string): Promise<string> {
    return this.#groups.move(groupId, bundleText);
  }
}
