import type { OnionName } from '@pursuance/crypto';
import type { EventId, MemberViewResult, PublicState, Rejection, Rules, TaskView } from '@pursuance/pursuance';
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
  readonly amFounder: boolean;
  readonly rulesTitle: string;
  readonly rulesRevision: number;
  readonly relay: string | null;
  readonly events: number;
  readonly rejected: number;
  readonly pending: number;
  readonly stateHash: string;
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
}

export interface TaskModel {
  readonly id: string;
  readonly audience: readonly string[];
  readonly parent: string | null;
  readonly children: readonly string[];
  readonly closed: boolean;
  readonly readable: boolean;
  readonly createdBy: string;
  readonly createdAt: number;
  readonly title: string | null;
  readonly body: string | null;
  readonly status: string | null;
  readonly assignees: { members: readonly string[]; roles: readonly string[] } | null;
  readonly labels: readonly string[];
  readonly due: number | null;
  readonly comments: TaskView['comments'];
  readonly history: TaskView['history'];
}

export interface FeedItem {
  readonly id: string;
  readonly kind: string;
  readonly author: string;
  readonly time: number;
  readonly accepted: boolean;
  readonly rejection: Rejection | null;
}

function myRoles(state: PublicState, me: OnionName): string[] {
  return [...(state.members.get(me)?.roles ?? [])].sort();
}

export function summaryOf(entry: PursuanceEntry, me: OnionName): PursuanceSummary {
  const state = entry.log.state();
  const rejected = entry.log.rejections().length;
  return {
    id: entry.id,
    name: state.name,
    description: state.description,
    founders: [...state.founders].sort(),
    members: state.members.size,
    myRoles: myRoles(state, me),
    amFounder: state.founders.has(me),
    rulesTitle: state.rules.title,
    rulesRevision: state.rulesRevision,
    relay: state.relay.bundle,
    events: entry.log.size,
    rejected,
    pending: entry.log.pendingCount(),
    stateHash: entry.log.stateHash(),
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
      };
    });
}

export function taskModel(entry: PursuanceEntry, view: MemberViewResult, id: EventId): TaskModel | undefined {
  const pub = entry.log.state().tasks.get(id);
  const t = view.tasks.get(id);
  if (!pub || !t) return undefined;
  return {
    id,
    audience: [...pub.audience],
    parent: pub.parent,
    children: [...pub.children].sort(),
    closed: pub.closed,
    readable: t.readable,
    createdBy: t.createdBy,
    createdAt: t.createdAt,
    title: t.title ?? null,
    body: t.body ?? null,
    status: t.status ?? null,
    assignees: t.assignees ?? null,
    labels: t.labels ?? [],
    due: t.due ?? null,
    comments: t.comments,
    history: t.history,
  };
}

export function tasksOf(entry: PursuanceEntry, view: MemberViewResult): TaskModel[] {
  return [...entry.log.state().tasks.keys()]
    .map((id) => taskModel(entry, view, id)!)
    .filter((t) => t !== undefined)
    .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
}

export function feedOf(entry: PursuanceEntry, limit = 200): FeedItem[] {
  const order = entry.log.order();
  const out: FeedItem[] = [];
  for (let i = order.length - 1; i >= 0 && out.length < limit; i--) {
    const id = order[i]!;
    const e = entry.log.event(id)!;
    const rejection = entry.log.rejectionOf(id) ?? null;
    out.push({ id, kind: e.header.kind, author: e.author, time: e.header.time, accepted: rejection === null, rejection });
  }
  return out;
}

export function rulesOf(entry: PursuanceEntry): Rules {
  return entry.log.state().rules;
}
