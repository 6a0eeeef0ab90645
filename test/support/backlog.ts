import { Identity } from '@pursuance/crypto';
import { ActionNotAllowedError, PursuanceAuthor, PursuanceLog, makeSnapshot, type EventId, type Rules } from '@pursuance/pursuance';

/**
 * A large signed pursuance log generated in-process (the same shape as the pursuance core
 * benchmark's): a throwaway founder, several members with overlapping roles, tasks (a quarter
 * sealed to restricted roles), comments, status changes, assignments, closes and key rotations.
 * Deterministic in shape (seeded PRNG), fresh in keys on every call.
 */
export interface Backlog {
  readonly log: PursuanceLog;
  readonly id: string;
  /** Every event's bytes, genesis first, in an order a fresh log can take them in. */
  readonly bytes: Uint8Array[];
  readonly ids: string[];
  /** The members' identities, founder first (to build their decrypted views). */
  readonly members: Identity[];
}

const ALL_ROLES = ['everyone', 'organizers', 'editors', 'legal', 'comms', 'finance'] as const;

/** The permissive rules the backlog uses: every role may do everything to any task and rotate keys. */
export function backlogRules(ROLES: readonly string[] = ALL_ROLES): Rules {
  const all = { subject: 'task', audience: '*' } as const;
  return {
    format: 'pursuance-rules/1',
    title: 'backlog',
    description: '',
    roles: Object.fromEntries(
      ROLES.map((r, i) => [
        r,
        {
          title: r,
          description: '',
          rank: 100 + i,
          history: 'all' as const,
          can: [
            ...(['create', 'edit', 'assign', 'comment', 'transition', 'close'] as const).map((action) => ({ ...all, action })),
            { subject: 'keys' as const, action: 'rotate' as const, roles: '*' as const },
          ],
          cannot: [],
        },
      ]),
    ),
    workflow: {
      states: ['open', 'doing', 'done'],
      initial: 'open',
      closed: ['done'],
      transitions: [
        { from: 'open', to: 'doing' },
        { from: 'doing', to: 'open' },
      ],
    },
    succession: { quorum: 1, inactivityDays: null },
  };
}

function prng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

export interface BacklogOptions {
  readonly members?: number;
  readonly rotations?: number;
  readonly seed?: number;
  /** How many roles (2–6): 'everyone' plus restricted ones. */
  readonly roles?: number;
  /** Longest task body, in characters. */
  readonly bodyLength?: number;
  /**
   * Members added with every role after the others, who never write: a reader's own node, or
   * a member who went offline early and whose next event races the whole history.
   */
  readonly quiet?: readonly Identity[];
}

export function generateBacklog(target: number, options: BacklogOptions = {}): Backlog {
  // One chunk (the whole history), kept by the log the generator returns.
  const chunks = backlogChunks(target, options);
  let next = chunks.next();
  while (!next.done) next = chunks.next();
  const { log, members } = next.value;
  const order = log.order();
  return { log, id: log.id, bytes: order.map((e) => log.event(e)!.bytes), ids: [...order], members };
}

/** What backlogChunks leaves: the last log (from a base after the first chunk), the members, the task count. */
export interface WrittenBacklog {
  readonly log: PursuanceLog;
  readonly members: Identity[];
  readonly tasks: number;
}

/**
 * The backlog generateBacklog makes, yielded in chunks of `chunk` events (genesis first, each
 * chunk in an order a fresh log can take them in) instead of kept: after each chunk
 * the authors move on to a log that starts from its base at the heads (log.baseAtHeads), so the
 * generator holds one chunk of history, not all of it: its memory follows the chunk, not the target.
 */
export function* backlogChunks(target: number, options: BacklogOptions = {}, chunk = Infinity): Generator<Uint8Array[], WrittenBacklog> {
  const ROLES = ALL_ROLES.slice(0, Math.min(Math.max(options.roles ?? 4, 2), ALL_ROLES.length));
  const memberCount = options.members ?? 12;
  const maxRotations = options.rotations ?? 3;
  let t = 1_800_000_000_000;
  const now = (): number => (t += 1000);
  const rand = prng(options.seed ?? 7);
  const founderId = Identity.generate();
  let founder = PursuanceAuthor.create(founderId, { name: 'backlog', rules: backlogRules(ROLES) }, now);
  let log = founder.log;
  const ids: Identity[] = [founderId];
  for (let i = 1; i < memberCount; i++) {
    const id = Identity.generate();
    founder.addMember(id.publicKey, { roles: ['everyone', ...ROLES.slice(1).filter(() => rand() < 0.35)] });
    ids.push(id);
  }
  for (const id of options.quiet ?? []) founder.addMember(id.publicKey, { roles: ROLES });
  let authors = ids.map((id) => (id === founderId ? founder : new PursuanceAuthor(id, log, undefined, now)));
  const tasks: EventId[] = [];
  let rotations = 0;
  // Events before the current log's base: handed over already.
  let handed = 0;
  let written = 0;
  const size = (): number => handed + log.size - (log.base ? 1 : 0);
  const flush = (): Uint8Array[] => {
    const fresh = [...log.events()].filter((e) => !log.base || e.id !== log.genesis.id).map((e) => e.bytes);
    const out = fresh.slice(written);
    written = fresh.length;
    return out;
  };
  while (size() < target) {
    if (log.size - (log.base ? 1 : 0) - written >= chunk) {
      yield flush();
      handed = size();
      written = 0;
      const snapshot = makeSnapshot(log.id, log.baseAtHeads());
      log = new PursuanceLog(log.genesis.bytes, { snapshot });
      authors = authors.map((a) => new PursuanceAuthor(a.identity, log, a.keyring, now));
      founder = authors[0]!;
    }
    const a = authors[Math.floor(rand() * authors.length)]!;
    const roles = [...(log.state().members.get(a.identity.onion)?.roles ?? [])];
    const r = rand();
    if (rotations < maxRotations && size() > (rotations + 1) * (target / (maxRotations + 1))) {
      founder.rotateKeys([ROLES[rotations % ROLES.length]!]);
      for (const x of authors) x.refreshKeys();
      rotations++;
    } else if (r < 0.1 || tasks.length < 10) {
      const restricted = roles.filter((x) => x !== 'everyone');
      const audience = rand() < 0.25 && restricted.length ? [restricted[Math.floor(rand() * restricted.length)]!] : ['everyone'];
      tasks.push(a.createTask({ audience, title: `task ${tasks.length}`, body: 'x'.repeat(Math.floor(rand() * (options.bodyLength ?? 200))) }).id);
    } else {
      const task = tasks[Math.floor(rand() * tasks.length)]!;
      const state = log.state().tasks.get(task)!;
      if (!state.audience.every((role) => roles.includes(role))) continue;
      if (state.closed) a.reopenTask(task);
      else if (r < 0.7) a.comment(task, `comment ${size()}`);
      else if (r < 0.85) {
        // The author refuses a status the workflow does not allow from here (e.g. open → open).
        try {
          a.setStatus(task, rand() < 0.5 ? 'doing' : 'open');
        } catch (err) {
          if (!(err instanceof ActionNotAllowedError)) throw err;
        }
      } else if (r < 0.95) a.assignTask(task, { add: { members: [a.identity.onion] } });
      else a.closeTask(task);
    }
  }
  const last = flush();
  if (last.length > 0) yield last;
  return { log, members: ids, tasks: tasks.length };
}
