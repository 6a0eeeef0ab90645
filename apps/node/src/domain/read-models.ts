import { onionFromPublicKey, type OnionName } from '@pursuance/crypto';
import type { EventId, MemberViewResult, PublicState, Rejection, Rules, SignedEvent, TaskView } from '@pursuance/pursuance';
import { acceptedInOrder } from './fold-scan.js';
import type { PursuanceEntry } from './registry.js';

/**
 * Read models for the API and dashboard: plain JSON built from the folded public state and
 * this member's decrypted view. They are derived data — rebuilt from the event store by
 * replay — so nothing here is ever written back.
 */
export interface PursuanceSummary {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly founders: readonly string[];
  readonly members: number;
  readonly myRoles: readonly string[];
  /** This node's display name in this pursuance (null: none set there yet). */
  readonly myName: string | null;
  readonly amFounder: boolean;
  readonly rulesTitle: string;
  readonly rulesRevision: number;
  /**
   * The relay bundle this pursuance syncs through on this node; when this node is on no relay
   * for it, the one its log names (a relay move, or the genesis), if any.
   */
  readonly relay: string | null;
  /** Whether this node syncs this pursuance through a relay at all. False: nothing is sent or received until it is attached (or joins by invite). */
  readonly attached: boolean;
  readonly events: number;
  readonly rejected: number;
  readonly pending: number;
  readonly stateHash: string;
  /** Whether the node has rebuilt this pursuance's log since it started (false: reads only; commands wait). */
  readonly loaded?: boolean;
}

export interface MemberModel {
  readonly onion: OnionName;
  readonly name: string | null;
  readonly roles: readonly string[];
  readonly founder: boolean;
}

export interface RoleModel {
  readonly id: string;
  readonly title: string;
  readonly description: string;
  readonly rank: number;
  readonly history: string;
  readonly holders: readonly string[];
  readonly epoch: number;
  readonly keyId: string | null;
  readonly rotatedBy: string | null;
  readonly rotatedAt: number | null;
  readonly rotationDue: boolean;
  readonly holdersWithoutKey: readonly string[];
  readonly iHoldKey: boolean;
  /** Whether the current key published public halves: only then can anyone submit to the role without holding it. */
  readonly publicKey: boolean;
  /**
   * This node holds the current key and the public halves its rotation published are not the
   * ones the key derives (a planted key): submissions to it would reach the planter, not the
   * holders. Shown as an alarm; rotating the role replaces the key.
   */
  readonly plantedKey: boolean;
}

/**
 * A comment or history entry as the API lists it: the author's display name beside the onion.
 * A history entry carries the member view's `change` (old → new values) as it is: present only
 * where this node could read the event's content, so the API tells no more than the keys do.
 */
export type CommentModel = TaskView['comments'][number] & { readonly authorName: string | null };
export type HistoryModel = TaskView['history'][number] & { readonly authorName: string | null };

export interface TaskModel {
  readonly id: string;
  readonly audience: readonly string[];
  readonly parent: string | null;
  readonly children: readonly string[];
  readonly closed: boolean;
  readonly readable: boolean;
  /** Present on a write-only submission (a tip): its sender need not hold its audience. */
  readonly submission?: true;
  /**
   * Present on a task a linked pursuance sent: that pursuance (its id, and the name our link
   * gives it while the link is open) and the role it was sent for. `createdBy` is the member who
   * carried it in; who sent it is theirs to know.
   */
  readonly origin?: { readonly peer: string; readonly name: string | null; readonly role: string };
  /**
   * Present on a submission sealed to a key its audience had rotated away before it was folded
   * (its sender had not seen the rotation): whoever held that key can read it, a removed holder too.
   */
  readonly staleKey?: true;
  readonly createdBy: string;
  readonly createdByName: string | null;
  readonly createdAt: number;
  readonly title: string | null;
  readonly body: string | null;
  readonly status: string | null;
  readonly assignees: { members: readonly string[]; roles: readonly string[] } | null;
  readonly labels: readonly string[];
  readonly due: number | null;
  readonly comments: readonly CommentModel[];
  readonly history: readonly HistoryModel[];
}

/**
 * A task as GET …/tasks lists it: everything but its history, which GET …/tasks/:taskId adds. On
 * a 12,000-task board the histories were 20 of the list's 25 MB, and the board never shows them.
 */
export type TaskListItem = Omit<TaskModel, 'history'>;

/** A task model as its two stored parts: the list item and the history. */
export function splitTask(model: TaskModel): { readonly item: TaskListItem; readonly history: readonly HistoryModel[] } {
  const { history, ...item } = model;
  return { item, history };
}

export interface FeedItem {
  readonly id: string;
  readonly kind: string;
  readonly author: string;
  readonly authorName: string | null;
  readonly time: number;
  readonly accepted: boolean;
  readonly rejection: Rejection | null;
}

const knownNames = new WeakMap<PursuanceEntry, { version: number; size: number; names: ReadonlyMap<string, string> }>();

/**
 * Display names by onion: each member's current name, and for someone no longer a member the
 * last name they had (their events stay in the feed and in task histories). Names come from the
 * accepted events only — the genesis, additions (the adder's choice) and the members' own
 * renames — in fold order, so every replica shows the same. Cached until the pursuance changes.
 */
export function namesOf(entry: PursuanceEntry): ReadonlyMap<string, string> {
  const cached = knownNames.get(entry);
  if (cached && cached.version === entry.version && cached.size === entry.log.size) return cached.names;
  const names = new Map<string, string>();
  const set = (onion: string, name: string | undefined) => (name === undefined ? names.delete(onion) : names.set(onion, name));
  for (const m of entry.log.genesis.header.body.members) set(onionFromPublicKey(m.member), m.name);
  for (const e of acceptedInOrder(entry.log, naming)) {
    if (isAddition(e)) set(onionFromPublicKey(e.header.body.member), e.header.body.name);
    else if (isRename(e)) set(e.author, e.header.body.name);
  }
  // The fold's own answer wins for current members (it is what the state hash covers).
  for (const m of entry.log.state().members.values()) set(m.onion, m.name);
  knownNames.set(entry, { version: entry.version, size: entry.log.size, names });
  return names;
}

const isAddition = (e: SignedEvent): e is SignedEvent & { header: { body: { member: Uint8Array; name?: string } } } => e.header.kind === 'member.add';
const isRename = (e: SignedEvent): e is SignedEvent & { header: { body: { name: string } } } => e.header.kind === 'member.rename';
/** The events that name members (the scan's key: made once). */
const naming = (e: SignedEvent): boolean => isAddition(e) || isRename(e);

function myRoles(state: PublicState, me: OnionName): string[] {
  return [...(state.members.get(me)?.roles ?? [])].sort();
}

const knownHashes = new WeakMap<PursuanceEntry, { version: number; size: number; hash: string }>();

/**
 * The log's state hash, cached until the pursuance changes: it encodes the whole public state
 * (3 MB of canonical bytes on a 5,000-task board), and the dashboard reads the summary after
 * every change.
 */
export function stateHashOf(entry: PursuanceEntry): string {
  const cached = knownHashes.get(entry);
  if (cached && cached.version === entry.version && cached.size === entry.log.size) return cached.hash;
  const hash = entry.log.stateHash();
  knownHashes.set(entry, { version: entry.version, size: entry.log.size, hash });
  return hash;
}

/**
 * `link`: the relay this node syncs the pursuance through (SyncService.linkOf), null when none.
 * `withHash`: false leaves `stateHash` empty (the persisted summary: see ProjectionCheckpoint).
 */
export function summaryOf(entry: PursuanceEntry, me: OnionName, link: { readonly bundle: string } | null, withHash = true): PursuanceSummary {
  const state = entry.log.state();
  // The fold's rejections only: the same on every replica and after a replay.
  const rejected = entry.log.foldRejections().length;
  return {
    id: entry.id,
    name: state.name,
    description: state.description,
    founders: [...state.founders].sort(),
    members: state.members.size,
    myRoles: myRoles(state, me),
    myName: state.members.get(me)?.name ?? null,
    amFounder: state.founders.has(me),
    rulesTitle: state.rules.title,
    rulesRevision: state.rulesRevision,
    relay: link?.bundle ?? state.relay.bundle,
    attached: link !== null,
    events: entry.log.size,
    rejected,
    pending: entry.log.pendingCount(),
    stateHash: withHash ? stateHashOf(entry) : '',
  };
}

export function membersOf(entry: PursuanceEntry): MemberModel[] {
  const state = entry.log.state();
  return [...state.members.values()]
    .map((m) => ({ onion: m.onion, name: m.name ?? null, roles: [...m.roles].sort(), founder: state.founders.has(m.onion) }))
    .sort((a, b) => (a.onion < b.onion ? -1 : 1));
}

export function rolesOf(entry: PursuanceEntry, view: MemberViewResult): RoleModel[] {
  const state = entry.log.state();
  // Role ids are chosen by whoever wrote the rules: own properties only ("constructor" is no role).
  const declared = (id: string) => (Object.hasOwn(state.rules.roles, id) ? state.rules.roles[id] : undefined);
  const planted = new Set(entry.author.plantedRoleKeys().map((p) => p.keyIdHex));
  return [...state.roles.values()]
    .filter((r) => declared(r.id) !== undefined)
    .sort((a, b) => (a.id < b.id ? -1 : 1))
    .map((r) => {
      const def = declared(r.id)!;
      const current = r.epochs.at(-1);
      const rotation = current ? entry.log.event(current.introducedBy) : undefined;
      return {
        id: r.id,
        title: def.title,
        description: def.description,
        rank: def.rank,
        history: def.history,
        holders: [...r.holders].sort(),
        epoch: current ? current.epoch : -1,
        keyId: current?.keyIdHex ?? null,
        rotatedBy: rotation?.author ?? null,
        rotatedAt: rotation?.header.time ?? null,
        rotationDue: r.rotationDueSince !== null,
        holdersWithoutKey: current ? [...r.holders].filter((h) => !current.recipients.has(h)).sort() : [...r.holders].sort(),
        iHoldKey: current ? view.keyring.has(current.keyIdHex) : false,
        publicKey: current?.pub !== undefined,
        plantedKey: current !== undefined && planted.has(current.keyIdHex),
      };
    });
}

export function taskModel(entry: PursuanceEntry, view: MemberViewResult, id: EventId): TaskModel | undefined {
  const pub = entry.log.state().tasks.get(id);
  const t = view.tasks.get(id);
  if (!pub || !t) return undefined;
  const names = namesOf(entry);
  const nameOf = (onion: string) => names.get(onion) ?? null;
  return {
    id,
    audience: [...pub.audience],
    parent: pub.parent,
    children: [...pub.children].sort(),
    closed: pub.closed,
    readable: t.readable,
    ...(t.submission ? { submission: true as const } : {}),
    ...(pub.origin ? { origin: { peer: pub.origin.peer, name: entry.log.state().links?.get(pub.origin.peer)?.name ?? null, role: pub.origin.role } } : {}),
    ...(t.staleKey ? { staleKey: true as const } : {}),
    createdBy: t.createdBy,
    createdByName: nameOf(t.createdBy),
    createdAt: t.createdAt,
    title: t.title ?? null,
    body: t.body ?? null,
    status: t.status ?? null,
    assignees: t.assignees ?? null,
    labels: t.labels ?? [],
    due: t.due ?? null,
    comments: t.comments.map((c) => ({ ...c, authorName: nameOf(c.author) })),
    // By name: an entry may be the held event itself, with fields a history does not show (view.ts bareEntry).
    history: t.history.map((h) => ({
      id: h.id,
      kind: h.kind,
      author: h.author,
      time: h.time,
      ...(h.change !== undefined ? { change: h.change } : {}),
      authorName: nameOf(h.author),
    })),
  };
}

/** Every task as GET …/tasks lists it (tools and tests: the route sends the stored parts). */
export function tasksOf(entry: PursuanceEntry, view: MemberViewResult): TaskListItem[] {
  return [...entry.log.state().tasks.keys()]
    .map((id) => taskModel(entry, view, id))
    .filter((t) => t !== undefined)
    .map((t) => splitTask(t).item)
    .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
}

export function feedOf(entry: PursuanceEntry, limit = 200): FeedItem[] {
  const order = entry.log.order();
  return feedItems(entry, order.slice(Math.max(0, order.length - limit)).reverse());
}

/** The feed items of these events, in the order given. */
export function feedItems(entry: PursuanceEntry, ids: readonly EventId[]): FeedItem[] {
  const names = namesOf(entry);
  return ids.map((id) => {
    const e = entry.log.event(id)!;
    const rejection = entry.log.rejectionOf(id) ?? null;
    return {
      id,
      kind: e.header.kind,
      author: e.author,
      authorName: names.get(e.author) ?? null,
      time: e.header.time,
      accepted: rejection === null,
      rejection,
    };
  });
}

export function rulesOf(entry: PursuanceEntry): Rules {
  return entry.log.state().rules;
}
