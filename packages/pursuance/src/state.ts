import { canonicalEncode, canonicalPieces, sha256, sha256Stream, toHex, type CanonicalMemo, type CanonicalValue, type OnionName } from '@pursuance/crypto';
import type { EventId, PursuanceId } from './envelope.js';
import type { Rejection } from './errors.js';
import type { RoleId, Rules } from './rules/schema.js';
import type { Profile } from './profile.js';
import { runAtOnce } from './steps.js';

/**
 * The public state of a pursuance: everything every member can verify and must agree on.
 * Task content is not here (it is sealed to audiences; see view.ts), but task structure is:
 * that a task exists, its audience, its parent and whether it is closed.
 */
export interface MemberState {
  readonly onion: OnionName;
  readonly key: Uint8Array;
  name: string | undefined;
  readonly roles: Set<RoleId>;
  /** Per role: the epoch index current when the member last received the role. */
  readonly roleSince: Map<RoleId, number>;
  readonly addedBy: EventId;
}

export interface KeyEpoch {
  readonly epoch: number;
  readonly keyId: Uint8Array;
  readonly keyIdHex: string;
  readonly introducedBy: EventId;
  /** Who made the key (the rotation's author): they know it whether or not they hold the role. */
  readonly creator: OnionName;
  /** Members that have been sent a lockbox for this key (rotation or share). */
  readonly recipients: Set<OnionName>;
  /**
   * Departures (member.remove, member.leave, role.remove) of someone who knew this key. New
   * content sealed to it by an author who had seen one of them is refused, whether or not a
   * later rotation exists: the one who left can read whatever is sealed to it.
   */
  readonly leftBy: EventId[];
  /** The key's public halves, when its rotation published them (keys.ts rolePub); checked there. */
  readonly pub?: EpochPub;
}

/** A role epoch's public keys: ed25519 for what the role signs, X25519 for what is sealed to it. */
export interface EpochPub {
  readonly sig: Uint8Array;
  readonly box: Uint8Array;
}

export interface RoleState {
  readonly id: RoleId;
  readonly holders: Set<OnionName>;
  readonly epochs: KeyEpoch[];
  readonly epochsById: Map<string, KeyEpoch>;
  /** Set when a holder left without a rotation: the current key must be replaced before new content uses it. */
  rotationDueSince: EventId | null;
}

export interface TaskState {
  readonly id: EventId;
  readonly audience: readonly RoleId[];
  parent: EventId | null;
  readonly createdBy: OnionName;
  closed: boolean;
  readonly children: Set<EventId>;
  /**
   * A submission sealed to a key its audience had already rotated away when it was folded (its
   * author had not seen the rotation): it stands, but whoever held the old key can read it, a
   * removed holder included. Its author's dashboard says so and offers to send it again.
   */
  readonly staleKey?: true;
  /** A task a linked pursuance sent (link.task): which one, and which of its roles vouched for it. */
  readonly origin?: TaskOrigin;
}

export interface TaskOrigin {
  readonly peer: PursuanceId;
  readonly role: RoleId;
}

export interface Nomination {
  readonly id: EventId;
  readonly candidate: OnionName;
  readonly time: number;
  /** Members when the nomination was accepted: only they can witness founders' inactivity. */
  readonly electorate: ReadonlySet<OnionName>;
  readonly endorsers: Set<OnionName>;
  open: boolean;
}

export interface Equivocation {
  readonly author: OnionName;
  readonly seq: number;
  readonly events: readonly EventId[];
}

/**
 * Where the pursuance lives: its relay (an exported key bundle, opaque here; null until one is
 * set) and the event that last moved it, plus mirror relays. Nodes post every event to the
 * relay and to every mirror and read from all of them, so losing one relay interrupts nothing.
 * A mirror needs no invites: members derive the mirror group from the group key they hold.
 * `mirrors` is in the order added, without duplicates, never holds `bundle`, and has at most
 * MAX_RELAY_MIRRORS entries (fold/governance.ts). Replaced, never changed in place.
 */
export interface RelayState {
  readonly bundle: string | null;
  readonly movedBy: EventId | null;
  readonly mirrors: string[];
}

/**
 * The relay as the state hash and the snapshot encoding render it. `mirrors` only when there are
 * any: a state without mirrors encodes byte for byte as it did before mirrors existed, so state
 * hashes and attested snapshots from then stay valid.
 */
export function relayValue(relay: RelayState): CanonicalValue {
  return { bundle: relay.bundle, movedBy: relay.movedBy, ...(relay.mirrors.length > 0 ? { mirrors: [...relay.mirrors] } : {}) };
}

/** The pursuance's public profile (profile.ts) and the event that published it. */
export interface PublishedProfile {
  readonly profile: Profile;
  readonly by: EventId;
}

/** A role key a linked pursuance announced (link.ts), as our fold adopted it. */
export interface LinkKey {
  /** Its ordinal among that role's keys with public halves in their log. */
  readonly n: number;
  readonly keyId: Uint8Array;
  readonly sig: Uint8Array;
  readonly box: Uint8Array;
  readonly validUntil: number;
  /** The event that carried it in (link.open for the pinned anchor, else link.keys). */
  readonly by: EventId;
  /** The anchor key (its ordinal) that signed it: a key signed by a superseded anchor vouches for nothing. */
  readonly anchorN: number;
  /** That anchor key's public signing key: a conflicting key for this ordinal it signed is evidence of a fork. */
  readonly signer: Uint8Array;
}

/** Our role that sends tasks over a link, and their role it sends to (bodies.ts LinkSendSchema). */
export interface LinkSend {
  readonly ours: RoleId;
  readonly theirs: RoleId;
}

/** What their role may do here (bodies.ts LinkGrantSchema). */
export interface LinkGrant {
  readonly theirRole: RoleId;
  readonly action: 'create' | 'vouch';
  readonly on: RoleId;
}

/**
 * A link to another pursuance (fold/links.ts). `keys` holds their roles' current keys, their
 * anchor role's included; `frozen` is set when their anchor signed two different keys for one
 * role and ordinal, and holds the two events as evidence: nothing more is adopted until a member
 * who may change the rules opens the link again. Replaced, never changed in place, except `keys`.
 */
export interface LinkState {
  readonly peer: PursuanceId;
  readonly name: string;
  readonly openedBy: EventId;
  readonly theirAnchor: RoleId;
  /** Where our nodes post to them (the inbox their offer names), and where theirs post to us: opaque here. */
  readonly theirInbox: string;
  readonly ourInbox: string;
  readonly theyMay: readonly LinkGrant[];
  readonly ourAnchor: RoleId;
  readonly weSend: readonly LinkSend[];
  readonly keys: Map<RoleId, LinkKey>;
  frozen: { readonly role: RoleId; readonly n: number; readonly events: readonly [EventId, EventId] } | null;
  /**
   * Nonces of their credentials taken in (hex): each is good once. Kept when the link is opened
   * again; in the snapshot encoding, not in the state hash (the accepted log hash covers them).
   */
  readonly seen: Set<string>;
}

/** A link as the state hash and the snapshot encoding render it. */
export function linkValue(l: LinkState): CanonicalValue {
  return {
    peer: l.peer,
    name: l.name,
    openedBy: l.openedBy,
    theirAnchor: l.theirAnchor,
    theirInbox: l.theirInbox,
    ourInbox: l.ourInbox,
    theyMay: l.theyMay.map((g) => ({ theirRole: g.theirRole, action: g.action, on: g.on })),
    ourAnchor: l.ourAnchor,
    weSend: l.weSend.map((w) => ({ ours: w.ours, theirs: w.theirs })),
    keys: sorted(l.keys.keys()).map((role) => {
      const k = l.keys.get(role)!;
      return { role, n: k.n, keyId: k.keyId, sig: k.sig, box: k.box, validUntil: k.validUntil, by: k.by, anchorN: k.anchorN, signer: k.signer };
    }),
    frozen: l.frozen ? { role: l.frozen.role, n: l.frozen.n, events: [...l.frozen.events] } : null,
  };
}

export interface PublicState {
  readonly id: PursuanceId;
  name: string;
  description: string;
  rules: Rules;
  rulesRevision: number;
  readonly founders: Set<OnionName>;
  readonly members: Map<OnionName, MemberState>;
  readonly roles: Map<RoleId, RoleState>;
  readonly tasks: Map<EventId, TaskState>;
  relay: RelayState;
  readonly nominations: Map<EventId, Nomination>;
  lastFounderActivity: number;
  /** Absent until one is published (fold/profiles.ts), and after it is withdrawn. */
  profile?: PublishedProfile | undefined;
  /** Links to other pursuances, by their id: absent while there are none (fold/links.ts). */
  links?: Map<PursuanceId, LinkState> | undefined;
  /**
   * Nonces of credentials taken in over links since closed, by peer (hex): a link opened again
   * takes them back, so closing and re-opening cannot let a parcel in twice. Absent while there
   * are none; in the snapshot encoding, not in the state hash (the accepted log hash covers them).
   */
  closedNonces?: Map<PursuanceId, Set<string>> | undefined;
}

export function newRoleState(id: RoleId): RoleState {
  return { id, holders: new Set(), epochs: [], epochsById: new Map(), rotationDueSince: null };
}

const sorted = <T>(values: Iterable<T>): T[] => [...values].sort();

/** A task as the state hash covers it. */
function taskValue(t: TaskState): TaskValue {
  return {
    id: t.id,
    audience: [...t.audience],
    parent: t.parent,
    closed: t.closed,
    createdBy: t.createdBy,
    ...(t.staleKey ? { staleKey: true } : {}),
    ...(t.origin ? { origin: { peer: t.origin.peer, role: t.origin.role } } : {}),
  };
}

// A type, not an interface: it must fit CanonicalValue's index signature.
type TaskValue = {
  readonly id: EventId;
  readonly audience: readonly RoleId[];
  readonly parent: EventId | null;
  readonly closed: boolean;
  readonly createdBy: OnionName;
  readonly staleKey?: true;
  readonly origin?: { readonly peer: PursuanceId; readonly role: RoleId };
};

/** Does the entry made earlier still show `t` as it is? (The fold changes tasks in place.) */
function showsTask(v: TaskValue, t: TaskState): boolean {
  if (v.parent !== t.parent || v.closed !== t.closed || v.createdBy !== t.createdBy || (v.staleKey ?? false) !== (t.staleKey ?? false)) return false;
  if (v.origin?.peer !== t.origin?.peer || v.origin?.role !== t.origin?.role) return false;
  if (v.audience.length !== t.audience.length) return false;
  for (let i = 0; i < v.audience.length; i++) if (v.audience[i] !== t.audience[i]) return false;
  return true;
}

/** Freeze a plain value all the way down (CanonicalMemo remembers only what cannot change). */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * The public value's task entries kept from one state hash to the next, each frozen, so that a
 * CanonicalMemo knows each by itself and encodes only those that changed: after one change on a
 * 5,000-task board, the hash costs a fraction of encoding the whole state again. An entry is
 * made again when any field it shows differs from the task's (compared field by field: the fold
 * changes tasks in place); the entries of tasks gone are dropped when the order is worked out.
 */
export class PublicEntries {
  #tasks = new Map<EventId, TaskValue>();
  #sorted: readonly EventId[] | undefined;

  public tasks(state: PublicState): readonly TaskValue[] {
    const ids = this.#order(state);
    const out: TaskValue[] = [];
    for (const id of ids) {
      const t = state.tasks.get(id)!;
      let v = this.#tasks.get(id);
      if (v === undefined || !showsTask(v, t)) {
        v = deepFreeze(taskValue(t));
        this.#tasks.set(id, v);
      }
      out.push(v);
    }
    return out;
  }

  /**
   * The task ids in order. Tasks only come (a fold never drops one, though a refold may hold
   * fewer): when every id of the last call is still there, the new ones (usually one) are sorted
   * alone and merged in, rather than sorting the whole list again. Otherwise the entries of
   * tasks gone are dropped with the old order.
   */
  #order(state: PublicState): readonly EventId[] {
    const known = this.#sorted;
    if (known !== undefined && known.length <= state.tasks.size && known.every((id) => state.tasks.has(id))) {
      if (known.length === state.tasks.size) return known;
      const added = sorted([...state.tasks.keys()].filter((id) => !this.#tasks.has(id)));
      this.#sorted = mergeSorted(known, added);
    } else {
      this.#sorted = sorted(state.tasks.keys());
      const kept = new Map<EventId, TaskValue>();
      for (const id of this.#sorted) {
        const v = this.#tasks.get(id);
        if (v !== undefined) kept.set(id, v);
      }
      this.#tasks = kept;
    }
    return this.#sorted;
  }
}

/** Two sorted lists as one sorted list (the order `sorted` gives). */
function mergeSorted<T extends string>(a: readonly T[], b: readonly T[]): T[] {
  const out: T[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) out.push(a[i]! <= b[j]! ? a[i++]! : b[j++]!);
  while (i < a.length) out.push(a[i++]!);
  while (j < b.length) out.push(b[j++]!);
  return out;
}

/**
 * A canonical, order-independent rendering of the public state (what the state hash covers).
 * With `entries`, the tasks' entries are those kept since the last call wherever they still
 * show their task (see PublicEntries): the same value, most of it the same objects.
 */
export function publicStateValue(
  state: PublicState,
  acceptedLogHash: Uint8Array,
  rejections: readonly Rejection[],
  equivocations: readonly Equivocation[],
  entries?: PublicEntries,
): CanonicalValue {
  return {
    id: state.id,
    name: state.name,
    description: state.description,
    rules: state.rules as unknown as CanonicalValue,
    rulesRevision: state.rulesRevision,
    founders: sorted(state.founders),
    members: sorted(state.members.keys()).map((onion) => {
      const m = state.members.get(onion)!;
      return { onion, name: m.name ?? null, roles: sorted(m.roles) };
    }),
    roles: sorted(state.roles.keys()).map((id) => {
      const r = state.roles.get(id)!;
      return {
        id,
        holders: sorted(r.holders),
        // `pub` only where published: states from before public keys hash as they did.
        epochs: r.epochs.map((e) => ({
          keyId: e.keyId,
          by: e.introducedBy,
          recipients: sorted(e.recipients),
          ...(e.pub ? { pub: { sig: e.pub.sig, box: e.pub.box } } : {}),
        })),
        rotationDue: r.rotationDueSince,
      };
    }),
    tasks: entries ? entries.tasks(state) : sorted(state.tasks.keys()).map((id) => taskValue(state.tasks.get(id)!)),
    relay: relayValue(state.relay),
    // Only while there is one: states from before profiles hash as they did.
    ...(state.profile ? { profile: { id: state.profile.profile.id, by: state.profile.by, keyId: state.profile.profile.keyId } } : {}),
    // Only while there are any, likewise.
    ...(state.links?.size ? { links: sorted(state.links.keys()).map((peer) => linkValue(state.links!.get(peer)!)) } : {}),
    nominations: sorted(state.nominations.keys()).map((id) => {
      const n = state.nominations.get(id)!;
      return { id, candidate: n.candidate, endorsers: sorted(n.endorsers), open: n.open };
    }),
    log: acceptedLogHash,
    rejected: [...rejections].sort((a, b) => (a.eventId < b.eventId ? -1 : 1)).map((r) => [r.eventId, r.code]),
    equivocations: [...equivocations]
      .sort((a, b) => (a.author === b.author ? a.seq - b.seq : a.author < b.author ? -1 : 1))
      .map((e) => ({ author: e.author, seq: e.seq, events: sorted(e.events) })),
  };
}

/**
 * SHA-256 of the value's canonical encoding (hex). With a `memo`, the value is encoded piece by
 * piece as stateHashSteps does, and the pieces that encoded the same the last time are not
 * encoded again (see CanonicalMemo): the same hash, from a fraction of the work after a change.
 */
export function stateHash(value: CanonicalValue, memo?: CanonicalMemo): string {
  if (!memo) return toHex(sha256(canonicalEncode(value)));
  return runAtOnce(stateHashSteps(value, Number.POSITIVE_INFINITY, memo));
}

/**
 * stateHash(value), hashed piece by piece (the state's lists entry by entry), yielding after
 * every `every` pieces: at a million events the state encodes to tens of megabytes, seconds of
 * work that would otherwise hold the caller's event loop (PursuanceLog.stateHashInSlices, steps.ts).
 */
export function* stateHashSteps(value: CanonicalValue, every: number, memo?: CanonicalMemo): Generator<void, string> {
  const hash = sha256Stream();
  let sincePause = 0;
  // Two levels: the state's map, then its lists (tasks, members, refusals…), one entry a piece.
  for (const piece of canonicalPieces(value, 2, memo)) {
    hash.update(piece);
    if (++sincePause >= every) {
      sincePause = 0;
      yield;
    }
  }
  return toHex(hash.digest());
}
