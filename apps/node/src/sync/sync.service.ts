import type { CwtchPeer, GroupMessage } from '@pursuance/cwtch';
import { openFromIdentity, sha256, toHex } from '@pursuance/crypto';
import type { EventBody, SignedEvent } from '@pursuance/pursuance';
import type { PursuanceRegistry } from '../domain/registry.js';

/** Cwtch groups that carry a pursuance are named after it, so invitees can map them too. */
export const GROUP_NAME_PREFIX = 'pursuance:';

export interface SyncStatus {
  readonly pursuanceId: string;
  readonly groupId: string | null;
  readonly relay: string | null;
  readonly relaySynced: boolean;
  readonly groupMessages: number;
  readonly gaps: readonly string[];
  readonly withheld: readonly string[];
  readonly lastMessageAt: number | null;
  /** When the relay connection last finished its replay (live from then on); null if never. */
  readonly lastSyncAt: number | null;
  /** When the relay connection last dropped, with the error code if there was one. */
  readonly lastDown: { readonly at: number; readonly code: string | null } | null;
  /** Gaps in the group's signed chain seen since this node started, and messages repaired from other members. */
  readonly gapsDetected: number;
  readonly gapsRepaired: number;
}

/**
 * Moves a pursuance's signed events between this node's event store and its Cwtch group:
 * every local event is posted to the group (fragmented by the peer when large), every group
 * message that is a pursuance event is ingested through the fold (rejections stored with their
 * reason), and gaps are repaired from other members by the peer.
 *
 * Durability without a separate outbox: on start and after each relay sync the service
 * compares the group's history with the log and re-posts any of its own events (all events,
 * when it moved the group) that the group does not hold yet. Posting is idempotent for
 * receivers, so a crash between storing and posting only delays an event.
 */
export class SyncService {
  readonly #lastMessageAt = new Map<string, number>();
  /** Relay connection health, by relay onion / group id (counters since this node started). */
  readonly #lastSyncAt = new Map<string, number>();
  readonly #lastDown = new Map<string, { at: number; code: string | null }>();
  readonly #gapsDetected = new Map<string, number>();
  readonly #gapsRepaired = new Map<string, number>();
  readonly #healthListeners = new Set<(pursuanceId: string) => void>();
  readonly #healthDue = new Set<string>();
  /** Group messages for a pursuance we do not hold yet (joining), kept until its genesis arrives. */
  readonly #waiting = new Map<string, Uint8Array[]>();
  /** Pursuances this node is moving right now (its own relay.move is posted by move()). */
  readonly #moving = new Set<string>();
  #off: (() => void)[] = [];
  #inbound: Promise<void> = Promise.resolve();
  readonly #buffered = new Map<string, { payloads: Uint8Array[]; time: number }>();
  #drainScheduled = false;

  public constructor(
    private readonly peer: CwtchPeer,
    private readonly registry: PursuanceRegistry,
  ) {}

  public async start(): Promise<void> {
    // Messages are buffered and ingested in batches, one batch at a time: a relay replay
    // delivers thousands of messages, and ingesting each alone would refold the log (and
    // rescan it) per message. Serial batches also let a joining node ingest the genesis
    // before it judges whether the next messages belong to a pursuance it holds.
    const onGroup = (m: GroupMessage): void => {
      const batch = this.#buffered.get(m.groupId) ?? { payloads: [], time: 0 };
      batch.payloads.push(m.payload);
      batch.time = Math.max(batch.time, m.timestamp);
      this.#buffered.set(m.groupId, batch);
      if (this.#drainScheduled) return;
      this.#drainScheduled = true;
      setImmediate(() => {
        this.#drainScheduled = false;
        this.#inbound = this.#inbound.then(() => this.#drain()).catch(() => undefined);
      });
    };
    // A pursuance's groups are open Cwtch groups: the pursuance's member list says who may
    // ask for and serve missing messages (a member who never posted is no stranger).
    this.peer.setGroupMembership((groupId) => {
      const pursuanceId = this.pursuanceOf(groupId);
      if (pursuanceId === null || !this.registry.has(pursuanceId)) return null;
      return [...this.registry.get(pursuanceId).log.state().members.keys()];
    });
    const onSynced = ({ relay }: { relay: string }): void => {
      this.#lastSyncAt.set(relay, Date.now());
      this.#healthOfRelay(relay);
      void this.reconcileAll();
    };
    const onDown = ({ relay, code }: { relay: string; code: string | undefined }): void => {
      this.#lastDown.set(relay, { at: Date.now(), code: code ?? null });
      this.#healthOfRelay(relay);
    };
    const bump = (counts: Map<string, number>, groupId: string, by: number) => counts.set(groupId, (counts.get(groupId) ?? 0) + by);
    const onGap = ({ groupId }: { groupId: string }): void => {
      bump(this.#gapsDetected, groupId, 1);
      this.#healthOfGroup(groupId);
    };
    const onRepaired = ({ groupId, signatures }: { groupId: string; signatures: string[] }): void => {
      bump(this.#gapsRepaired, groupId, signatures.length);
      this.#healthOfGroup(groupId);
    };
    const onRepairDone = ({ groupId }: { groupId: string }): void => this.#healthOfGroup(groupId);
    this.peer.on('groupMessage', onGroup);
    this.peer.on('relaySynced', onSynced);
    this.peer.on('relayDown', onDown);
    this.peer.on('gap', onGap);
    this.peer.on('gapRepaired', onRepaired);
    this.peer.on('repairFinished', onRepairDone);
    this.#off.push(
      () => this.peer.off('groupMessage', onGroup),
      () => this.peer.off('relaySynced', onSynced),
      () => this.peer.off('relayDown', onDown),
      () => this.peer.off('gap', onGap),
      () => this.peer.off('gapRepaired', onRepaired),
      () => this.peer.off('repairFinished', onRepairDone),
    );
    this.#off.push(
      this.registry.onChange((change) => {
        if (change.origin === 'local' && !this.#moving.has(change.pursuanceId)) void this.#publish(change.pursuanceId, change.events);
        if (change.origin !== 'local') void this.#follow(change.pursuanceId, change.events);
      }),
    );
    // Whatever the peer already holds (from before a restart) is ingested first.
    for (const group of this.peer.groups()) {
      const pursuanceId = this.pursuanceOf(group.id);
      if (pursuanceId) await this.#receive(group.id, this.peer.groupHistory(group.id).map((m) => m.payload), null);
    }
    await this.reconcileAll();
  }

  public stop(): void {
    for (const off of this.#off.splice(0)) off();
  }

  /**
   * Listen for changes of a pursuance's sync health (relay link up or down, gaps found or
   * repaired) — no new events, so the registry says nothing; the dashboard's Health needs it.
   * Bursts (a replay finding many gaps) reach listeners once per pursuance per turn.
   */
  public onHealth(listener: (pursuanceId: string) => void): () => void {
    this.#healthListeners.add(listener);
    return () => this.#healthListeners.delete(listener);
  }

  #healthOfRelay(relay: string): void {
    for (const group of this.peer.groups()) {
      const pursuanceId = group.relay === relay ? this.pursuanceOf(group.id) : null;
      if (pursuanceId !== null && this.groupOf(pursuanceId) === group.id) this.#healthChanged(pursuanceId);
    }
  }

  #healthOfGroup(groupId: string): void {
    const pursuanceId = this.pursuanceOf(groupId);
    if (pursuanceId !== null) this.#healthChanged(pursuanceId);
  }

  #healthChanged(pursuanceId: string): void {
    if (this.#healthDue.size === 0) {
      setImmediate(() => {
        const due = [...this.#healthDue];
        this.#healthDue.clear();
        for (const id of due) for (const l of this.#healthListeners) l(id);
      });
    }
    this.#healthDue.add(pursuanceId);
  }

  public pursuanceOf(groupId: string): string | null {
    const name = this.peer.group(groupId).name;
    return name.startsWith(GROUP_NAME_PREFIX) ? name.slice(GROUP_NAME_PREFIX.length) : null;
  }

  public groupOf(pursuanceId: string): string | null {
    const candidates = this.peer.groups().filter((g) => g.name === GROUP_NAME_PREFIX + pursuanceId);
    if (candidates.length === 0) return null;
    // After a move the old groups are kept for history; the newest one (followed through any
    // Cwtch-level move) is where the pursuance lives now.
    const newest = candidates.reduce((a, b) => (b.createdAt > a.createdAt ? b : a));
    return this.peer.currentGroupId(newest.id);
  }

  /**
   * Move a pursuance to another relay (any member the rules allow): a new group there, its
   * invite sealed to every current member inside a signed relay.move event — which also
   * leaves out anyone removed, so the move re-keys the group — posted in the old group, and
   * the whole log re-posted in the new one so joiners and late followers find everything.
   */
  public async move(pursuanceId: string, bundle: string): Promise<{ groupId: string; eventId: string }> {
    const oldGroup = this.groupOf(pursuanceId);
    if (!oldGroup) throw new Error(`pursuance ${pursuanceId} is not attached to a group`);
    const relay = await this.peer.addRelay(bundle);
    const groupId = await this.peer.createGroup({ name: GROUP_NAME_PREFIX + pursuanceId, relay, members: null });
    const invite = this.peer.groupInvite(groupId);
    this.#moving.add(pursuanceId);
    try {
      const event = await this.registry.act(pursuanceId, (a) => a.moveRelay(bundle, new TextEncoder().encode(invite)));
      await this.peer.postToGroup(oldGroup, event.bytes);
      await this.reconcile(pursuanceId, true);
      return { groupId, eventId: event.id };
    } finally {
      this.#moving.delete(pursuanceId);
    }
  }

  /** A relay.move accepted from the group: open our sealed invite and follow. */
  async #follow(pursuanceId: string, events: readonly SignedEvent[]): Promise<void> {
    const log = this.registry.get(pursuanceId).log;
    for (const e of events) {
      if (e.header.kind !== 'relay.move' || !log.isAccepted(e.id)) continue;
      const body = e.header.body as EventBody<'relay.move'>;
      const mine = body.invites.find((lb) => lb.to.every((b, i) => b === this.registry.identity.publicKey[i]));
      if (!mine) continue;
      let invite: string;
      try {
        invite = new TextDecoder().decode(openFromIdentity(this.registry.identity, mine.box));
      } catch {
        continue;
      }
      const before = this.groupOf(pursuanceId);
      const joined = await this.peer.acceptGroupInvite(invite).catch(() => null);
      if (joined && joined !== before) await this.reconcile(pursuanceId);
    }
  }

  /** Create the Cwtch group for a pursuance on a relay and post its log there. */
  public async attach(pursuanceId: string, relayBundle: string): Promise<string> {
    const relay = await this.peer.addRelay(relayBundle);
    const existing = this.groupOf(pursuanceId);
    if (existing) return existing;
    const groupId = await this.peer.createGroup({ name: GROUP_NAME_PREFIX + pursuanceId, relay, members: null });
    await this.reconcile(pursuanceId, true);
    return groupId;
  }

  /** The invite a member hands a newcomer (Cwtch group invite naming the pursuance). */
  public invite(pursuanceId: string): string {
    const groupId = this.groupOf(pursuanceId);
    if (!groupId) throw new Error(`pursuance ${pursuanceId} is not attached to a group`);
    return this.peer.groupInvite(groupId);
  }

  /** Send the group invite to a contact over p2p (queued until they are online). */
  public async inviteContact(pursuanceId: string, onion: string): Promise<void> {
    const groupId = this.groupOf(pursuanceId);
    if (!groupId) throw new Error(`pursuance ${pursuanceId} is not attached to a group`);
    if (!this.peer.contact(onion)) await this.peer.addContact(onion);
    await this.peer.inviteToGroup(groupId, onion);
  }

  /** Join: accept a group invite; the relay replays the history, which the fold takes in. */
  public async accept(inviteText: string): Promise<string> {
    const groupId = await this.peer.acceptGroupInvite(inviteText);
    const pursuanceId = this.pursuanceOf(groupId);
    if (!pursuanceId) throw new Error('this invite is not for a pursuance');
    return pursuanceId;
  }

  /** Post every event of ours (or, with `all`, every event) the group does not hold yet. */
  public async reconcile(pursuanceId: string, all = false): Promise<number> {
    const groupId = this.groupOf(pursuanceId);
    if (!groupId || !this.registry.has(pursuanceId)) return 0;
    const held = new Set<string>();
    for (const m of this.peer.groupHistory(groupId)) {
      held.add(eventIdOf(m.payload));
    }
    const log = this.registry.get(pursuanceId).log;
    const me = this.registry.identity.onion;
    const missing = log.order().map((id) => log.event(id)!).filter((e) => !held.has(e.id) && (all || e.author === me));
    for (const e of missing) await this.peer.postToGroup(groupId, e.bytes);
    return missing.length;
  }

  public async reconcileAll(): Promise<void> {
    for (const entry of this.registry.list()) await this.reconcile(entry.id).catch(() => undefined);
  }

  public status(pursuanceId: string): SyncStatus {
    const groupId = this.groupOf(pursuanceId);
    if (!groupId) {
      return { pursuanceId, groupId: null, relay: null, relaySynced: false, groupMessages: 0, gaps: [], withheld: [], lastMessageAt: null, lastSyncAt: null, lastDown: null, gapsDetected: 0, gapsRepaired: 0 };
    }
    const group = this.peer.group(groupId);
    const report = this.peer.gapReport(groupId);
    return {
      pursuanceId,
      groupId,
      relay: group.relay,
      relaySynced: this.peer.isRelaySynced(group.relay),
      groupMessages: this.peer.groupHistory(groupId).length,
      gaps: report.missing,
      withheld: report.withheld,
      lastMessageAt: this.#lastMessageAt.get(pursuanceId) ?? null,
      lastSyncAt: this.#lastSyncAt.get(group.relay) ?? null,
      lastDown: this.#lastDown.get(group.relay) ?? null,
      gapsDetected: this.#gapsDetected.get(groupId) ?? 0,
      gapsRepaired: this.#gapsRepaired.get(groupId) ?? 0,
    };
  }

  async #publish(pursuanceId: string, events: readonly SignedEvent[]): Promise<void> {
    const groupId = this.groupOf(pursuanceId);
    if (!groupId) return;
    for (const e of events) await this.peer.postToGroup(groupId, e.bytes).catch(() => undefined);
  }

  /** Ingest everything buffered so far; messages arriving meanwhile form the next batch. */
  async #drain(): Promise<void> {
    const batches = [...this.#buffered];
    this.#buffered.clear();
    for (const [groupId, batch] of batches) await this.#receive(groupId, batch.payloads, batch.time);
  }

  async #receive(groupId: string, payloads: readonly Uint8Array[], time: number | null): Promise<void> {
    const pursuanceId = this.pursuanceOf(groupId);
    if (!pursuanceId) return;
    // Only pursuance events travel in these groups; anything else is kept as an invalid input
    // with its reason by the ingest below, never silently dropped.
    const events = [...payloads];
    if (events.length === 0) return;
    if (time !== null) this.#lastMessageAt.set(pursuanceId, time);
    if (!this.registry.has(pursuanceId)) {
      const waiting = [...(this.#waiting.get(pursuanceId) ?? []), ...events];
      if (!waiting.some((p) => eventIdOf(p) === pursuanceId)) {
        this.#waiting.set(pursuanceId, waiting);
        return;
      }
      this.#waiting.delete(pursuanceId);
      await this.registry.ingest(pursuanceId, waiting, 'group');
      return;
    }
    await this.registry.ingest(pursuanceId, events, 'group');
  }
}

/** The event id a payload would have (SHA-256 of its bytes): cheap, no verification. */
function eventIdOf(payload: Uint8Array): string {
  return toHex(sha256(payload));
}
