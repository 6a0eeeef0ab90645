import {
  InviteInvalidError,
  InviteRejectedError,
  MAX_GROUP_PAYLOAD_PER_MESSAGE,
  OVERLAY,
  parseGroupInvite,
  type GroupMessage,
  type GroupRecord,
} from '@pursuance/cwtch';
import { CryptoError, equalBytes, onionFromPublicKey, openFromIdentity, sha256, toHex, type OnionName } from '@pursuance/crypto';
import type { EventId, InviteLockbox, SignedEvent } from '@pursuance/pursuance';
import { InvalidBundleError, InvalidInviteError, InvalidRequestError, NotAttachedError, RelayKeysChangedError } from '../domain/errors.js';
import type { PursuanceChange, PursuanceRegistry } from '../domain/registry.js';
import { eventsOfPayload, packEvents } from './event-batch.js';
import { RelayArrivals, lackingOn, rendezvousOrder, repairerOf } from './relay-links.js';
import type { SyncPeer } from './sync-peer.js';
import { GROUP_NAME_PREFIX, KEY_RACE_CODES, REKEY_KINDS, departuresSinceRekey, handedTo, invitesOf, lastRekey, parseGroupName } from './rekey.js';

export { GROUP_NAME_PREFIX, parseGroupName } from './rekey.js';

/** The group a re-keying event hands this member, once its sealed invite is opened and checked. */
interface Handover {
  readonly groupId: string;
  readonly invite: string;
}

/** The accepted re-keying event last in fold order, and the group it hands us (null: none for us). */
interface Winner {
  readonly event: SignedEvent;
  readonly handover: Handover | null;
}

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
  /**
   * How the next catch-up with the relay goes: whole buckets of `bucketSeconds` from `from` (the
   * first bucket's start, ms; null: everything the relay holds). Null for a relay from before
   * bucketed fetch, which replays since the last message this node processed.
   */
  readonly catchUp: { readonly bucketSeconds: number; readonly from: number | null } | null;
  /**
   * Every relay the pursuance's events travel through here: its group's, then each mirror's.
   * `lacking`: events another of these relays delivered over a minute ago that this one has not
   * (a relay losing or withholding them; our own are posted to it again).
   */
  readonly relays: readonly RelayLinkStatus[];
}

export interface RelayLinkStatus {
  readonly relay: string;
  /** The relay's exported bundle (what relay.drop names). */
  readonly bundle: string;
  readonly groupId: string;
  readonly mirror: boolean;
  readonly synced: boolean;
  readonly lastSyncAt: number | null;
  readonly lastDown: { readonly at: number; readonly code: string | null } | null;
  readonly lacking: number;
}

/** How long an event may be on one relay and not another before the other counts as lacking it. */
const LACKING_AFTER_MS = 60_000;
/** After that, how much later a node looks for what to post again (so the look sees the others' deliveries). */
const REPAIR_SLACK_MS = 1_000;
/**
 * After a departure, the member first in rendezvous order re-keys the group at once; each next
 * one waits this much longer before doing it in the place of those before it (who may be offline).
 */
const DEPARTURE_REKEY_STAGGER_MS = 10 * 60_000;

/** A relay this node has pinned (GET /api/relays): its bundle to reuse, and how it is doing. */
export interface RelayModel {
  readonly boardOnion: string;
  /** The exported key bundle, as pinned on first use: give it back to attach or create on this relay. */
  readonly bundle: string;
  /** Pursuances whose current group is on this relay. */
  readonly pursuances: readonly { readonly id: string; readonly name: string }[];
  /** Replay done and live pushes flowing (false for a relay no pursuance uses: nothing connects to it). */
  readonly synced: boolean;
  readonly lastSyncAt: number | null;
  readonly lastDown: { readonly at: number; readonly code: string | null } | null;
}

/** Where a pursuance syncs on this node: its current group's relay (null: on no relay here). */
export interface RelayLink {
  readonly groupId: string;
  readonly relay: string;
  readonly bundle: string;
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
 *
 * Re-keying: a removal (when the pursuance has a group) and a relay move each create a new
 * group and carry its invite sealed to every member who stays. The pursuance's group is the
 * one handed to us by the accepted re-keying event that comes last in fold order — the same
 * event on every member that holds the same events, whatever order they arrived in. Once we
 * are in it, every other group of the pursuance is retired: its history stays, but the peer
 * takes in nothing more there from anyone who is no longer a member (an expelled member still
 * holds its key), while a member who had not yet learned of the re-keying still gets through.
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
  /** Groups this node is creating for a re-keying it has not signed yet (never current, never retired). */
  readonly #creating = new Set<string>();
  /** Our sealed invite in each re-keying event (null: none for us, or it does not open or fit). */
  readonly #handovers = new Map<EventId, Handover | null>();
  readonly #winners = new Map<string, { version: number; size: number; winner: Winner | null }>();
  /** Per pursuance, the running or next settle (joining the current group, retiring the rest). */
  readonly #settling = new Map<string, Promise<void>>();
  /** (re-keying event, member) pairs whose member we looked at handing the new group over p2p. */
  readonly #reinvited = new Set<string>();
  /** (pursuance, re-keying event) pairs for which our stored invites were looked through. */
  readonly #adoptChecked = new Set<string>();
  /** Lost removals of ours taken for re-sending (see #resendLostRemovals), each once. */
  readonly #resending = new Set<string>();
  #off: (() => void)[] = [];
  #running = false;
  /** How long an event may be on one relay and not another before the other counts as lacking it (tests shorten it). */
  public lackingAfterMs = LACKING_AFTER_MS;
  readonly #arrivals = new RelayArrivals(Date.now());
  /** Per pursuance on several relays: a pending look for what one relay lacks (#repairRelays). */
  readonly #repairTimers = new Map<string, NodeJS.Timeout>();
  /** How long each member after the first waits to re-key the group after a departure (tests shorten it). */
  public departureRekeyStaggerMs = DEPARTURE_REKEY_STAGGER_MS;
  /** Departures (member.leave ids) → when this node first saw them waiting for a re-keying. */
  readonly #departuresSeen = new Map<string, number>();
  /** Departures this node re-keyed for, each once per run (a refusal is not retried in a loop). */
  readonly #departuresRekeyed = new Set<string>();
  /** Per pursuance: a pending look at a departure that others go first for (#rekeyAfterDepartures). */
  readonly #departureTimers = new Map<string, NodeJS.Timeout>();
  /** Per pursuance: the re-keying work running or queued (#rekeyWork). */
  readonly #rekeying = new Map<string, Promise<void>>();
  #inbound: Promise<void> = Promise.resolve();
  readonly #buffered = new Map<string, { payloads: Uint8Array[]; time: number }>();
  #drainScheduled = false;

  public constructor(
    private readonly peer: SyncPeer,
    private readonly registry: PursuanceRegistry,
  ) {
    // A pursuance's groups are open Cwtch groups: the pursuance's member list says who may
    // ask for and serve missing messages (a member who never posted is no stranger), and who
    // may still post into a retired group. Set before the peer starts syncing, so a retired
    // group never judges a sender without it.
    this.peer.setGroupMembership((groupId) => {
      const pursuanceId = this.pursuanceOf(groupId);
      if (pursuanceId === null || !this.registry.has(pursuanceId)) return null;
      return [...this.registry.get(pursuanceId).log.state().members.keys()];
    });
  }

  public async start(): Promise<void> {
    // Messages are buffered and ingested in batches, one batch at a time: a relay replay
    // delivers thousands of messages, and ingesting each alone would refold the log (and
    // rescan it) per message. Serial batches also let a joining node ingest the genesis
    // before it judges whether the next messages belong to a pursuance it holds.
    const onGroup = (m: GroupMessage): void => {
      try {
        this.#noteArrival(m.groupId, m.payload);
      } catch {
        // Bookkeeping for relay comparison only: never in the way of taking the message in.
      }
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
    // A member who added us may hand us the group over p2p when a re-keying missed us (see #adopt).
    const onInvite = ({ invite }: { invite: { invite: { name: string } } }): void => {
      const pursuanceId = parseGroupName(invite.invite.name)?.pursuanceId;
      if (pursuanceId === undefined || !this.registry.has(pursuanceId)) return;
      for (const key of [...this.#adoptChecked]) if (key.startsWith(`${pursuanceId}:`)) this.#adoptChecked.delete(key);
      void this.#settle(pursuanceId);
    };
    this.peer.on('groupMessage', onGroup);
    this.peer.on('relaySynced', onSynced);
    this.peer.on('relayDown', onDown);
    this.peer.on('gap', onGap);
    this.peer.on('gapRepaired', onRepaired);
    this.peer.on('repairFinished', onRepairDone);
    this.peer.on('groupInvite', onInvite);
    this.#off.push(
      () => this.peer.off('groupInvite', onInvite),
      () => this.peer.off('groupMessage', onGroup),
      () => this.peer.off('relaySynced', onSynced),
      () => this.peer.off('relayDown', onDown),
      () => this.peer.off('gap', onGap),
      () => this.peer.off('gapRepaired', onRepaired),
      () => this.peer.off('repairFinished', onRepairDone),
    );
    // Changes (from the event bus, see changed()) count from here on, before the ingest below
    // makes any; stop() ends them.
    this.#running = true;
    this.#off.push(() => (this.#running = false));
    // Whatever the peer already holds (from before a restart) is ingested first.
    for (const group of this.peer.groups()) {
      const pursuanceId = this.pursuanceOf(group.id);
      if (pursuanceId)
        await this.#receive(
          group.id,
          this.peer.groupHistory(group.id).map((m) => m.payload),
          null,
        );
    }
    // A switch a crash interrupted (joined but not yet retired, or not yet joined) completes.
    for (const entry of this.registry.list()) await this.#settle(entry.id);
    await this.reconcileAll();
    // Departures while this node was away may still wait for a re-keying.
    for (const entry of this.registry.list()) await this.#rekeyWork(entry.id).catch(() => undefined);
  }

  public stop(): void {
    for (const off of this.#off.splice(0)) off();
    for (const timer of this.#repairTimers.values()) clearTimeout(timer);
    this.#repairTimers.clear();
    for (const timer of this.#departureTimers.values()) clearTimeout(timer);
    this.#departureTimers.clear();
  }

  /**
   * On a pursuance with mirrors, note when the events of a message came through its relay, and
   * look, once they had time to reach the other relays too, for what one of them lacks.
   */
  #noteArrival(groupId: string, payload: Uint8Array): void {
    const group = this.peer.group(groupId);
    const main = group.mirrorOf ?? groupId;
    if (group.mirrorOf === undefined && this.#mirrorsOf(groupId).length === 0) return;
    this.#arrivals.note(groupId, eventsOfPayload(payload).map(eventIdOf), Date.now());
    const pursuanceId = this.pursuanceOf(main);
    if (pursuanceId !== null) this.#scheduleRepair(pursuanceId);
  }

  #scheduleRepair(pursuanceId: string): void {
    if (!this.#running || this.#repairTimers.has(pursuanceId)) return;
    const timer = setTimeout(() => {
      this.#repairTimers.delete(pursuanceId);
      void this.#repairRelays(pursuanceId).catch(() => undefined);
    }, this.lackingAfterMs + REPAIR_SLACK_MS);
    timer.unref();
    this.#repairTimers.set(pursuanceId, timer);
  }

  /**
   * Post again, to each relay of the pursuance, the events it lacks that the others delivered
   * long enough ago, where this member is the one to do it (relay-links.ts repairerOf): so a
   * relay that lost events, or never got them from an author who has gone offline, gets them
   * once, from one member.
   */
  async #repairRelays(pursuanceId: string): Promise<void> {
    const groupId = this.groupOf(pursuanceId);
    if (groupId === null || !this.registry.has(pursuanceId)) return;
    const links = this.#lacking(groupId);
    if (links.length < 2) return;
    const log = this.registry.get(pursuanceId).log;
    const me = this.registry.identity.onion;
    const members = [...log.state().members.keys()];
    let posted = false;
    for (const { group, record, lacking } of links) {
      // Not to a relay that is down: posts would pile up in its queue, one batch per look. It
      // is looked at again when it syncs (reconcile).
      if (!this.peer.isRelaySynced(record.relay)) continue;
      const mine = new Set(lacking.filter((id) => repairerOf(id, members) === me));
      if (mine.size === 0) continue;
      posted = true;
      // In log order, as every post goes (a relay's readers then meet parents first).
      await this.#post(
        group,
        log.order().flatMap((id) => (mine.has(id) ? [log.event(id)!] : [])),
        true,
      );
    }
    // Look again later: a relay that acknowledged and still lacks them gets them again.
    if (posted) this.#scheduleRepair(pursuanceId);
  }

  /** The group's relay and each mirror, with the events each lacks that another delivered over `lackingAfterMs` ago. */
  #lacking(groupId: string): { group: string; record: GroupRecord; lacking: string[] }[] {
    const records = [this.peer.group(groupId), ...this.#mirrorsOf(groupId)];
    if (records.length < 2) return records.map((record) => ({ group: record.id, record, lacking: [] }));
    const ids = records.map((r) => r.id);
    const held = ids.map((id) => this.#heldIn(id));
    const cutoff = Date.now() - this.lackingAfterMs;
    return records.map((record, i) => ({ group: record.id, record, lacking: lackingOn(i, ids, held, this.#arrivals, cutoff) }));
  }

  /**
   * React to a pursuance gaining events: the registry's changes reach the service only through
   * the CQRS event bus (SyncOnPursuanceChanged), and count only between start() and stop().
   */
  public changed(change: PursuanceChange): void {
    if (!this.#running) return;
    // Settle first: a re-keying event of ours is published into the group it creates.
    const settled = this.#settle(change.pursuanceId);
    void settled.then(() => this.#rekeyWork(change.pursuanceId)).catch(() => undefined);
    if (change.origin === 'local') void settled.then(() => this.#publish(change.pursuanceId, change.events));
    // Events of someone who is no longer a member reach some of us only (see reconcile):
    // pass them on into the current group as soon as we hold them.
    else if (this.#fromNonMembers(change.pursuanceId, change.events)) void settled.then(() => this.reconcile(change.pursuanceId)).catch(() => undefined);
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
    return parseGroupName(this.peer.group(groupId).name)?.pursuanceId ?? null;
  }

  #groupsOf(pursuanceId: string): GroupRecord[] {
    return this.peer.groups().filter((g) => parseGroupName(g.name)?.pursuanceId === pursuanceId);
  }

  /**
   * The group a pursuance lives in for this member: the one handed to us by the accepted
   * re-keying event last in fold order, once we are in it. Before any re-keying (or when that
   * event has no invite for us — we joined later), the newest group we hold that is not
   * retired; retired groups only when nothing else is left.
   */
  public groupOf(pursuanceId: string): string | null {
    // Mirrors carry the same events on other relays; the group itself is where invites point.
    const candidates = this.#groupsOf(pursuanceId).filter((g) => !this.#creating.has(g.id) && g.mirrorOf === undefined);
    if (candidates.length === 0) return null;
    const winner = this.registry.has(pursuanceId) ? this.#winner(pursuanceId) : null;
    const handed = winner?.handover?.groupId;
    if (handed !== undefined && candidates.some((g) => g.id === handed)) return this.peer.currentGroupId(handed);
    const live = candidates.filter((g) => g.retired !== true);
    const newest = (live.length > 0 ? live : candidates).reduce((a, b) => (b.createdAt > a.createdAt ? b : a));
    return this.peer.currentGroupId(newest.id);
  }

  /** The accepted re-keying event last in fold order (cached until the log changes). */
  #winner(pursuanceId: string): Winner | null {
    const entry = this.registry.get(pursuanceId);
    const cached = this.#winners.get(pursuanceId);
    if (cached && cached.version === entry.version && cached.size === entry.log.size) return cached.winner;
    const log = entry.log;
    const last = lastRekey(log);
    const winner: Winner | null = last ? { event: last, handover: this.#handover(pursuanceId, last.id, invitesOf(last)) } : null;
    this.#winners.set(pursuanceId, { version: entry.version, size: log.size, winner });
    return winner;
  }

  /** Open our invite in a re-keying event; it must name a group of this very pursuance. */
  #handover(pursuanceId: string, eventId: EventId, invites: readonly InviteLockbox[]): Handover | null {
    if (this.#handovers.has(eventId)) return this.#handovers.get(eventId)!;
    let handover: Handover | null = null;
    const mine = invites.find((lb) => equalBytes(lb.to, this.registry.identity.publicKey));
    if (mine) {
      try {
        const invite = new TextDecoder('utf-8', { fatal: true }).decode(openFromIdentity(this.registry.identity, mine.box));
        const parsed = parseGroupInvite(invite).invite;
        if (parseGroupName(parsed.name)?.pursuanceId === pursuanceId) handover = { groupId: parsed.groupId, invite };
      } catch {
        // A box that does not open or an invite that does not parse hands us nothing.
      }
    }
    this.#handovers.set(eventId, handover);
    return handover;
  }

  /** Join the group the winning re-keying event hands us and retire every other one (serialised per pursuance). */
  #settle(pursuanceId: string): Promise<void> {
    const next = (this.#settling.get(pursuanceId) ?? Promise.resolve()).then(() => this.#settleNow(pursuanceId)).catch(() => undefined);
    this.#settling.set(pursuanceId, next);
    return next;
  }

  async #settleNow(pursuanceId: string): Promise<void> {
    if (!this.registry.has(pursuanceId)) return;
    await this.#settleGroup(pursuanceId);
    await this.#settleMirrors(pursuanceId);
  }

  async #settleGroup(pursuanceId: string): Promise<void> {
    const winner = this.#winner(pursuanceId);
    if (!winner) return;
    let target: string | null;
    if (winner.handover) {
      target = winner.handover.groupId;
      if (!this.#groupsOf(pursuanceId).some((g) => g.id === target)) {
        // Its messages (the whole log, re-posted by whoever re-keyed) come with the relay's
        // replay; our own events it lacks are re-posted after that replay (relaySynced).
        const joined = await this.peer.acceptGroupInvite(winner.handover.invite).catch(() => null);
        if (joined !== target) return;
      }
    } else {
      target = await this.#adopt(pursuanceId, winner);
      if (target === null) return;
    }
    for (const g of this.#groupsOf(pursuanceId)) {
      // Mirrors follow their group (#settleMirrors).
      if (this.#creating.has(g.id) || g.mirrorOf !== undefined) continue;
      const retire = g.id !== target;
      if ((g.retired === true) !== retire) await this.peer.setGroupRetired(g.id, retire);
    }
    if (winner.handover) this.#reinvite(pursuanceId, winner);
  }

  /**
   * Mirror the pursuance's group on every relay its rules list as a mirror (relay.add), and
   * retire mirrors of any other group or of a relay no longer listed (relay.drop, or a re-keying
   * that replaced the group: its mirrors derive from the new key). A mirror needs no invite: the
   * group key derives it. One that cannot be made (its relay's keys changed since we pinned
   * them) is left out; the group and the other mirrors carry on.
   */
  async #settleMirrors(pursuanceId: string): Promise<void> {
    const target = this.groupOf(pursuanceId);
    if (target === null) return;
    const listed = this.registry.get(pursuanceId).log.state().relay.mirrors;
    let made = false;
    for (const bundle of listed) {
      if (this.#groupsOf(pursuanceId).some((g) => g.mirrorOf === target && g.bundle === bundle)) continue;
      try {
        await this.peer.mirrorGroup(target, bundle, { since: this.#mirroredAt(pursuanceId, bundle) });
        made = true;
      } catch {
        // Refused (the relay's keys changed, or the bundle is garbage): no mirror there.
      }
    }
    for (const g of this.#groupsOf(pursuanceId)) {
      if (g.mirrorOf === undefined) continue;
      const live = g.mirrorOf === target && listed.includes(g.bundle);
      if ((g.retired === true) !== !live) await this.peer.setGroupRetired(g.id, !live);
    }
    // Our own events go to the new mirror (the member who added it posts everything: addMirror).
    if (made) await this.reconcile(pursuanceId);
  }

  /** When the mirror on `bundle` was decided: the time of the accepted relay.add that listed it last. */
  #mirroredAt(pursuanceId: string, bundle: string): number | undefined {
    const log = this.registry.get(pursuanceId).log;
    let at: number | undefined;
    for (const id of log.order()) {
      const e = log.event(id)!;
      if (e.header.kind === 'relay.add' && (e.header.body as { bundle: string }).bundle === bundle && log.isAccepted(id)) at = e.header.time;
    }
    return at;
  }

  /** The live mirrors of a group (on the relays the rules list besides its own). */
  #mirrorsOf(groupId: string): GroupRecord[] {
    return this.peer.groups().filter((g) => g.mirrorOf === groupId && g.retired !== true);
  }

  /**
   * A member the winning re-keying event left out although still a member — added
   * concurrently, by someone who had not seen it — holds no key to the group the others moved
   * to. Whoever added them hands it over p2p (#reinvite); here we take it, but only from the
   * member who added us, and only while the latest re-keying handed us nothing.
   */
  async #adopt(pursuanceId: string, winner: Winner): Promise<string | null> {
    const key = `${pursuanceId}:${winner.event.id}`;
    if (this.#adoptChecked.has(key)) return null;
    // Left out, we may not even hold what made us a member (an addition re-signed after the
    // re-keying lives in the new group): any addition of us counts, unless we are gone for good.
    const adder = this.#lastAdderOfMe(pursuanceId);
    if (adder === null || adder === this.registry.identity.onion) return null;
    this.#adoptChecked.add(key);
    const messages = await this.peer.directMessages(adder);
    for (const m of messages.reverse()) {
      if (m.direction !== 'in' || m.overlay !== OVERLAY.groupInvite) continue;
      let groupId: string;
      try {
        const { invite } = parseGroupInvite(m.data);
        if (parseGroupName(invite.name)?.pursuanceId !== pursuanceId) continue;
        groupId = invite.groupId;
      } catch {
        continue;
      }
      // The newest invite from them for this pursuance is the one that counts.
      const joined = this.#groupsOf(pursuanceId).some((g) => g.id === groupId) ? groupId : await this.peer.acceptGroupInvite(m.data).catch(() => null);
      return joined === groupId ? groupId : null;
    }
    return null;
  }

  /** Hand our group over p2p to each member we added whom the winning re-keying event left out. */
  #reinvite(pursuanceId: string, winner: Winner): void {
    const log = this.registry.get(pursuanceId).log;
    const me = this.registry.identity.onion;
    const handed = handedTo(winner.event);
    for (const onion of log.state().members.keys()) {
      if (onion === me || handed.has(onion)) continue;
      const key = `${winner.event.id}:${onion}`;
      if (this.#reinvited.has(key)) continue;
      this.#reinvited.add(key);
      if (this.#additionOf(pursuanceId, onion)?.author !== me) continue;
      void this.inviteContact(pursuanceId, onion).catch(() => undefined);
    }
  }

  /** The accepted member.add that last added `onion`, if any (founders have none). */
  #additionOf(pursuanceId: string, onion: OnionName): SignedEvent | undefined {
    const log = this.registry.get(pursuanceId).log;
    const order = log.order();
    for (let i = order.length - 1; i >= 0; i--) {
      const e = log.event(order[i]!);
      if (e?.header.kind !== 'member.add' || !log.isAccepted(e.id)) continue;
      if (onionFromPublicKey((e.header.body as { member: Uint8Array }).member) === onion) return e;
    }
    return undefined;
  }

  /**
   * Who last added us — by an accepted addition, or one refused only for racing a key rotation
   * (its author re-signs it, in the group we are not in yet) — unless an accepted removal (or
   * our leaving) came after it in fold order: then nobody may hand us a group.
   */
  #lastAdderOfMe(pursuanceId: string): OnionName | null {
    const log = this.registry.get(pursuanceId).log;
    const me = this.registry.identity.onion;
    let adder: OnionName | null = null;
    for (const id of log.order()) {
      const e = log.event(id)!;
      const kind = e.header.kind;
      if (kind === 'member.add' && onionFromPublicKey((e.header.body as { member: Uint8Array }).member) === me) {
        if (log.isAccepted(id) || KEY_RACE_CODES.has(log.rejectionOf(id)?.code ?? '')) adder = e.author;
      } else if (!log.isAccepted(id)) continue;
      else if (kind === 'member.leave' && e.author === me) adder = null;
      else if (kind === 'member.remove' && onionFromPublicKey((e.header.body as { member: Uint8Array }).member) === me) adder = null;
    }
    return adder;
  }

  /**
   * Remove a member. When the pursuance has a group, re-key it on the same relay: a new group,
   * its invite sealed inside the signed removal to every member who stays, the removal
   * announced in the old group (where the others learn of it) and the whole log re-posted in
   * the new one. Without a group (never attached) the removal carries no invite.
   */
  public async removeMember(pursuanceId: string, member: OnionName, reason: string | undefined): Promise<SignedEvent> {
    const current = this.groupOf(pursuanceId);
    if (current === null) return this.registry.act(pursuanceId, (a) => a.removeMember(member, reason));
    return this.#rekey(pursuanceId, current, this.peer.group(current).relay, (a, invite) => a.removeMember(member, reason, invite));
  }

  /**
   * A removal of ours refused after the fact: its group invite (or a rotation) named someone
   * who left at the same moment, unseen. Left alone, the member it removed would stay; a
   * colluding member could arrange that by leaving at the right time. The registry cannot
   * re-sign it (the invite needs a new group), so it is signed again here, once, on the
   * current state: a new group, invited to the members who stay now.
   */
  async #resendLostRemovals(pursuanceId: string): Promise<void> {
    if (!this.registry.has(pursuanceId)) return;
    for (const lost of this.registry.lostRemovals(pursuanceId)) {
      // Changes come in bursts: each loss is taken by one pass only.
      if (this.#resending.has(lost.eventId)) continue;
      this.#resending.add(lost.eventId);
      if (!KEY_RACE_CODES.has(lost.code)) {
        this.registry.noteResent(pursuanceId, lost.eventId, null, 'refused for what it did, not for a race: act again if it still applies');
        continue;
      }
      if (!this.registry.get(pursuanceId).log.state().members.has(lost.member)) {
        this.registry.noteResent(pursuanceId, lost.eventId, null, 'the member is no longer there');
        continue;
      }
      try {
        const again = await this.removeMember(pursuanceId, lost.member, lost.reason);
        this.registry.noteResent(pursuanceId, lost.eventId, again);
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        this.registry.noteResent(
          pursuanceId,
          lost.eventId,
          null,
          `signing it again failed (${typeof code === 'string' ? code : 'error'}); act again if it still applies`,
        );
      }
    }
  }

  /**
   * The re-keyings a change may call for, one pass at a time per pursuance: a lost removal signed
   * again re-keys the group too, so a departure it covers must not be re-keyed for a second time
   * by a pass that looked before the first was done.
   */
  #rekeyWork(pursuanceId: string): Promise<void> {
    const before = this.#rekeying.get(pursuanceId) ?? Promise.resolve();
    const pass = before
      .catch(() => undefined)
      .then(async () => {
        await this.#resendLostRemovals(pursuanceId);
        await this.#rekeyAfterDepartures(pursuanceId);
      })
      .finally(() => {
        if (this.#rekeying.get(pursuanceId) === pass) this.#rekeying.delete(pursuanceId);
      });
    this.#rekeying.set(pursuanceId, pass);
    return pass;
  }

  /**
   * Re-key the group after members left (rekey.ts departuresSinceRekey): whoever leaves keeps
   * the group's key, and with it everything later posted there, unless the group is replaced.
   * The leaver cannot be trusted to do it, so a member who may move the relay does: a move to
   * the same relay, whose new group's invite goes to the members who stay. Exactly one member
   * is meant to, the first in rendezvous order for the departure among those allowed; each next
   * one waits departureRekeyStaggerMs longer, in case those before it are offline. Two moves
   * racing are harmless: every member follows the one last in fold order (rekey.ts lastRekey).
   */
  async #rekeyAfterDepartures(pursuanceId: string): Promise<void> {
    if (!this.#running || !this.registry.has(pursuanceId) || !this.registry.isLoaded(pursuanceId)) return;
    const current = this.groupOf(pursuanceId);
    if (current === null) return;
    const { log, author } = this.registry.get(pursuanceId);
    const departure = departuresSinceRekey(log)[0];
    if (departure === undefined || this.#departuresRekeyed.has(departure.id)) return;
    const me = this.registry.identity.onion;
    const rank = rendezvousOrder(
      departure.id,
      [...log.state().members.keys()].filter((onion) => author.mayMoveRelay(onion)),
    ).indexOf(me);
    if (rank < 0) return;
    const now = Date.now();
    const seen = this.#departuresSeen.get(departure.id) ?? now;
    this.#departuresSeen.set(departure.id, seen);
    const due = seen + rank * this.departureRekeyStaggerMs;
    if (now < due) {
      if (!this.#departureTimers.has(pursuanceId)) {
        const timer = setTimeout(() => {
          this.#departureTimers.delete(pursuanceId);
          void this.#rekeyWork(pursuanceId).catch(() => undefined);
        }, due - now);
        timer.unref();
        this.#departureTimers.set(pursuanceId, timer);
      }
      return;
    }
    const relay = this.peer.group(current).relay;
    const bundle = this.peer.relays().find((r) => r.boardOnion === relay)?.bundle;
    if (bundle === undefined) return;
    this.#departuresRekeyed.add(departure.id);
    await this.#rekey(pursuanceId, current, relay, (a, invite) => a.moveRelay(bundle, invite));
  }

  /**
   * Move a pursuance to another relay (any member the rules allow): a new group there, its
   * invite sealed to every current member inside a signed relay.move event — which also
   * leaves out anyone removed, so the move re-keys the group — posted in the old group, and
   * the whole log re-posted in the new one so joiners and late followers find everything.
   */
  public async move(pursuanceId: string, bundle: string): Promise<{ groupId: string; eventId: string }> {
    const oldGroup = this.groupOf(pursuanceId);
    if (!oldGroup) throw new NotAttachedError(pursuanceId);
    const relay = await this.#trustRelay(bundle);
    const event = await this.#rekey(pursuanceId, oldGroup, relay, (a, invite) => a.moveRelay(bundle, invite));
    return { groupId: this.groupOf(pursuanceId)!, eventId: event.id };
  }

  async #rekey<T extends SignedEvent>(
    pursuanceId: string,
    oldGroup: string,
    relay: string,
    sign: (author: Parameters<Parameters<PursuanceRegistry['act']>[1]>[0], invite: Uint8Array) => T,
  ): Promise<T> {
    const groupId = await this.peer.createGroup({ name: `${GROUP_NAME_PREFIX}${pursuanceId}:${oldGroup}`, relay, members: null });
    this.#creating.add(groupId);
    let event: T;
    try {
      const invite = new TextEncoder().encode(this.peer.groupInvite(groupId));
      event = await this.registry.act(pursuanceId, (a) => sign(a, invite));
    } catch (err) {
      // Refused (or not stored): nobody will ever be handed this group.
      await this.peer.setGroupRetired(groupId, true).catch(() => undefined);
      throw err;
    } finally {
      this.#creating.delete(groupId);
    }
    await this.#settle(pursuanceId);
    await this.reconcile(pursuanceId, true);
    return event;
  }

  /**
   * List another relay for the pursuance (relay.add, under the rules' Relay/move permission):
   * every member mirrors its group there and posts every event to both, so losing either relay
   * interrupts nothing. The whole log is posted to the new mirror at once.
   */
  public async addMirror(pursuanceId: string, bundle: string): Promise<{ groupId: string; eventId: string }> {
    const groupId = this.groupOf(pursuanceId);
    if (!groupId) throw new NotAttachedError(pursuanceId);
    const relay = await this.#trustRelay(bundle);
    if (relay === this.peer.group(groupId).relay) throw new InvalidRequestError('The pursuance already lives on that relay.', 'bundle');
    const event = await this.registry.act(pursuanceId, (a) => a.addMirror(bundle));
    await this.#settle(pursuanceId);
    await this.reconcile(pursuanceId, true);
    const mirror = this.#mirrorsOf(groupId).find((g) => g.relay === relay);
    return { groupId: mirror?.id ?? groupId, eventId: event.id };
  }

  /** Stop listing a mirror relay (relay.drop): members retire their mirror group there. */
  public async dropMirror(pursuanceId: string, bundle: string): Promise<{ eventId: string }> {
    const event = await this.registry.act(pursuanceId, (a) => a.dropMirror(bundle));
    await this.#settle(pursuanceId);
    return { eventId: event.id };
  }

  /** Create the Cwtch group for a pursuance on a relay and post its log there. */
  public async attach(pursuanceId: string, relayBundle: string): Promise<string> {
    const relay = await this.#trustRelay(relayBundle);
    const existing = this.groupOf(pursuanceId);
    if (existing) return existing;
    const groupId = await this.peer.createGroup({ name: GROUP_NAME_PREFIX + pursuanceId, relay, members: null });
    await this.reconcile(pursuanceId, true);
    return groupId;
  }

  /** The invite a member hands a newcomer (Cwtch group invite naming the pursuance). */
  public invite(pursuanceId: string): string {
    const groupId = this.groupOf(pursuanceId);
    if (!groupId) throw new NotAttachedError(pursuanceId);
    return this.peer.groupInvite(groupId);
  }

  /** Send the group invite to a contact over p2p (queued until they are online). */
  public async inviteContact(pursuanceId: string, onion: string): Promise<void> {
    const groupId = this.groupOf(pursuanceId);
    if (!groupId) throw new NotAttachedError(pursuanceId);
    if (onion === this.registry.identity.onion) throw new InvalidRequestError('That is your own address: invite someone else.', 'onion');
    if (!this.peer.contact(onion)) await this.peer.addContact(onion);
    await this.peer.inviteToGroup(groupId, onion);
  }

  /** Join: accept a group invite; the relay replays the history, which the fold takes in. */
  public async accept(inviteText: string): Promise<string> {
    // Checked before joining: a group that is no pursuance's must not be joined at all.
    let name: string;
    try {
      name = parseGroupInvite(inviteText).invite.name;
    } catch (err) {
      throw inviteError(err);
    }
    if (parseGroupName(name) === null) throw new InvalidInviteError('This invite is to a Cwtch group, not to a pursuance.');
    let groupId: string;
    try {
      groupId = await this.peer.acceptGroupInvite(inviteText);
    } catch (err) {
      throw inviteError(err);
    }
    return this.pursuanceOf(groupId)!;
  }

  /**
   * Pin a relay's bundle (first use) or check it against the pinned one, without attaching
   * anything: so a pursuance created "on this relay" is refused, before it exists, for a
   * bundle that is garbage or whose keys changed.
   */
  public trustRelay(bundle: string, field: 'bundle' | 'relay' | 'invite' = 'bundle'): Promise<string> {
    return this.#trustRelay(bundle, field);
  }

  /** The relay a pursuance syncs through on this node, or null when it is on none. */
  public linkOf(pursuanceId: string): RelayLink | null {
    const groupId = this.groupOf(pursuanceId);
    if (groupId === null) return null;
    const group = this.peer.group(groupId);
    return { groupId, relay: group.relay, bundle: group.bundle };
  }

  /** Every relay this node has pinned, the ones in use first (latest synced first), then by onion. */
  public relays(): RelayModel[] {
    const users = new Map<string, { id: string; name: string }[]>();
    for (const entry of this.registry.list()) {
      const link = this.linkOf(entry.id);
      if (link === null) continue;
      const list = users.get(link.relay) ?? [];
      list.push({ id: entry.id, name: entry.log.state().name });
      users.set(link.relay, list);
    }
    return this.peer
      .relays()
      .map((r) => ({
        boardOnion: r.boardOnion,
        bundle: r.bundle,
        pursuances: (users.get(r.boardOnion) ?? []).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : 1)),
        synced: this.peer.isRelaySynced(r.boardOnion),
        lastSyncAt: this.#lastSyncAt.get(r.boardOnion) ?? null,
        lastDown: this.#lastDown.get(r.boardOnion) ?? null,
      }))
      .sort(
        (a, b) =>
          Number(b.pursuances.length > 0) - Number(a.pursuances.length > 0) ||
          (b.lastSyncAt ?? 0) - (a.lastSyncAt ?? 0) ||
          (a.boardOnion < b.boardOnion ? -1 : 1),
      );
  }

  /** Pin a relay's bundle (first use) or check it against the pinned one, in the user's terms. */
  /** `field`: the request field the bundle came in, named by the error so a form marks that field. */
  async #trustRelay(bundle: string, field: 'bundle' | 'relay' | 'invite' = 'bundle'): Promise<string> {
    try {
      return await this.peer.addRelay(bundle);
    } catch (err) {
      // The relay package's errors are matched by their stable codes (the node does not depend on it).
      const code = (err as { code?: unknown }).code;
      if (code === 'KEY_BUNDLE_CHANGED') throw new RelayKeysChangedError(field, { cause: err });
      if (code === 'KEY_BUNDLE_INVALID' || err instanceof CryptoError) throw new InvalidBundleError({ cause: err, field });
      throw err;
    }
  }

  /**
   * Post every event of ours (or, with `all`, every event) the group does not hold yet — and
   * those of anyone who is no longer a member. Nobody else re-posts those after a re-keying,
   * yet members must all hold the same events to reach the same state: an expelled member's
   * last events may have reached some of us in the old group before we retired it (others had
   * retired it already and refused them), and members' later events may name them as parents.
   * Our own re-keying events are also announced in the group each replaced, if it lacks them
   * (a crash between signing one and posting it there must not leave the others behind).
   */
  public async reconcile(pursuanceId: string, all = false): Promise<number> {
    const groupId = this.groupOf(pursuanceId);
    if (!groupId || !this.registry.has(pursuanceId)) return 0;
    const log = this.registry.get(pursuanceId).log;
    const me = this.registry.identity.onion;
    const members = log.state().members;
    const ownRekeys: SignedEvent[] = [];
    for (const id of log.order()) {
      const e = log.event(id)!;
      if (e.author === me && REKEY_KINDS.has(e.header.kind) && log.isAccepted(id)) ownRekeys.push(e);
    }
    let posted = 0;
    // The group, then each mirror: a relay that lost or withheld events gets them again from
    // their authors (and, with `all`, from whoever reconciles), whatever the others hold.
    for (const g of [groupId, ...this.#mirrorsOf(groupId).map((m) => m.id)]) {
      const held = this.#heldIn(g);
      const missing: SignedEvent[] = [];
      for (const id of log.order()) {
        const e = log.event(id)!;
        if (held.has(e.id)) continue;
        if (all || e.author === me || !members.has(e.author)) missing.push(e);
      }
      await this.#post(g, missing, g !== groupId);
      if (g === groupId) posted = missing.length;
    }
    await this.#announce(pursuanceId, ownRekeys);
    // A relay back from an outage may lack what the others delivered meanwhile.
    await this.#repairRelays(pursuanceId);
    return posted;
  }

  /** Did non-members' events just arrive, with the group's replay done (so what it lacks is known)? */
  #fromNonMembers(pursuanceId: string, events: readonly SignedEvent[]): boolean {
    if (events.length === 0 || !this.registry.has(pursuanceId)) return false;
    const groupId = this.groupOf(pursuanceId);
    if (groupId === null || !this.peer.isRelaySynced(this.peer.group(groupId).relay)) return false;
    const members = this.registry.get(pursuanceId).log.state().members;
    return events.some((e) => !members.has(e.author));
  }

  /** Post each of our re-keying events in the group it replaced, where the others still are. */
  async #announce(pursuanceId: string, rekeys: readonly SignedEvent[]): Promise<void> {
    for (const e of rekeys) {
      const invites = invitesOf(e);
      const handed = invites.length > 0 ? this.#handover(pursuanceId, e.id, invites) : null;
      if (!handed || !this.#groupsOf(pursuanceId).some((g) => g.id === handed.groupId)) continue;
      const replaced = parseGroupName(this.peer.group(handed.groupId).name)?.replaces ?? null;
      if (replaced === null || !this.#groupsOf(pursuanceId).some((g) => g.id === replaced)) continue;
      if (!this.#heldIn(replaced, false).has(e.id)) await this.peer.postToGroup(replaced, e.bytes);
    }
  }

  /** Event ids a group holds (across Cwtch-level moves unless `history` is false). */
  #heldIn(groupId: string, history = true): Set<string> {
    const messages = history ? this.peer.groupHistory(groupId) : this.peer.groupMessages(groupId);
    return new Set(messages.flatMap((m) => eventsOfPayload(m.payload).map(eventIdOf)));
  }

  public async reconcileAll(): Promise<void> {
    for (const entry of this.registry.list()) await this.reconcile(entry.id).catch(() => undefined);
  }

  public status(pursuanceId: string): SyncStatus {
    const groupId = this.groupOf(pursuanceId);
    if (!groupId) {
      return {
        pursuanceId,
        groupId: null,
        relay: null,
        relaySynced: false,
        groupMessages: 0,
        gaps: [],
        withheld: [],
        lastMessageAt: null,
        lastSyncAt: null,
        lastDown: null,
        gapsDetected: 0,
        gapsRepaired: 0,
        catchUp: null,
        relays: [],
      };
    }
    const group = this.peer.group(groupId);
    const report = this.peer.gapReport(groupId);
    const catchUp = this.peer.relayCatchUp(group.relay);
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
      catchUp:
        catchUp === null
          ? null
          : { bucketSeconds: catchUp.bucketSeconds, from: catchUp.fromBucket === null ? null : catchUp.fromBucket * catchUp.bucketSeconds * 1000 },
      relays: this.#relayLinks(groupId),
    };
  }

  /** The group's relay and its mirrors, each with what the others delivered and it did not. */
  #relayLinks(groupId: string): RelayLinkStatus[] {
    return this.#lacking(groupId).map(({ record: g, lacking }) => ({
      relay: g.relay,
      bundle: g.bundle,
      groupId: g.id,
      mirror: g.mirrorOf !== undefined,
      synced: this.peer.isRelaySynced(g.relay),
      lastSyncAt: this.#lastSyncAt.get(g.relay) ?? null,
      lastDown: this.#lastDown.get(g.relay) ?? null,
      lacking: lacking.length,
    }));
  }

  async #publish(pursuanceId: string, events: readonly SignedEvent[]): Promise<void> {
    const groupId = this.groupOf(pursuanceId);
    if (!groupId) return;
    // A message that fails to post is left to reconcile (our own events the group lacks), not
    // retried here. Every relay gets every event: losing one relay interrupts nothing.
    for (const g of [groupId, ...this.#mirrorsOf(groupId).map((m) => m.id)]) await this.#post(g, events, true);
  }

  /** Post events in log order, packed into as few group messages as they fit (sync/event-batch.ts). */
  async #post(groupId: string, events: readonly SignedEvent[], tolerant = false): Promise<void> {
    const payloads = packEvents(
      events.map((e) => e.bytes),
      MAX_GROUP_PAYLOAD_PER_MESSAGE,
    );
    for (const payload of payloads) {
      const posted = this.peer.postToGroup(groupId, payload);
      await (tolerant ? posted.catch(() => undefined) : posted);
    }
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
    // Only pursuance events (alone or batched) travel in these groups; anything else is kept as
    // an invalid input with its reason by the ingest below, never silently dropped.
    const events = payloads.flatMap(eventsOfPayload);
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

/** A pasted invite refused by the peer, in the user's terms (anything else is no fault of the invite). */
function inviteError(err: unknown): unknown {
  if (err instanceof InviteRejectedError) return new RelayKeysChangedError('invite', { cause: err });
  if (err instanceof InviteInvalidError || err instanceof CryptoError) return new InvalidInviteError(undefined, { cause: err });
  return err;
}

/** The event id a payload would have (SHA-256 of its bytes): cheap, no verification. */
function eventIdOf(payload: Uint8Array): string {
  return toHex(sha256(payload));
}
