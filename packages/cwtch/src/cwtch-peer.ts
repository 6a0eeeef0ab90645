import { EventEmitter } from 'node:events';
import { parseOnionName, randomKey, type Identity, type OnionName, type ScryptParams } from '@pursuance/crypto';
import { KeyBundleChangedError, RelayError, importKeyBundle, sameKeys, type SignedKeyBundle } from '@pursuance/relay';
import type { ACN } from '@pursuance/tapir';
import { encodeAttributeRequest, encodeAttributeResponse, parseAttributeRequest, parseAttributeResponse, type AttributeResponse } from './attributes.js';
import {
  ContactBlockedError,
  ContactUnknownError,
  CwtchError,
  InviteInvalidError,
  InviteRejectedError,
  MoveNotAuthorisedError,
  PayloadTooLargeError,
  PeerStoppedError,
  RelayUnknownError,
  RequestTimeoutError,
} from './errors.js';
import { deriveGroupId } from './group-id.js';
import { encodeGroupInvite, parseGroupInvite, type GroupInvite, type ParsedGroupInvite } from './group-invite.js';
import type { DeliveredGroupMessage, GapReport } from './group-log.js';
import { GroupManager, type GroupState, type MessageSource } from './group-manager.js';
import { Outbox } from './outbox.js';
import { encodeOverlay, parseOverlay, type Overlay } from './overlays.js';
import { PeerLinks, type PeerLink } from './peer-links.js';
import { newMessageId, type PeerMessage } from './peer-protocol.js';
import {
  DEFAULT_ACK_TIMEOUT_MS,
  DEFAULT_RELAY_RETRY_POLICY,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_RETRY_POLICY,
  DISPLAY_NAME_PATH,
  MAX_GROUP_PAYLOAD,
  MAX_PEER_MESSAGE_DATA,
  OVERLAY,
  PEER_CONTEXT,
  PUBLIC_SCOPE,
  type RetryPolicy,
} from './protocol-profile.js';
import {
  COLLECTIONS,
  ContactSchema,
  DirectMessageSchema,
  GroupRecordSchema,
  RelayRecordSchema,
  SettingsSchema,
  decodeRecord,
  toCanonical,
  type Contact,
  type DirectMessage,
  type GroupRecord,
  type RelayRecord,
  type Settings,
} from './records.js';
import { RelaySync, type RelaySyncOptions } from './relay-sync.js';
import { RepairEngine, type RepairOutcome, type WITHHELD_REASON } from './repair.js';
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

export interface ReceivedDirectMessage {
  readonly from: OnionName;
  readonly id: string;
  readonly overlay: Overlay;
  readonly contactState: Contact['state'];
}

export interface GroupMessage extends DeliveredGroupMessage {
  /** The payload as an overlay, when it is one. */
  readonly overlay: Overlay | undefined;
}

export interface FullGapReport extends GapReport {
  /** Missing signatures no reachable member could supply: possibly withheld by the relay. */
  readonly withheld: readonly string[];
}

export interface CwtchPeerEvents {
  contactRequest: [OnionName];
  message: [ReceivedDirectMessage];
  delivered: [{ to: OnionName; id: string }];
  deliveryFailed: [{ to: OnionName; id: string; attempts: number; nextAttemptAt: number; code: string }];
  groupInvite: [{ from: OnionName; invite: ParsedGroupInvite; text: string }];
  groupMessage: [GroupMessage];
  groupMessagePosted: [{ relay: string; signature: string }];
  groupMessageAcked: [{ groupId: string; signature: string }];
  groupMessageRejected: [{ groupId: string; source: MessageSource; code: string }];
  gap: [{ groupId: string; signature: string }];
  gapRepaired: [{ groupId: string; signatures: string[]; from: OnionName }];
  gapUnrepaired: [{ groupId: string; signatures: string[]; reason: typeof WITHHELD_REASON }];
  repairFinished: [RepairOutcome];
  groupMoved: [{ from: string; to: string }];
  relaySynced: [{ relay: string; count: number }];
  relayDown: [{ relay: string; code: string | undefined }];
  /** Something went wrong that the peer recovered from (codes only, never contents). */
  warning: [{ code: string; where: string }];
}

const SETTINGS_KEY = 'profile';
const codeOf = (err: unknown): string => (err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : 'ERROR');

/**
 * The Cwtch peer: one profile (identity, contacts, groups, relays) sealed in a ProfileStore,
 * reachable on its onion, talking to contacts over authenticated p2p links and to groups
 * through untrusted relays, with every relay's omissions detected by the previous-signature
 * chain and repaired from other members.
 */
export class CwtchPeer extends EventEmitter<CwtchPeerEvents> {
  public readonly identity: Identity;
  readonly #vault: ProfileVault;
  readonly #acn: ACN;
  readonly #now: () => number;
  readonly #options: CwtchPeerOptions;
  readonly #groups: GroupManager;
  readonly #links: PeerLinks;
  readonly #outbox: Outbox;
  readonly #repair: RepairEngine;
  readonly #syncs = new Map<string, RelaySync>();
  readonly #contacts = new Map<OnionName, Contact>();
  readonly #relays = new Map<string, RelayRecord>();
  readonly #attributeRequests = new Map<string, { onion: OnionName; resolve: (r: AttributeResponse) => void }>();
  readonly #repairTimers = new Map<string, NodeJS.Timeout>();
  readonly #moving = new Set<string>();
  readonly #rawChains = new Map<OnionName, Promise<void>>();
  #settings: Settings = { displayName: '', attributes: {} };
  #started = false;
  #stopped = false;
  #membership: ((groupId: string) => readonly OnionName[] | null) | null = null;

  private constructor(options: CwtchPeerOptions, vault: ProfileVault, identity: Identity) {
    super();
    this.#options = options;
    this.#vault = vault;
    this.identity = identity;
    this.#acn = options.acn;
    this.#now = options.now ?? Date.now;
    this.#groups = new GroupManager({ vault, identity, now: this.#now, admits: (state, sender) => this.#knownMembers(state).includes(sender) });
    this.#links = new PeerLinks({
      acn: options.acn,
      identity,
      admit: (onion) => this.#contacts.get(onion)?.state !== 'blocked',
      ...(options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.connectTimeoutMs }),
    });
    this.#outbox = new Outbox({
      vault,
      links: this.#links,
      retry: { ...DEFAULT_RETRY_POLICY, ...options.retry },
      ackTimeoutMs: options.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS,
      now: this.#now,
    });
    this.#repair = new RepairEngine({
      groups: this.#groups,
      links: this.#links,
      self: identity.onion,
      requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      mayServe: (onion, group) => this.#mayServe(onion, group),
      candidates: (group) => this.#candidates(group),
    });
    this.#wire();
  }

  /** Create a new profile in an empty store (ProfileExistsError if it holds one). */
  public static async create(options: CreatePeerOptions): Promise<CwtchPeer> {
    const { vault, identity } = await ProfileVault.create(options.store, options.password, options.scryptParams);
    const settings: Settings = { displayName: options.displayName, attributes: {} };
    await vault.write([vault.put(COLLECTIONS.settings, SETTINGS_KEY, toCanonical(settings))]);
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
    this.#settings = decodeRecord(SettingsSchema, await this.#vault.get(COLLECTIONS.settings, SETTINGS_KEY), 'settings');
    for await (const r of this.#vault.all(COLLECTIONS.contacts)) {
      const contact = decodeRecord(ContactSchema, r.value, 'contact');
      this.#contacts.set(contact.onion, contact);
    }
    for await (const r of this.#vault.all(COLLECTIONS.relays)) {
      const relay = decodeRecord(RelayRecordSchema, r.value, 'relay');
      this.#relays.set(relay.boardOnion, relay);
    }
    const groups: GroupRecord[] = [];
    for await (const r of this.#vault.all(COLLECTIONS.groups)) groups.push(decodeRecord(GroupRecordSchema, r.value, 'group'));
    await this.#groups.load(groups);
    await this.#outbox.load();
  }

  #wire(): void {
    this.#links.on('message', (link, message) => this.#dispatch(link, message));
    this.#links.on('up', (link) => this.#linkUp(link.onion));
    this.#links.on('violation', (_onion, error) => this.emit('warning', { code: error.code, where: 'p2p' }));
    this.#outbox.on('delivered', (entry) => void this.#onDelivered(entry.to, entry.id));
    this.#outbox.on('attemptFailed', (entry, code) =>
      this.emit('deliveryFailed', { to: entry.to, id: entry.id, attempts: entry.attempts, nextAttemptAt: entry.nextAttemptAt, code }),
    );
    this.#groups.on('delivered', (delivered) => this.#onGroupDelivered(delivered));
    this.#groups.on('acknowledged', (ack) => this.emit('groupMessageAcked', ack));
    this.#groups.on('rejected', ({ groupId, source, error }) => this.emit('groupMessageRejected', { groupId, source, code: error.code }));
    this.#groups.on('gap', (gap) => this.emit('gap', gap));
    this.#groups.on('storeError', (error) => this.emit('warning', { code: codeOf(error), where: 'group-store' }));
    this.#repair.on('repaired', (r) => this.emit('gapRepaired', r));
    this.#repair.on('unrepaired', (r) => this.emit('gapUnrepaired', r));
    this.#repair.on('finished', (r) => this.emit('repairFinished', r));
  }

  // -------------------------------------------------------------------------------------------
  // Lifecycle.
  // -------------------------------------------------------------------------------------------

  /** Publish our onion, start delivering queued messages, sync every relay, greet contacts. */
  public async start(): Promise<void> {
    if (this.#stopped) throw new PeerStoppedError();
    if (this.#started) return;
    this.#started = true;
    await this.#links.listen();
    this.#outbox.start();
    for (const relay of this.#groups.relays()) this.#ensureSync(relay);
    // Greeting accepted contacts lets them flush what they queued for us while we were away.
    for (const contact of this.#contacts.values()) {
      if (contact.state === 'accepted') this.#links.connect(contact.onion).catch(() => undefined);
    }
  }

  /** Stop everything and flush pending writes. The store stays open (its owner closes it). */
  public async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#outbox.stop();
    this.#repair.stop();
    for (const timer of this.#repairTimers.values()) clearTimeout(timer);
    this.#repairTimers.clear();
    await Promise.allSettled([...this.#syncs.values()].map((s) => s.stop()));
    await this.#links.close();
    await this.#groups.flush();
  }

  // -------------------------------------------------------------------------------------------
  // Profile and contacts.
  // -------------------------------------------------------------------------------------------

  public get displayName(): string {
    return this.#settings.displayName;
  }

  public async setDisplayName(name: string): Promise<void> {
    await this.#saveSettings({ ...this.#settings, displayName: name });
  }

  /** Set an attribute other peers may read with a getVal in the public scope. */
  public async setPublicAttribute(path: string, value: string): Promise<void> {
    await this.#saveSettings({ ...this.#settings, attributes: { ...this.#settings.attributes, [path]: value } });
  }

  async #saveSettings(settings: Settings): Promise<void> {
    await this.#vault.write([this.#vault.put(COLLECTIONS.settings, SETTINGS_KEY, toCanonical(settings))]);
    this.#settings = settings;
  }

  public contacts(): Contact[] {
    return [...this.#contacts.values()];
  }

  public contact(onion: string): Contact | undefined {
    return this.#contacts.get(onion as OnionName);
  }

  /** Add (or accept) a contact by onion name. */
  public async addContact(onion: string, name = ''): Promise<Contact> {
    const id = parseOnionName(onion);
    if (id === this.onion) throw new RangeError('a profile cannot add itself');
    const existing = this.#contacts.get(id);
    const contact: Contact = { onion: id, name: name || existing?.name || '', state: 'accepted', addedAt: existing?.addedAt ?? this.#now() };
    await this.#saveContact(contact);
    if (this.#started && !this.#stopped) this.#links.connect(id).catch(() => undefined);
    return contact;
  }

  /** Accept a contact request (a peer that messaged us first). */
  public async acceptContact(onion: string): Promise<Contact> {
    const existing = this.#contacts.get(onion as OnionName);
    if (existing === undefined) throw new ContactUnknownError();
    const contact: Contact = { ...existing, state: 'accepted' };
    await this.#saveContact(contact);
    this.#outbox.kick(contact.onion);
    return contact;
  }

  /** Block a peer: its links are closed and it is refused from now on. */
  public async blockContact(onion: string): Promise<Contact> {
    const id = parseOnionName(onion);
    const existing = this.#contacts.get(id);
    const contact: Contact = { onion: id, name: existing?.name ?? '', state: 'blocked', addedAt: existing?.addedAt ?? this.#now() };
    await this.#saveContact(contact);
    this.#links.drop(id);
    return contact;
  }

  async #saveContact(contact: Contact): Promise<void> {
    await this.#vault.write([this.#vault.put(COLLECTIONS.contacts, contact.onion, toCanonical(contact))]);
    this.#contacts.set(contact.onion, contact);
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
    if (this.#stopped) throw new PeerStoppedError();
    const contact = this.#contacts.get(onion as OnionName);
    if (contact === undefined) throw new ContactUnknownError();
    if (contact.state === 'blocked') throw new ContactBlockedError();
    const data = encodeOverlay(overlay);
    if (data.length > MAX_PEER_MESSAGE_DATA) throw new PayloadTooLargeError(`a direct message is at most ${MAX_PEER_MESSAGE_DATA} bytes`);
    const id = newMessageId();
    const record: DirectMessage = { id, peer: contact.onion, direction: 'out', overlay: overlay.o, data: overlay.d, timestamp: this.#now(), acked: false };
    await this.#outbox.enqueue(contact.onion, PEER_CONTEXT.raw, data, [this.#vault.put(COLLECTIONS.directMessages(contact.onion), `out:${id}`, toCanonical(record))], id);
    return id;
  }

  /** Messages exchanged with `onion`, oldest first. */
  public async directMessages(onion: string): Promise<DirectMessage[]> {
    const out: DirectMessage[] = [];
    for await (const r of this.#vault.all(COLLECTIONS.directMessages(onion))) out.push(decodeRecord(DirectMessageSchema, r.value, 'direct message'));
    return out;
  }

  /** Direct messages still waiting for an acknowledgement. */
  public pendingMessages(onion?: string): { id: string; to: OnionName; attempts: number; nextAttemptAt: number }[] {
    return this.#outbox.pending(onion as OnionName | undefined).map((e) => ({ id: e.id, to: e.to, attempts: e.attempts, nextAttemptAt: e.nextAttemptAt }));
  }

  async #onDelivered(to: OnionName, id: string): Promise<void> {
    const key = `out:${id}`;
    try {
      const value = await this.#vault.get(COLLECTIONS.directMessages(to), key);
      if (value !== undefined) {
        const record = decodeRecord(DirectMessageSchema, value, 'direct message');
        await this.#vault.write([this.#vault.put(COLLECTIONS.directMessages(to), key, toCanonical({ ...record, acked: true }))]);
      }
    } catch (err) {
      this.emit('warning', { code: codeOf(err), where: 'direct-message-store' });
    }
    this.emit('delivered', { to, id });
  }

  /** Ask a peer for one of its public attributes ("name" is its display name). */
  public async requestAttribute(onion: string, path: string, scope: string = PUBLIC_SCOPE): Promise<AttributeResponse> {
    const link = await this.#links.connect(parseOnionName(onion));
    const id = newMessageId();
    const answer = new Promise<AttributeResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#attributeRequests.delete(id);
        reject(new RequestTimeoutError('attribute request was not answered in time'));
      }, this.#options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
      this.#attributeRequests.set(id, {
        onion: link.onion,
        resolve: (r) => {
          clearTimeout(timer);
          this.#attributeRequests.delete(id);
          resolve(r);
        },
      });
    });
    await link.send({ id, context: PEER_CONTEXT.getVal, data: encodeAttributeRequest({ scope, path }) });
    return answer;
  }

  #dispatch(link: PeerLink, message: PeerMessage): void {
    if (this.#contacts.get(link.onion)?.state === 'blocked') {
      link.close();
      return;
    }
    switch (message.context) {
      case PEER_CONTEXT.raw: {
        // One peer's messages are handled one at a time, in arrival order: delivery order is
        // kept, and a quick retry cannot slip past the duplicate check of its first copy.
        const next = (this.#rawChains.get(link.onion) ?? Promise.resolve())
          .then(() => this.#onRaw(link, message))
          .catch((err: unknown) => {
            this.emit('warning', { code: codeOf(err), where: 'direct-message' });
          });
        this.#rawChains.set(link.onion, next);
        void next.then(() => {
          if (this.#rawChains.get(link.onion) === next) this.#rawChains.delete(link.onion);
        });
        return;
      }
      case PEER_CONTEXT.ack:
        this.#outbox.acknowledge(link.onion, message.id);
        return;
      case PEER_CONTEXT.getVal:
        void this.#onGetVal(link, message).catch(() => undefined);
        return;
      case PEER_CONTEXT.retVal: {
        const pending = this.#attributeRequests.get(message.id);
        if (pending?.onion !== link.onion) return;
        try {
          pending.resolve(parseAttributeResponse(message.data));
        } catch (err) {
          this.emit('warning', { code: codeOf(err), where: 'attribute' });
        }
        return;
      }
      default:
        // Repair messages; anything else (im.cwtch.version, future contexts) is ignored.
        this.#repair.handle(link, message);
    }
  }

  async #onRaw(link: PeerLink, message: PeerMessage): Promise<void> {
    let overlay: Overlay | undefined;
    try {
      overlay = parseOverlay(message.data);
    } catch (err) {
      this.emit('warning', { code: codeOf(err), where: 'direct-message' });
    }
    let contact = this.#contacts.get(link.onion);
    if (contact === undefined) {
      contact = { onion: link.onion, name: '', state: 'pending', addedAt: this.#now() };
      await this.#saveContact(contact);
      this.emit('contactRequest', link.onion);
    }
    const collection = COLLECTIONS.directMessages(link.onion);
    const key = `in:${message.id}`;
    // A retry of a message whose ack was lost: acknowledge again, deliver once.
    const duplicate = (await this.#vault.get(collection, key)) !== undefined;
    if (!duplicate && overlay !== undefined) {
      const record: DirectMessage = { id: message.id, peer: link.onion, direction: 'in', overlay: overlay.o, data: overlay.d, timestamp: this.#now(), acked: true };
      await this.#vault.write([this.#vault.put(collection, key, toCanonical(record))]);
    }
    await link.send({ id: message.id, context: PEER_CONTEXT.ack, data: new Uint8Array(0) });
    if (duplicate || overlay === undefined) return;
    this.emit('message', { from: link.onion, id: message.id, overlay, contactState: contact.state });
    if (overlay.o === OVERLAY.groupInvite) {
      try {
        this.emit('groupInvite', { from: link.onion, invite: parseGroupInvite(overlay.d), text: overlay.d });
      } catch (err) {
        this.emit('warning', { code: codeOf(err), where: 'group-invite' });
      }
    }
  }

  async #onGetVal(link: PeerLink, message: PeerMessage): Promise<void> {
    let response: AttributeResponse = { exists: false, value: '' };
    try {
      const request = parseAttributeRequest(message.data);
      if (request.scope === PUBLIC_SCOPE) {
        // The path comes from a remote peer: only our own attributes answer, never Object.prototype's.
        const attributes = this.#settings.attributes;
        const value = request.path === DISPLAY_NAME_PATH ? this.#settings.displayName : Object.hasOwn(attributes, request.path) ? attributes[request.path] : undefined;
        if (value !== undefined) response = { exists: true, value };
      }
    } catch {
      // Malformed request: answer "does not exist", like an unknown path.
    }
    await link.send({ id: message.id, context: PEER_CONTEXT.retVal, data: encodeAttributeResponse(response) });
  }

  #linkUp(onion: OnionName): void {
    this.#outbox.kick(onion);
    // A member came online: it may hold what we could not repair before.
    for (const state of this.#groups.all()) {
      if (state.log.missing().length > 0 && this.#isCandidate(onion, state)) this.#scheduleRepair(state.record.id, 0);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Relays and groups.
  // -------------------------------------------------------------------------------------------

  /**
   * Import a relay's exported key bundle: verify its signature, pin it on first use, and refuse
   * a bundle that differs from the pinned one (KeyBundleChangedError). Returns the board onion.
   */
  public async addRelay(bundleText: string): Promise<OnionName> {
    return (await this.#trustRelay(bundleText)).boardOnion;
  }

  async #trustRelay(bundleText: string): Promise<SignedKeyBundle> {
    const bundle = importKeyBundle(bundleText);
    const pinned = this.#relays.get(bundle.boardOnion);
    if (pinned !== undefined) {
      if (!sameKeys(importKeyBundle(pinned.bundle), bundle)) throw new KeyBundleChangedError();
      return bundle;
    }
    const record: RelayRecord = { boardOnion: bundle.boardOnion, bundle: bundleText };
    await this.#vault.write([this.#vault.put(COLLECTIONS.relays, record.boardOnion, toCanonical(record))]);
    this.#relays.set(record.boardOnion, record);
    return bundle;
  }

  public relays(): RelayRecord[] {
    return [...this.#relays.values()];
  }

  /** Create a group on a relay we imported: fresh random key, id bound to key and relay. */
  public async createGroup(options: { name: string; relay: string; members?: readonly string[] | null }): Promise<string> {
    const relayRecord = this.#relays.get(options.relay);
    if (relayRecord === undefined) throw new RelayUnknownError();
    const key = randomKey();
    const members = options.members === undefined || options.members === null ? null : [...new Set([this.onion, ...options.members.map(parseOnionName)])];
    const record: GroupRecord = {
      id: deriveGroupId(key, relayRecord.boardOnion),
      name: options.name,
      key,
      relay: relayRecord.boardOnion,
      bundle: relayRecord.bundle,
      members,
      owner: this.onion,
      createdAt: this.#now(),
      movedTo: null,
      movedFrom: null,
    };
    await this.#groups.addGroup(record);
    if (this.#started) this.#ensureSync(record.relay);
    return record.id;
  }

  public groups(): GroupRecord[] {
    return this.#groups.all().map((g) => g.record);
  }

  public group(groupId: string): GroupRecord {
    return this.#groups.get(groupId).record;
  }

  /** The invite string for a group (what overlay 101 carries). */
  public groupInvite(groupId: string): string {
    const record = this.#groups.get(groupId).record;
    return encodeGroupInvite(inviteOf(record), record.bundle);
  }

  /** Invite a contact: the invite (with the relay's signed bundle) goes over p2p as overlay 101. */
  public inviteToGroup(groupId: string, onion: string): Promise<string> {
    return this.sendOverlay(onion, { o: OVERLAY.groupInvite, d: this.groupInvite(this.currentGroupId(groupId)) });
  }

  /**
   * Join a group from an invite: verify the relay bundle and the group id, pin the bundle
   * (InviteRejectedError if the relay's keys changed since we pinned them), start syncing.
   */
  public async acceptGroupInvite(text: string, options: { movedFrom?: string } = {}): Promise<string> {
    const parsed = parseGroupInvite(text);
    try {
      await this.#trustRelay(parsed.bundleText);
    } catch (err) {
      if (err instanceof KeyBundleChangedError) throw new InviteRejectedError('the relay key bundle differs from the one pinned for it', { cause: err });
      if (err instanceof RelayError) throw new InviteInvalidError(`relay bundle refused (${err.code})`, { cause: err });
      throw err;
    }
    const { invite } = parsed;
    if (this.#groups.has(invite.groupId)) return invite.groupId;
    // Already following this relay for other groups: the new group's history lies before our
    // cursor there, so replay the relay from the start (duplicates are dropped).
    const following = this.#groups.cursor(invite.relay) !== undefined;
    const record: GroupRecord = {
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
    };
    await this.#groups.addGroup(record);
    if (this.#started) {
      const sync = this.#ensureSync(record.relay);
      if (following) sync.resync({ fromStart: true });
    }
    if (following) await this.#groups.resetCursor(record.relay);
    return record.id;
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
  public async setGroupRetired(groupId: string, retired: boolean): Promise<void> {
    const record = this.#groups.get(groupId).record;
    if ((record.retired === true) === retired) return;
    await this.#groups.updateGroup({ ...record, retired });
  }

  /** Where a group lives now (following moves). */
  public currentGroupId(groupId: string): string {
    let id = groupId;
    for (let i = 0; i < 64; i++) {
      const next = this.#groups.get(id).record.movedTo;
      if (next === null || !this.#groups.has(next)) return id;
      id = next;
    }
    return id;
  }

  /**
   * Post to a group (to where it lives now): the payload is split into fragments if needed,
   * each part sealed, signed and stored before this resolves, then queued for the relay.
   * `groupMessageAcked` fires per part when the relay echoes it back.
   */
  public async postToGroup(groupId: string, content: Overlay | Uint8Array): Promise<{ groupId: string; signature: string; parts: readonly string[] }> {
    if (this.#stopped) throw new PeerStoppedError();
    const target = this.currentGroupId(groupId);
    const payload = content instanceof Uint8Array ? content : encodeOverlay(content);
    const { messages, delivered } = await this.#groups.createPost(target, payload);
    const sync = this.#ensureSync(this.#groups.get(target).record.relay);
    for (const message of messages) sync.post(message);
    return { groupId: target, signature: delivered.signature, parts: delivered.parts };
  }

  /** Complete messages of one group (not following moves), in the order they became complete. */
  public groupMessages(groupId: string): GroupMessage[] {
    return this.#groups.get(groupId).log.delivered().map(withOverlay);
  }

  /** A group's whole history across moves: from the first group it continued to its current home. */
  public groupHistory(groupId: string): GroupMessage[] {
    let root = groupId;
    for (let i = 0; i < 64; i++) {
      const previous = this.#groups.get(root).record.movedFrom;
      if (previous === null || !this.#groups.has(previous)) break;
      root = previous;
    }
    const out: GroupMessage[] = [];
    let id: string | null = root;
    for (let i = 0; id !== null && i < 64 && this.#groups.has(id); i++) {
      out.push(...this.groupMessages(id));
      id = this.#groups.get(id).record.movedTo;
    }
    return out;
  }

  /** Set-derived gaps and fragment problems, plus what repair could not fix. */
  public gapReport(groupId: string): FullGapReport {
    return { ...this.#groups.gapReport(groupId), withheld: this.#repair.withheld(groupId) };
  }

  /** Ask members for every missing message of a group now. */
  public repairGaps(groupId: string): Promise<RepairOutcome> {
    return this.#repair.repair(groupId);
  }

  /**
   * Move a group to another relay (owner only): a new group (fresh key, new relay) is created
   * and its invite is posted, signed, in the old group; members verify it and follow. The old
   * group's history stays, linked to the new group.
   */
  public async moveGroup(groupId: string, bundleText: string): Promise<string> {
    const old = this.#groups.get(this.currentGroupId(groupId)).record;
    if (old.owner !== this.onion) throw new MoveNotAuthorisedError();
    const bundle = await this.#trustRelay(bundleText);
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
    await this.#groups.addGroup(record);
    await this.postToGroup(old.id, { o: OVERLAY.groupMove, d: encodeGroupInvite(inviteOf(record), record.bundle) });
    await this.#groups.updateGroup({ ...this.#groups.get(old.id).record, movedTo: record.id });
    if (this.#started) this.#ensureSync(record.relay);
    this.emit('groupMoved', { from: old.id, to: record.id });
    return record.id;
  }

  #onGroupDelivered(delivered: DeliveredGroupMessage): void {
    const message = withOverlay(delivered);
    this.emit('groupMessage', message);
    if (message.overlay?.o === OVERLAY.groupMove && !message.own) {
      void this.#onMove(message, message.overlay.d).catch((err: unknown) => {
        this.emit('groupMessageRejected', { groupId: message.groupId, source: 'relay', code: codeOf(err) });
      });
    }
  }

  async #onMove(message: GroupMessage, text: string): Promise<void> {
    const old = this.#groups.get(message.groupId).record;
    if (message.sender !== old.owner) throw new MoveNotAuthorisedError();
    if (old.movedTo !== null || this.#moving.has(old.id)) return; // the first valid move wins
    this.#moving.add(old.id);
    try {
      const { invite } = parseGroupInvite(text);
      if (invite.owner !== old.owner) throw new MoveNotAuthorisedError();
      const to = await this.acceptGroupInvite(text, { movedFrom: old.id });
      await this.#groups.updateGroup({ ...this.#groups.get(old.id).record, movedTo: to });
      this.emit('groupMoved', { from: old.id, to });
    } finally {
      this.#moving.delete(old.id);
    }
  }

  #ensureSync(relay: string): RelaySync {
    const existing = this.#syncs.get(relay);
    if (existing !== undefined) return existing;
    const record = this.#relays.get(relay);
    if (record === undefined) throw new RelayUnknownError();
    const created = new RelaySync({
      acn: this.#acn,
      bundle: importKeyBundle(record.bundle),
      cursor: () => this.#groups.cursor(relay),
      retry: { ...DEFAULT_RELAY_RETRY_POLICY, ...this.#options.relayRetry },
      ...(this.#options.relayClient === undefined ? {} : { client: this.#options.relayClient }),
      onMessage: (message, phase) => {
        const outcome = this.#groups.receiveFromRelay(relay, message);
        this.#groups.setCursor(relay, message.signature);
        if (phase === 'live' && outcome.kind === 'accepted' && outcome.newGap !== undefined) this.#scheduleRepair(outcome.groupId);
      },
    });
    this.#syncs.set(relay, created);
    created.on('synced', (count) => {
      this.emit('relaySynced', { relay, count });
      for (const state of this.#groups.onRelay(relay)) if (state.log.missing().length > 0) this.#scheduleRepair(state.record.id);
    });
    created.on('down', (error) => this.emit('relayDown', { relay, code: error === undefined ? undefined : codeOf(error) }));
    created.on('posted', (signature) => this.emit('groupMessagePosted', { relay, signature }));
    created.on('postFailed', (_signature, error) => this.emit('warning', { code: codeOf(error), where: 'relay-post' }));
    if (this.#started && !this.#stopped) {
      created.start();
      void this.#groups.unacknowledgedPosts(relay).then(
        (messages) => messages.forEach((m) => created.post(m)),
        (err: unknown) => this.emit('warning', { code: codeOf(err), where: 'group-outbox' }),
      );
    }
    return created;
  }

  /** Is the relay for this group currently synced (replay done, live pushes flowing)? */
  public isRelaySynced(relay: string): boolean {
    return this.#syncs.get(relay)?.isSynced ?? false;
  }

  #scheduleRepair(groupId: string, delayMs: number = this.#options.repairDelayMs ?? 250): void {
    if (this.#stopped || this.#repairTimers.has(groupId)) return;
    const timer = setTimeout(() => {
      this.#repairTimers.delete(groupId);
      if (!this.#stopped) void this.#repair.repair(groupId).catch((err: unknown) => this.emit('warning', { code: codeOf(err), where: 'repair' }));
    }, delayMs);
    this.#repairTimers.set(groupId, timer);
  }

  /**
   * Who else is in an open group (one without a fixed member list), as the application above
   * knows it — a pursuance knows its members. Those members may be asked for, and are served,
   * the group's messages in gap repair, even if they never posted (a silent member is not in
   * the group's log, and would otherwise be refused as a stranger).
   */
  public setGroupMembership(resolver: (groupId: string) => readonly OnionName[] | null): void {
    this.#membership = resolver;
  }

  #knownMembers(state: GroupState): readonly OnionName[] {
    if (state.record.members !== null) return state.record.members;
    try {
      return this.#membership?.(state.record.id) ?? [];
    } catch {
      return [];
    }
  }

  #candidates(state: GroupState): OnionName[] {
    const { members, owner } = state.record;
    if (members !== null) return [...members];
    if (state.record.retired === true) return [...this.#knownMembers(state)];
    return [...new Set([owner, ...state.log.senders(), ...this.#knownMembers(state)])];
  }

  #isCandidate(onion: OnionName, state: GroupState): boolean {
    const { members, owner } = state.record;
    if (members === null && state.record.retired === true) return this.#knownMembers(state).includes(onion);
    return members !== null ? members.includes(onion) : onion === owner || state.log.senders().has(onion) || this.#knownMembers(state).includes(onion);
  }

  #mayServe(onion: OnionName, state: GroupState): boolean {
    if (state.record.members !== null) return state.record.members.includes(onion);
    // A retired group serves only the members the application still counts (#isCandidate).
    return this.#isCandidate(onion, state) || (state.record.retired !== true && this.#contacts.get(onion)?.state === 'accepted');
  }
}

function inviteOf(record: GroupRecord): GroupInvite {
  return { groupId: record.id, name: record.name, key: record.key, relay: record.relay, owner: record.owner, members: record.members, timestamp: record.createdAt };
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
