import { RulesSchema, type Rules } from '../../src/lib/rules-engine.js';
import type { EventSourceLike } from '../../src/lib/live.js';
import type { HistoryEntry, MemberModel, PursuanceSummary, RoleModel, TaskListItem, TaskModel } from '../../src/lib/types.js';

/**
 * Test doubles: rules documents of the shapes the templates use (kept here, so the shipped
 * templates can evolve), read models, a scripted fetch and a fake EventSource.
 */
const taskCap = (action: string, audience: '*' | string[], reason?: string) => ({ subject: 'task', action, audience, ...(reason ? { reason } : {}) });
const WORKFLOW = {
  states: ['open', 'in-progress', 'review', 'done', 'dropped'],
  initial: 'open',
  closed: ['done', 'dropped'],
  transitions: [
    { from: 'open', to: 'in-progress' },
    { from: 'in-progress', to: 'review' },
    { from: 'review', to: 'in-progress' },
    { from: 'in-progress', to: 'open' },
  ],
};

/** A small cell: organizers run everything; members work member tasks but may not close them. */
export function cellRules(): Rules {
  const doc = {
    format: 'pursuance-rules/1',
    title: 'Small activist cell',
    description: 'Organizers and members.',
    roles: {
      organizer: {
        title: 'Organizer',
        rank: 800,
        history: 'all',
        can: [
          ...['create', 'edit', 'assign', 'comment', 'transition', 'close'].map((a) => taskCap(a, '*')),
          { subject: 'role', action: 'assign', roles: '*' },
          { subject: 'role', action: 'remove', roles: ['member'] },
          { subject: 'keys', action: 'rotate', roles: '*' },
          { subject: 'member', action: 'invite' },
          { subject: 'member', action: 'expel' },
        ],
      },
      member: {
        title: 'Member',
        rank: 100,
        history: 'since-join',
        can: ['create', 'comment', 'transition', 'assign'].map((a) => taskCap(a, ['member'])),
        cannot: [taskCap('close', '*', 'only organizers close tasks')],
      },
    },
    workflow: WORKFLOW,
    succession: { quorum: 1, inactivityDays: 60 },
  };
  return RulesSchema.parse(doc);
}

/** Job roles beside a shared reading role (the newsroom's shape): editors may not appoint editors. */
export function deskRules(): Rules {
  const doc = {
    format: 'pursuance-rules/1',
    title: 'Desk',
    roles: {
      editor: {
        title: 'Editor',
        rank: 800,
        history: 'all',
        can: [...['create', 'edit', 'close'].map((a) => taskCap(a, '*')), { subject: 'role', action: 'assign', roles: '*' }],
        cannot: [{ subject: 'role', action: 'assign', roles: ['editor'], reason: 'editors are appointed by the founders' }],
      },
      reporter: {
        title: 'Reporter',
        rank: 400,
        history: 'all',
        can: ['create', 'edit', 'comment'].map((a) => taskCap(a, ['desk'])),
        cannot: [taskCap('close', '*', 'only editors publish or spike a story')],
      },
      desk: { title: 'Desk', rank: 200, history: 'all', can: [] },
    },
    workflow: WORKFLOW,
    succession: { quorum: 2, inactivityDays: null },
  };
  return RulesSchema.parse(doc);
}

/**
 * Tip lines beside a desk (the newsroom's shape): sources may send tips to several reading roles
 * without holding them, and may not create tasks; reporters create desk tasks and send no tips.
 */
export function tipRules(): Rules {
  const reading = (title: string, rank: number) => ({ title, rank, history: 'all', can: [] });
  const doc = {
    format: 'pursuance-rules/1',
    title: 'Newsroom',
    roles: {
      editor: { title: 'Editor', rank: 800, history: 'all', can: ['create', 'edit', 'comment', 'close'].map((a) => taskCap(a, '*')) },
      reporter: { title: 'Reporter', rank: 400, history: 'all', can: ['create', 'comment'].map((a) => taskCap(a, ['desk'])) },
      hotline: reading('Hotline', 350),
      tips: reading('Tips', 300),
      legal: reading('Legal', 250),
      archive: reading('Archive', 220),
      desk: reading('Desk', 200),
      source: { title: 'Source', rank: 50, history: 'since-join', can: [taskCap('submit', ['tips', 'hotline', 'legal', 'archive'])] },
    },
    workflow: WORKFLOW,
    succession: { quorum: 1, inactivityDays: null },
  };
  return RulesSchema.parse(doc);
}

export const FOUNDER = 'a'.repeat(56);
export const MEMBER = 'b'.repeat(56);
export const OTHER = 'c'.repeat(56);
export const PID = '1'.repeat(64);

export function summary(over: Partial<PursuanceSummary> = {}): PursuanceSummary {
  return {
    id: PID,
    name: 'Cell 9',
    myName: 'ada',
    description: '',
    founders: [FOUNDER],
    members: 2,
    myRoles: ['member', 'organizer'],
    amFounder: true,
    rulesTitle: 'Small activist cell',
    rulesRevision: 0,
    relay: null,
    attached: false,
    events: 5,
    rejected: 0,
    pending: 0,
    stateHash: 'f'.repeat(64),
    ...over,
  };
}

export function members(): MemberModel[] {
  return [
    { onion: FOUNDER, name: 'ada', roles: ['member', 'organizer'], founder: true },
    { onion: MEMBER, name: 'mo', roles: ['member'], founder: false },
  ];
}

/** A role as the node lists it: keyed, its key's public halves published and its own. */
export function roleModel(id: string, title: string, over: Partial<RoleModel> = {}): RoleModel {
  return {
    id,
    title,
    description: '',
    rank: 0,
    history: 'all',
    holders: [],
    epoch: 0,
    keyId: 'k'.repeat(32),
    rotatedBy: FOUNDER,
    rotatedAt: 1,
    rotationDue: false,
    holdersWithoutKey: [],
    iHoldKey: true,
    publicKey: true,
    plantedKey: false,
    ...over,
  };
}

export function roles(iHoldKey = true): RoleModel[] {
  return [
    roleModel('member', 'Member', { rank: 100, holders: [FOUNDER, MEMBER], iHoldKey }),
    roleModel('organizer', 'Organizer', { rank: 800, holders: [FOUNDER], iHoldKey }),
  ];
}

let n = 0;
/** A task as the list and the change feed carry it: no history (`whole` adds one). */
export function task(over: Partial<TaskListItem> = {}): TaskListItem {
  n += 1;
  const id = over.id ?? n.toString(16).padStart(64, '0');
  return {
    id,
    audience: ['member'],
    parent: null,
    children: [],
    closed: false,
    readable: true,
    createdBy: FOUNDER,
    createdByName: 'ada',
    createdAt: n,
    title: `Task ${n}`,
    body: '',
    status: 'open',
    assignees: { members: [], roles: [] },
    labels: [],
    due: null,
    comments: [],
    ...over,
  };
}

/** The task as GET …/tasks/:taskId answers it: the list item with its history. */
export function whole(item: TaskListItem, history: readonly HistoryEntry[] = []): TaskModel {
  return { ...item, history };
}

export interface Call {
  readonly method: string;
  readonly path: string;
  /** The query string's parameters (routes match on the path alone). */
  readonly query: Record<string, string>;
  readonly body: unknown;
  readonly headers: Record<string, string>;
}

type Handler = (call: Call) => unknown;

/**
 * A scripted fetch: routes are "METHOD /path" (query strings ignored); a handler returns a
 * JSON body, or { status, body } for an error (or a promise of either, to hold a request open).
 * A route's segment ":name" matches any one segment where no route names the path exactly.
 * Every call is recorded.
 */
export function fakeFetch(routes: Record<string, Handler>): { fetch: (input: string, init?: RequestInit) => Promise<Response>; calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    async fetch(input: string, init: RequestInit = {}) {
      const method = init.method ?? 'GET';
      const [path = '', search = ''] = input.split('?');
      const call: Call = {
        method,
        path,
        query: Object.fromEntries(new URLSearchParams(search)),
        body: init.body ? JSON.parse(init.body as string) : undefined,
        headers: (init.headers ?? {}) as Record<string, string>,
      };
      calls.push(call);
      const handler = routes[`${method} ${path}`] ?? patternRoute(routes, `${method} ${path}`);
      if (!handler) return new Response(JSON.stringify({ code: 'NOT_FOUND', message: `no route ${method} ${path}` }), { status: 404 });
      const out = (await handler(call)) as { status?: number; body?: unknown } | undefined;
      const isWrapped = out !== null && typeof out === 'object' && 'status' in out && typeof out.status === 'number';
      const status = isWrapped ? out.status! : 200;
      const body = isWrapped ? out.body : out;
      return new Response(body === undefined ? '' : JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
    },
  };
}

/** The handler of the first route with `:name` segments that matches `key` (one segment each). */
function patternRoute(routes: Record<string, Handler>, key: string): Handler | undefined {
  const parts = key.split('/');
  const found = Object.keys(routes).find((route) => {
    const want = route.split('/');
    return route.includes('/:') && want.length === parts.length && want.every((w, i) => w.startsWith(':') || w === parts[i]);
  });
  return found === undefined ? undefined : routes[found];
}

/**
 * GET …/tasks as the node answers it: the whole list, or with `limit` one page of it, newest
 * first (`after` the previous page's `next`). The fake's cursor is the index of the page's
 * oldest task, not the node's (createdAt, id): the store passes it back unread, as it must.
 */
export function taskList(tasks: readonly TaskListItem[], call: Call): unknown {
  if (call.query.limit === undefined) return tasks;
  const end = call.query.after === undefined ? tasks.length : Number(call.query.after.slice('at-'.length));
  const start = Math.max(0, end - Number(call.query.limit));
  return { tasks: tasks.slice(start, end).reverse(), next: start > 0 ? `at-${start}` : null };
}

/**
 * The routes of one pursuance, from mutable fixtures (tests change them between refreshes). The
 * list answers the tasks as they are (list items, no history); GET …/tasks/:taskId answers one
 * whole, with its history from `histories` (none where it has no entry), or 404 as the node does.
 */
export function pursuanceRoutes(state: {
  summary: PursuanceSummary;
  tasks: TaskListItem[];
  histories?: Record<string, readonly HistoryEntry[]>;
  members: MemberModel[];
  roles: RoleModel[];
  rules: Rules;
}): Record<string, Handler> {
  const p = `/api/pursuances/${PID}`;
  return {
    'GET /api/node': () => ({ onion: state.summary.amFounder ? FOUNDER : MEMBER }),
    'GET /api/pursuances': () => [state.summary],
    [`GET ${p}`]: () => state.summary,
    [`GET ${p}/tasks`]: (call) => taskList(state.tasks, call),
    [`GET ${p}/tasks/:taskId`]: (call) => {
      const id = decodeURIComponent(call.path.slice(`${p}/tasks/`.length));
      const item = state.tasks.find((t) => t.id === id);
      return item ? whole(item, state.histories?.[id] ?? []) : { status: 404, body: { code: 'NOT_FOUND', message: `There is no task ${id}.` } };
    },
    [`GET ${p}/members`]: () => state.members,
    [`GET ${p}/roles`]: () => state.roles,
    [`GET ${p}/rules`]: () => state.rules,
    [`GET ${p}/feed`]: () => [],
    [`GET ${p}/rejections`]: () => [],
    [`GET ${p}/join-invites`]: () => [],
    [`GET ${p}/profile`]: () => ({ profile: null }),
    [`GET ${p}/join-requests`]: () => ({
      requests: [],
      dropped: { malformed: 0, foreign: 0, stale: 0, work: 0, replay: 0, unreadable: 0, blocked: 0, full: 0 },
      waiting: 0,
      capacity: 200,
    }),
    [`GET ${p}/sync`]: () => ({
      pursuanceId: PID,
      groupId: 'g'.repeat(64),
      relay: 'relay-bundle',
      relaySynced: true,
      groupMessages: 12,
      gaps: ['m1'],
      withheld: [],
      lastMessageAt: 5,
      lastSyncAt: 4,
      lastDown: null,
      gapsDetected: 2,
      gapsRepaired: 1,
      catchUp: { bucketSeconds: 3600, from: Date.UTC(2026, 11, 4, 14) },
      relays: [
        { relay: 'a'.repeat(56), bundle: 'bundle-a', groupId: 'g'.repeat(64), mirror: false, synced: true, lastSyncAt: 4, lastDown: null, lacking: 0 },
        { relay: 'b'.repeat(56), bundle: 'bundle-b', groupId: 'h'.repeat(64), mirror: true, synced: true, lastSyncAt: 4, lastDown: null, lacking: 3 },
      ],
    }),
  };
}

export class FakeEventSource implements EventSourceLike {
  public static last: FakeEventSource | null = null;
  public onopen: ((e: Event) => void) | null = null;
  public onerror: ((e: Event) => void) | null = null;
  public readyState = 0;
  public closed = false;
  readonly #listeners = new Map<string, ((e: MessageEvent<string>) => void)[]>();
  public constructor(public readonly url: string) {
    FakeEventSource.last = this;
  }
  public addEventListener(type: string, listener: (e: MessageEvent<string>) => void): void {
    this.#listeners.set(type, [...(this.#listeners.get(type) ?? []), listener]);
  }
  public close(): void {
    this.closed = true;
    this.readyState = 2;
  }
  public open(): void {
    this.readyState = 1;
    this.onopen?.(new Event('open'));
  }
  public emit(type: string, data: unknown): void {
    for (const l of this.#listeners.get(type) ?? []) l({ data: JSON.stringify(data) } as MessageEvent<string>);
  }
}

export class MemoryStorage implements Storage {
  readonly #map = new Map<string, string>();
  public get length(): number {
    return this.#map.size;
  }
  public clear(): void {
    this.#map.clear();
  }
  public getItem(key: string): string | null {
    return this.#map.get(key) ?? null;
  }
  public key(i: number): string | null {
    return [...this.#map.keys()][i] ?? null;
  }
  public removeItem(key: string): void {
    this.#map.delete(key);
  }
  public setItem(key: string, value: string): void {
    this.#map.set(key, value);
  }
}
