import { EventEmitter } from 'node:events';
import { fromHex, toHex, type Identity, type OnionName } from '@pursuance/crypto';
import type { EncryptedGroupMessage } from '@pursuance/relay';
import { CwtchError, GroupMessageInvalidError, GroupUnknownError, NotAMemberError, PeerMessageInvalidError } from './errors.js';
import { isDropBoxGroup } from './drop-box.js';
import { decryptGroupCiphertext, sealGroupMessage, trialDecrypt, verifyGroupMessage } from './group-envelope.js';
import { groupGenesis } from './group-id.js';
import { GroupLog, type DeliveredGroupMessage, type GapReport, type LogEntry } from './group-log.js';
import { splitPayload } from './fragments.js';
import {
  COLLECTIONS,
  GroupEntrySchema,
  GroupOutboxSchema,
  RelayCursorSchema,
  decodeRecord,
  type RelayCursor,
  toCanonical,
  type GroupRecord,
  type StoredGroupEntry,
} from './records.js';
import type { StoreOp } from './store.js';
import type { ProfileVault } from './vault.js';

/**
 * A profile's groups: their records, their message logs, and the receive pipeline every group
 * message goes through, whether it came from a relay or from a member during gap repair:
 *
 *   trial-decrypt (relay) or decrypt with the group's key (repair) → parse → verify the
 *   sender's signature over (group id, relay, ciphertext) → member list → duplicate check
 *   (our own echoed post = acknowledgement) → insert into the log (gaps, fragments) → persist.
 *
 * The CPU part runs synchronously as messages arrive (so a fast relay is throttled by our own
 * processing); writes are batched into one atomic store write per turn of the event loop, with
 * the relay's replay cursor in the same batch, so a crash never advances the cursor past
 * messages that were not stored.
 */
export type MessageSource = 'relay' | 'peer' | 'self';

export type ReceiveOutcome =
  /** No group key on this relay opens it: someone else's group (or a ciphertext a relay altered). */
  | { readonly kind: 'foreign' }
  | { readonly kind: 'rejected'; readonly groupId: string; readonly error: CwtchError }
  | { readonly kind: 'duplicate'; readonly groupId: string; readonly signature: string; readonly acknowledged: boolean }
  | {
      readonly kind: 'accepted';
      readonly groupId: string;
      readonly signature: string;
      readonly delivered: DeliveredGroupMessage | undefined;
      readonly newGap: string | undefined;
    };

export interface GroupManagerEvents {
  delivered: [DeliveredGroupMessage];
  /** One of our own posts came back from the relay (or was already there on replay). */
  acknowledged: [{ groupId: string; signature: string }];
  rejected: [{ groupId: string; source: MessageSource; error: CwtchError }];
  /** A message referenced a previous signature we have never seen. */
  gap: [{ groupId: string; signature: string }];
  /** A batched write failed; the affected messages come again on the next replay. */
  storeError: [Error];
}

export interface GroupState {
  record: GroupRecord;
  readonly log: GroupLog;
}

export class GroupManager extends EventEmitter<GroupManagerEvents> {
  readonly #vault: ProfileVault;
  readonly #identity: Identity;
  readonly #now: () => number;
  readonly #admits: (state: GroupState, sender: OnionName) => boolean;
  readonly #groups = new Map<string, GroupState>();
  readonly #cursors = new Map<string, RelayCursor>();
  /** Own posts not yet seen back from their relay: signature → group id. */
  readonly #unacked = new Map<string, string>();
  /** Trial-decryption candidates per relay, rebuilt when groups change. */
  #byRelay: Map<string, { key: Uint8Array; state: GroupState }[]> | undefined;
  #pending: StoreOp[] = [];
  readonly #pendingCursors = new Map<string, RelayCursor>();
  #flush: Promise<void> | undefined;

  public constructor(options: {
    vault: ProfileVault;
    identity: Identity;
    now: () => number;
    /** Who may still post into a retired group (the application's current members). */
    admits?: (state: GroupState, sender: OnionName) => boolean;
  }) {
    super();
    this.#vault = options.vault;
    this.#identity = options.identity;
    this.#now = options.now;
    this.#admits = options.admits ?? (() => false);
  }

  /** Load groups, their logs, the relay cursors and the unacknowledged posts. */
  public async load(records: readonly GroupRecord[]): Promise<void> {
    for (const record of records) {
      const state: GroupState = { record, log: new GroupLog(record.id, groupGenesis(record.id)) };
      for await (const r of this.#vault.all(COLLECTIONS.groupMessages(record.id))) {
        const e = decodeRecord(GroupEntrySchema, r.value, 'group message');
        state.log.add(toLogEntry(e), { advanceHead: e.source !== 'peer' });
      }
      this.#groups.set(record.id, state);
    }
    this.#byRelay = undefined;
    for await (const r of this.#vault.all(COLLECTIONS.relayCursors)) {
      this.#cursors.set(r.key, decodeRecord(RelayCursorSchema, r.value, 'relay cursor'));
    }
    for await (const r of this.#vault.all(COLLECTIONS.groupOutbox)) {
      this.#unacked.set(r.key, decodeRecord(GroupOutboxSchema, r.value, 'group outbox').groupId);
    }
  }

  public get(groupId: string): GroupState {
    const state = this.#groups.get(groupId);
    if (state === undefined) throw new GroupUnknownError();
    return state;
  }

  public has(groupId: string): boolean {
    return this.#groups.has(groupId);
  }

  public all(): GroupState[] {
    return [...this.#groups.values()];
  }

  /** Every group whose messages live on `relay` (moved-away groups too: late messages still count). */
  public onRelay(relay: string): GroupState[] {
    return this.all().filter((g) => g.record.relay === relay);
  }

  public relays(): Set<OnionName> {
    return new Set(this.all().map((g) => g.record.relay));
  }

  /** Add a new group (idempotent on the id) and persist it. */
  public async addGroup(record: GroupRecord): Promise<GroupState> {
    const existing = this.#groups.get(record.id);
    if (existing !== undefined) return existing;
    await this.#vault.write([this.#vault.put(COLLECTIONS.groups, record.id, toCanonical(record))]);
    const state: GroupState = { record, log: new GroupLog(record.id, groupGenesis(record.id)) };
    this.#groups.set(record.id, state);
    this.#byRelay = undefined;
    return state;
  }

  public async updateGroup(record: GroupRecord): Promise<void> {
    const state = this.get(record.id);
    await this.#vault.write([this.#vault.put(COLLECTIONS.groups, record.id, toCanonical(record))]);
    state.record = record;
    this.#byRelay = undefined;
  }

  public cursor(relay: string): RelayCursor | undefined {
    return this.#pendingCursors.get(relay) ?? this.#cursors.get(relay);
  }

  /** Remember the last message processed from `relay` (written with the next batch). */
  public setCursor(relay: string, signature: Uint8Array): void {
    this.#pendingCursors.set(relay, { ...this.cursor(relay), since: signature });
    this.#scheduleFlush();
  }

  /**
   * Remember the bucket the next fetch from `relay` may start at (written with the next batch,
   * so after the messages processed before it). It never moves back: a relay's frontier does not.
   * Returns whether it moved.
   */
  public setBucket(relay: string, bucket: number): boolean {
    const current = this.cursor(relay);
    if (current?.bucket !== undefined && current.bucket >= bucket) return false;
    this.#pendingCursors.set(relay, { ...current, bucket });
    this.#scheduleFlush();
    return true;
  }

  /**
   * Move the bucket the next fetch from `relay` starts at back to `bucket` (a group joined there
   * starts earlier than our frontier). Takes effect at once for the next session; written with
   * the next batch.
   */
  public rewindBucket(relay: string, bucket: number): void {
    const current = this.cursor(relay);
    if (current?.bucket !== undefined && current.bucket <= bucket) return;
    this.#pendingCursors.set(relay, { ...current, bucket });
    this.#scheduleFlush();
  }

  /**
   * Forget where we are on `relay`: the next session replays everything. Needed when a group is
   * joined on a relay we already follow — its history lies before our cursor.
   */
  public async resetCursor(relay: string): Promise<void> {
    await this.flush();
    this.#pendingCursors.delete(relay);
    this.#cursors.delete(relay);
    await this.#vault.write([this.#vault.delete(COLLECTIONS.relayCursors, relay)]);
  }

  public gapReport(groupId: string): GapReport {
    return this.get(groupId).log.gapReport();
  }

  /** A message from a relay: find its group by trial decryption, then check and store it. */
  public receiveFromRelay(relay: string, message: EncryptedGroupMessage): ReceiveOutcome {
    if (this.#byRelay === undefined) {
      this.#byRelay = new Map();
      for (const state of this.#groups.values()) {
        const list = this.#byRelay.get(state.record.relay) ?? [];
        list.push({ key: state.record.key, state });
        this.#byRelay.set(state.record.relay, list);
      }
    }
    const hit = trialDecrypt(message.ciphertext, this.#byRelay.get(relay) ?? []);
    if (hit === undefined) return { kind: 'foreign' };
    return this.#accept(hit.group.state, message, hit.padded, 'relay');
  }

  /**
   * A message a member sent us for gap repair: it must be one we asked for, open under this
   * group's key, and pass the same checks as a relay message.
   */
  public receiveFromPeer(groupId: string, message: EncryptedGroupMessage, requested: ReadonlySet<string>): ReceiveOutcome {
    const state = this.get(groupId);
    if (!requested.has(toHex(message.signature))) {
      return this.#reject(state, 'peer', new PeerMessageInvalidError('repair answer was not asked for'));
    }
    let padded: Uint8Array;
    try {
      padded = decryptGroupCiphertext(state.record.key, message.ciphertext);
    } catch (err) {
      if (err instanceof CwtchError) return this.#reject(state, 'peer', err);
      throw err;
    }
    return this.#accept(state, message, padded, 'peer');
  }

  #reject(state: GroupState, source: MessageSource, error: CwtchError): ReceiveOutcome {
    this.emit('rejected', { groupId: state.record.id, source, error });
    return { kind: 'rejected', groupId: state.record.id, error };
  }

  #accept(state: GroupState, message: EncryptedGroupMessage, padded: Uint8Array, source: MessageSource): ReceiveOutcome {
    const groupId = state.record.id;
    const signature = toHex(message.signature);
    const existing = state.log.get(signature);
    if (existing !== undefined) {
      // A signature covers the ciphertext, so a known signature is a known message.
      const acknowledged = existing.own && !existing.acked && source === 'relay';
      if (acknowledged) this.#acknowledge(state, existing, signature, message.ciphertext);
      return { kind: 'duplicate', groupId, signature, acknowledged };
    }
    let opened;
    try {
      opened = verifyGroupMessage(state.record, message, padded);
    } catch (err) {
      if (err instanceof CwtchError) return this.#reject(state, source, err);
      throw err;
    }
    const own = opened.sender === this.#identity.onion;
    // A retired group's key is still held by whoever was re-keyed out of it: nothing of theirs
    // is stored or delivered any more, whichever way it arrives (relay or repair).
    if (state.record.retired === true && !own && !this.#admits(state, opened.sender)) return this.#reject(state, source, new NotAMemberError());
    // Anyone holding a drop box's public invite can post into it: a post that is a fragment or names
    // another previous message is refused, so strangers cannot leave half-sets of fragments behind
    // or send us asking throwaway senders to repair gaps they made up.
    if (isDropBoxGroup(state.record) && (opened.fragment !== undefined || toHex(opened.previous) !== state.log.genesis)) {
      return this.#reject(state, source, new GroupMessageInvalidError('a drop-box post is one message naming the group genesis'));
    }
    const entry: LogEntry = {
      signature: message.signature,
      previous: opened.previous,
      sender: opened.sender,
      timestamp: opened.timestamp,
      payload: opened.payload,
      fragment: opened.fragment,
      own,
      // Our own message arriving from the relay (e.g. after we lost local state) is acknowledged.
      acked: own && source === 'relay',
      source,
    };
    const result = state.log.add(entry, { advanceHead: source === 'relay' });
    this.#queue(this.#vault.put(COLLECTIONS.groupMessages(groupId), signature, toCanonical(toStored(entry, message.ciphertext))));
    if (result.added && result.newGap !== undefined) this.emit('gap', { groupId, signature: result.newGap });
    if (result.added && result.delivered !== undefined) this.emit('delivered', result.delivered);
    return { kind: 'accepted', groupId, signature, delivered: result.added ? result.delivered : undefined, newGap: result.added ? result.newGap : undefined };
  }

  #acknowledge(state: GroupState, entry: LogEntry, signature: string, ciphertext: Uint8Array): void {
    entry.acked = true;
    this.#unacked.delete(signature);
    this.#queue(this.#vault.put(COLLECTIONS.groupMessages(state.record.id), signature, toCanonical(toStored(entry, ciphertext))));
    this.#queue(this.#vault.delete(COLLECTIONS.groupOutbox, signature));
    this.emit('acknowledged', { groupId: state.record.id, signature });
  }

  /**
   * Create our own post: split into fragments if needed, seal and sign each part pointing at
   * the group's current head, add them to the log and persist them (and their outbox entries)
   * before returning, so a crash right after cannot lose them. The caller hands the returned
   * messages to the relay.
   */
  public async createPost(groupId: string, payload: Uint8Array): Promise<{ messages: EncryptedGroupMessage[]; delivered: DeliveredGroupMessage }> {
    const state = this.get(groupId);
    const messages: EncryptedGroupMessage[] = [];
    let delivered: DeliveredGroupMessage | undefined;
    const ops: StoreOp[] = [];
    const timestamp = this.#now();
    for (const part of splitPayload(payload)) {
      const previous = fromHex(state.log.head());
      const message = sealGroupMessage(state.record, this.#identity, { timestamp, previous, payload: part.data, fragment: part.fragment });
      const entry: LogEntry = {
        signature: message.signature,
        previous,
        sender: this.#identity.onion,
        timestamp,
        payload: part.data,
        fragment: part.fragment,
        own: true,
        acked: false,
        source: 'self',
      };
      const result = state.log.add(entry);
      if (result.added && result.delivered !== undefined) delivered = result.delivered;
      const signature = toHex(message.signature);
      this.#unacked.set(signature, groupId);
      ops.push(this.#vault.put(COLLECTIONS.groupMessages(groupId), signature, toCanonical(toStored(entry, message.ciphertext))));
      ops.push(this.#vault.put(COLLECTIONS.groupOutbox, signature, { groupId }));
      messages.push(message);
    }
    await this.#vault.write(ops);
    if (delivered === undefined) throw new Error('a complete post always delivers');
    this.emit('delivered', delivered);
    return { messages, delivered };
  }

  /** Our posts on `relay` that its echo has not yet confirmed (to post again after a restart). */
  public async unacknowledgedPosts(relay: string): Promise<EncryptedGroupMessage[]> {
    const out: EncryptedGroupMessage[] = [];
    for (const [signature, groupId] of this.#unacked) {
      const state = this.#groups.get(groupId);
      if (state?.record.relay !== relay) continue;
      const message = await this.storedMessage(groupId, signature);
      if (message !== undefined) out.push(message);
    }
    return out;
  }

  /** A stored message's original ciphertext and signature (to hand to a member repairing a gap). */
  public async storedMessage(groupId: string, signature: string): Promise<EncryptedGroupMessage | undefined> {
    if (!this.get(groupId).log.has(signature)) return undefined;
    await this.flush();
    const value = await this.#vault.get(COLLECTIONS.groupMessages(groupId), signature);
    if (value === undefined) return undefined;
    const stored = decodeRecord(GroupEntrySchema, value, 'group message');
    return { ciphertext: stored.ciphertext, signature: stored.signature };
  }

  #queue(op: StoreOp): void {
    this.#pending.push(op);
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    this.#flush ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#drain());
  }

  async #drain(): Promise<void> {
    try {
      while (this.#pending.length > 0 || this.#pendingCursors.size > 0) {
        const ops = this.#pending;
        this.#pending = [];
        const cursors = [...this.#pendingCursors];
        this.#pendingCursors.clear();
        // Cursors last: in one atomic write with the messages they follow.
        for (const [relay, cursor] of cursors) ops.push(this.#vault.put(COLLECTIONS.relayCursors, relay, cursorRecord(cursor)));
        try {
          await this.#vault.write(ops);
          for (const [relay, cursor] of cursors) this.#cursors.set(relay, cursor);
        } catch (err) {
          this.emit('storeError', err as Error);
        }
      }
    } finally {
      this.#flush = undefined;
    }
  }

  /** Resolves once everything received so far is written. */
  public async flush(): Promise<void> {
    while (this.#flush !== undefined) await this.#flush;
  }
}

function toStored(entry: LogEntry, ciphertext: Uint8Array): StoredGroupEntry {
  return {
    signature: entry.signature,
    ciphertext,
    previous: entry.previous,
    sender: entry.sender,
    timestamp: entry.timestamp,
    payload: entry.payload,
    fragment: entry.fragment === undefined ? null : { ...entry.fragment },
    own: entry.own,
    acked: entry.acked,
    source: entry.source,
  };
}

function toLogEntry(stored: StoredGroupEntry): LogEntry {
  return {
    signature: stored.signature,
    previous: stored.previous,
    sender: stored.sender,
    timestamp: stored.timestamp,
    payload: stored.payload,
    fragment: stored.fragment ?? undefined,
    own: stored.own,
    acked: stored.acked,
    source: stored.source,
  };
}

function cursorRecord(cursor: RelayCursor): { since?: Uint8Array; bucket?: number } {
  return { ...(cursor.since === undefined ? {} : { since: cursor.since }), ...(cursor.bucket === undefined ? {} : { bucket: cursor.bucket }) };
}
