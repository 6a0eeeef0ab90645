import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onionFromPublicKey, type OnionName } from '@pursuance/crypto';
import { PursuanceLog, type EventId } from '@pursuance/pursuance';
import type { HttpResult } from '../../apps/node/test/support/http.js';
import { NodeCluster, type NodeHandle } from '../support/node-cluster.js';
import { startRelayProcess, type Spawned } from '../support/processes.js';

/**
 * API-level convergence: one relay daemon and four `pursuance node start` processes (a founder
 * and three members of a newsroom pursuance) take a seeded random schedule of concurrent
 * commands — tasks, role changes racing the affected member's actions, a member removal
 * racing that member's actions, key rotations racing task creation, noise — while non-founder
 * nodes are stopped with SIGTERM and SIGKILL and restarted on their data dirs. Commands may
 * be refused (4xx with a reason); a 5xx, a crash or a hang is a failure. Afterwards every node
 * that is still a member must reach the same state hash with nothing pending, every event a
 * node acknowledged (2xx naming the event) must be in every member's log — for the removed
 * member, what it acknowledged before the removal round — and the removed member must hold
 * no key of an epoch introduced after its removal nor read a task created after it.
 *
 * Replay a run with CONVERGENCE_SEED=<seed> (the seed is printed first; CONVERGENCE_VERBOSE=1
 * prints the per-node report and transcript even when the run passes). Timing between the
 * processes still varies, so a replay repeats the schedule, not every interleaving.
 */

const SEED = process.env['CONVERGENCE_SEED'] !== undefined ? Number(process.env['CONVERGENCE_SEED']) : Math.floor(Math.random() * 2 ** 31);
/** The main rounds stop once this many commands were sent (then the tail rounds and a closing rotation). */
const MAX_COMMANDS = 48;
/** Quiescence limit: generous for a loaded 2-core machine. */
const QUIESCENCE_MS = 120_000;
/** Soft waits inside the schedule (to let an actor see a race before acting again); never a failure. */
const SOFT_WAIT_MS = 10_000;

const ROLES = ['editor', 'legal', 'reporter', 'desk', 'tipline-1', 'tipline-2'] as const;
/** What an editor may assign and remove in the newsroom template. */
const EDITOR_ROLES = ['desk', 'reporter', 'legal', 'tipline-1', 'tipline-2'] as const;
const STATES = ['pitch', 'reporting', 'editing', 'legal-review', 'published', 'spiked', 'no-such-state'] as const;
/** Roles at the start (the founder holds every role from the genesis). */
const INITIAL_ROLES: Record<string, string[]> = {
  founder: ['desk', 'editor', 'legal', 'reporter', 'tipline-1', 'tipline-2', 'tipline-3'],
  alice: ['editor', 'desk'],
  bob: ['reporter', 'desk'],
  carol: ['legal', 'desk'],
};

type RoundKind = 'free' | 'roleRace' | 'rotationRace' | 'noise';
interface RoundSpec {
  readonly kind: RoundKind;
  readonly draws: readonly number[];
}
interface Schedule {
  readonly rounds: readonly RoundSpec[];
  /** Rounds run after every stopped node is back, so restarted nodes act again. */
  readonly tail: readonly RoundSpec[];
  readonly removalAt: number;
  readonly terms: readonly number[];
  readonly kills: readonly number[];
}

const ROUNDS = 24;
const roundArb: fc.Arbitrary<RoundSpec> = fc.record({
  kind: fc.integer({ min: 0, max: 99 }).map((n): RoundKind => (n < 40 ? 'free' : n < 70 ? 'roleRace' : n < 90 ? 'rotationRace' : 'noise')),
  draws: fc.array(fc.nat(), { minLength: 64, maxLength: 64 }),
});
const scheduleArb: fc.Arbitrary<Schedule> = fc.record({
  rounds: fc.array(roundArb, { minLength: ROUNDS, maxLength: ROUNDS }),
  tail: fc.array(roundArb, { minLength: 3, maxLength: 3 }),
  removalAt: fc.integer({ min: 5, max: 10 }),
  terms: fc.uniqueArray(fc.integer({ min: 2, max: 12 }), { minLength: 1, maxLength: 2 }),
  kills: fc.uniqueArray(fc.integer({ min: 2, max: 12 }), { minLength: 1, maxLength: 2 }),
});

/** Choices for one round, read in order from its pre-drawn numbers. */
class Choices {
  #i = 0;
  public constructor(private readonly draws: readonly number[]) {}
  public int(n: number): number {
    const d = this.draws[this.#i++ % this.draws.length]!;
    return n <= 1 ? 0 : d % n;
  }
  public pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  public chance(percent: number): boolean {
    return this.int(100) < percent;
  }
}

interface Ack {
  readonly id: string;
  readonly kind: string;
  readonly node: string;
  readonly round: number;
}
interface FeedItem {
  readonly id: string;
  readonly kind: string;
  readonly author: string;
  readonly accepted: boolean;
  readonly rejection: { code: string; reason: string } | null;
}
interface Summary {
  readonly stateHash: string;
  readonly pending: number;
  readonly events: number;
  readonly rejected: number;
  readonly myRoles: readonly string[];
  readonly members: number;
}
interface NodeSnapshot {
  readonly node: NodeHandle;
  readonly summary: Summary | null;
  readonly feed: FeedItem[];
  readonly sync: Record<string, unknown> | null;
  readonly error: string | null;
}

let root: string;
let relay: Spawned | undefined;
let cluster: NodeCluster;
let pid: string;
let founder: NodeHandle;

const acks: Ack[] = [];
const transcript: string[] = [];
/** 5xx answers, requests that got no answer, and stops that did not go as asked: each fails the test. */
const failures: string[] = [];
const refusals = new Map<string, number>();
const tasks: string[] = [];
/** Nodes being stopped: a request cut off by the stop is not a failure (and not an acknowledgement). */
const cutting = new Set<NodeHandle>();
const restarts: Promise<void>[] = [];
/** Removed members, with the round of their removal. */
const removed = new Map<NodeHandle, number>();
/** Restarts done, per signal. */
const restarted = { SIGTERM: 0, SIGKILL: 0 };
let commands = 0;

const short = (s: string | null | undefined) => (s ? s.slice(0, 8) : '-');
const nameOf = (onion: string) => cluster.nodes.find((n) => n.onion === onion)?.name ?? short(onion);
const p = (rest = '') => `/api/pursuances/${pid}${rest}`;

/** Send one command; records the outcome, the acknowledgement (a 2xx naming an event id) and any failure. */
async function send(round: number, node: NodeHandle, label: string, method: string, path: string, body?: unknown): Promise<HttpResult | null> {
  const tag = `r${String(round).padStart(2, '0')} ${node.name.padEnd(7)} ${label}`;
  if (!node.up) {
    transcript.push(`${tag} → skipped (node down)`);
    return null;
  }
  commands++;
  let r: HttpResult;
  try {
    r = await cluster.api(node, method, path, body);
  } catch (err) {
    if (cutting.has(node)) transcript.push(`${tag} → cut off by the stop`);
    else {
      failures.push(`${tag}: ${(err as Error).message}`);
      transcript.push(`${tag} → ERROR ${(err as Error).message}`);
    }
    return null;
  }
  const b = (r.body ?? {}) as { id?: unknown; kind?: unknown; code?: unknown; message?: unknown };
  if (r.status >= 500) {
    failures.push(`${tag}: ${r.status} ${r.text.slice(0, 300)}`);
    transcript.push(`${tag} → ${r.status} ${r.text.slice(0, 120)}`);
  } else if (r.status >= 400) {
    const key = `${r.status} ${String(b.code)}`;
    refusals.set(key, (refusals.get(key) ?? 0) + 1);
    transcript.push(`${tag} → ${key}: ${String(b.message).slice(0, 140)}`);
  } else if (method !== 'GET' && r.status < 300 && typeof b.id === 'string' && /^[0-9a-f]{64}$/.test(b.id)) {
    const kind = typeof b.kind === 'string' ? b.kind : 'task.create';
    acks.push({ id: b.id, kind, node: node.name, round });
    if (kind === 'task.create') tasks.push(b.id);
    transcript.push(`${tag} → ${r.status} ${kind} ${short(b.id)}`);
  } else {
    transcript.push(`${tag} → ${r.status}`);
  }
  return r;
}

// --- commands -----------------------------------------------------------------------------

function audienceFor(c: Choices): string[] {
  const roll = c.int(100);
  if (roll < 60) return ['desk'];
  if (roll < 75) return ['tipline-1'];
  if (roll < 85) return ['editor'];
  if (roll < 95) return ['legal'];
  return ['desk', 'legal'];
}

const createTask = (round: number, c: Choices, n: NodeHandle, audience = audienceFor(c)) =>
  send(round, n, `task.create [${audience.join(',')}]`, 'POST', p('/tasks'), {
    audience,
    title: `r${round} ${n.name} ${c.int(1000)}`,
    body: 'convergence run',
  });

function taskChange(round: number, c: Choices, n: NodeHandle): Promise<unknown> {
  if (tasks.length === 0) return createTask(round, c, n);
  const t = c.pick(tasks);
  const roll = c.int(100);
  let change: Record<string, unknown>;
  if (roll < 20) change = { op: 'edit', title: `edited r${round} by ${n.name}`, labels: [c.pick(['urgent', 'legal', 'photo'])] };
  else if (roll < 50) change = { op: 'comment', body: `r${round} ${n.name} says ${c.int(1000)}` };
  else if (roll < 75) change = { op: 'status', to: c.pick(STATES) };
  else if (roll < 85) change = { op: 'close', to: c.pick(['published', 'spiked']) };
  else if (roll < 90) change = { op: 'reopen' };
  else change = { op: 'assign', add: { members: [c.pick(cluster.nodes).onion] } };
  return send(round, n, `task.${String(change['op'])} ${short(t)}`, 'POST', p(`/tasks/${t}/changes`), change);
}

const assignRole = (round: number, n: NodeHandle, target: NodeHandle, role: string) =>
  send(round, n, `role.assign ${role} → ${target.name}`, 'POST', p(`/members/${target.onion}/roles`), { role });
const removeRole = (round: number, n: NodeHandle, target: NodeHandle, role: string) =>
  send(round, n, `role.remove ${role} ← ${target.name}`, 'DELETE', p(`/members/${target.onion}/roles/${role}`));
const rotate = (round: number, n: NodeHandle, roles: string[]) => send(round, n, `keys.rotate [${roles.join(',')}]`, 'POST', p('/keys/rotate'), { roles });

function noise(round: number, c: Choices, n: NodeHandle): Promise<unknown> {
  const unknownTask = '0'.repeat(63) + String(c.int(10));
  const choices: [string, string, string, unknown?][] = [
    ['GET tasks', 'GET', p('/tasks')],
    ['GET feed', 'GET', p('/feed?limit=50')],
    ['GET roles', 'GET', p('/roles')],
    ['GET sync', 'GET', p('/sync')],
    ['GET members', 'GET', p('/members')],
    ['GET rules', 'GET', p('/rules')],
    ['comment on an unknown task', 'POST', p(`/tasks/${unknownTask}/changes`), { op: 'comment', body: 'nobody home' }],
    ['task.create without audience', 'POST', p('/tasks'), { title: 'no audience' }],
    ['keys.share', 'POST', p('/keys/share')],
  ];
  const [label, method, path, body] = c.pick(choices);
  return send(round, n, label, method, path, body);
}

/**
 * Change `target`'s roles: give back a role it started with if it lost one (so members keep
 * acting), otherwise sometimes give it another role and mostly take one away.
 */
function roleChange(round: number, c: Choices, n: NodeHandle, target: NodeHandle, view: Map<string, string[]>, allowed: readonly string[]): Promise<unknown> {
  const held = view.get(target.onion) ?? [];
  const lost = (INITIAL_ROLES[target.name] ?? []).filter((r) => !held.includes(r) && allowed.includes(r));
  if (lost.length > 0) return assignRole(round, n, target, c.pick(lost));
  const removable = held.filter((r) => allowed.includes(r));
  const assignable = allowed.filter((r) => !held.includes(r));
  if (removable.length > 0 && (assignable.length === 0 || c.chance(70))) return removeRole(round, n, target, c.pick(removable));
  return assignRole(round, n, target, c.pick(assignable));
}

/** What the founder's node says each member holds (the schedule's best guess; races make it stale). */
async function roster(): Promise<Map<string, string[]>> {
  const r = await cluster.api(founder, 'GET', p('/members'));
  const out = new Map<string, string[]>();
  if (r.status === 200) for (const m of r.body as { onion: string; roles: string[] }[]) out.set(m.onion, m.roles);
  return out;
}

function randomCommand(round: number, c: Choices, n: NodeHandle, view: Map<string, string[]>): Promise<unknown> {
  const roll = c.int(100);
  if (roll < 28) return createTask(round, c, n);
  if (roll < 66) return taskChange(round, c, n);
  if (roll < 76) return roleChange(round, c, n, c.pick(cluster.nodes.filter((x) => x !== n)), view, ROLES);
  if (roll < 82) return rotate(round, n, [c.pick(ROLES)]);
  return noise(round, c, n);
}

const upMembers = (view: Map<string, string[]>) => cluster.nodes.filter((n) => n.up && view.has(n.onion) && !cutting.has(n));
const admins = (view: Map<string, string[]>) => upMembers(view).filter((n) => n === founder || (view.get(n.onion) ?? []).includes('editor'));

/** Soft wait: until `node` has processed the given events (so its next action names them); never fails. */
async function letSee(node: NodeHandle, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await cluster.until(async () => {
    const feed = await cluster.api(node, 'GET', p('/feed?limit=5000'));
    const seen = new Set((feed.body as FeedItem[]).map((f) => f.id));
    return ids.every((id) => seen.has(id));
  }, SOFT_WAIT_MS);
}

const acksOf = (round: number, nodes: readonly NodeHandle[]) => acks.filter((a) => a.round === round && nodes.some((n) => n.name === a.node)).map((a) => a.id);

/** An admin changes a member's roles while that member acts; then the admin acts again, having seen the race. */
async function roleRace(round: number, c: Choices, view: Map<string, string[]>): Promise<void> {
  const admin = c.pick(admins(view));
  const targets = upMembers(view).filter((n) => n !== admin);
  if (!admin || targets.length === 0) return void (await randomCommand(round, c, founder, view));
  const target = c.pick(targets);
  const change = roleChange(round, c, admin, target, view, admin === founder ? ROLES : EDITOR_ROLES);
  const own = [c.chance(60) ? createTask(round, c, target, ['desk']) : taskChange(round, c, target)];
  if (c.chance(50)) own.push(taskChange(round, c, target));
  await Promise.all([change, ...own]);
  await letSee(admin, acksOf(round, [target]));
  await (c.chance(50) ? createTask(round, c, admin) : taskChange(round, c, admin));
}

/** An admin rotates a role while others create tasks for it; then the admin creates one too. */
async function rotationRace(round: number, c: Choices, view: Map<string, string[]>): Promise<void> {
  const admin = c.pick(admins(view));
  if (!admin) return void (await randomCommand(round, c, founder, view));
  const role = c.pick(['desk', 'desk', 'tipline-1', 'editor', 'legal']);
  const others = upMembers(view).filter((n) => n !== admin);
  const creators = others.filter(() => c.chance(70));
  await Promise.all([rotate(round, admin, c.chance(25) ? [role, c.pick(ROLES)] : [role]), ...creators.map((n) => createTask(round, c, n, [role]))]);
  await letSee(admin, acksOf(round, creators));
  await createTask(round, c, admin, [role]);
}

/** The founder removes a member while that member acts and an editor changes its roles. */
async function removalRace(round: number, c: Choices, view: Map<string, string[]>): Promise<boolean> {
  const candidates = upMembers(view).filter((n) => n !== founder);
  if (candidates.length === 0) return false;
  const target = c.pick(candidates);
  const editor = admins(view).find((n) => n !== founder && n !== target);
  const racing: Promise<unknown>[] = [createTask(round, c, target, ['desk']), taskChange(round, c, target)];
  if (editor) racing.push(c.chance(50) ? removeRole(round, editor, target, 'desk') : taskChange(round, c, editor));
  const [removal] = await Promise.all([
    send(round, founder, `member.remove ${target.name}`, 'DELETE', p(`/members/${target.onion}`), { reason: 'convergence run' }),
    ...racing,
  ]);
  await letSee(founder, acksOf(round, [target]));
  await createTask(round, c, founder, ['desk']);
  if (!removal || removal.status >= 300) return false;
  removed.set(target, round);
  return true;
}

/**
 * Stop a member's node with `signal` while commands to it are in flight (as soon as the first
 * of three is answered), and restart it on its data dir in the background (the schedule goes
 * on meanwhile). Waiting for one answer also keeps the signal out of the instant between the
 * CLI printing its token and installing its signal handlers, where SIGTERM kills it outright.
 */
async function stopMidFlight(round: number, c: Choices, view: Map<string, string[]>, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  const victims = upMembers(view).filter((n) => n !== founder && !removed.has(n));
  if (victims.length === 0) {
    transcript.push(`r${round} no node to stop with ${signal}`);
    return;
  }
  const victim = c.pick(victims);
  const inFlight = Array.from({ length: 3 }, () => randomCommand(round, c, victim, view));
  cutting.add(victim);
  await Promise.race(inFlight);
  transcript.push(`r${String(round).padStart(2, '0')} ${victim.name.padEnd(7)} ${signal}`);
  const code = await cluster.stop(victim, signal);
  if (signal === 'SIGTERM' && code !== 0) failures.push(`r${round} ${victim.name}: SIGTERM ended it with ${String(code)}, not exit code 0`);
  if (signal === 'SIGKILL' && code !== null) failures.push(`r${round} ${victim.name}: SIGKILL ended it with exit code ${String(code)}`);
  await Promise.all(inFlight);
  restarts.push(
    cluster.restart(victim).then(
      () => {
        cutting.delete(victim);
        restarted[signal]++;
        transcript.push(`r${String(round).padStart(2, '0')} ${victim.name.padEnd(7)} restarted after ${signal}`);
      },
      (err: Error) => {
        failures.push(`${victim.name} did not restart after ${signal}: ${err.message}`);
      },
    ),
  );
}

// --- observation ----------------------------------------------------------------------------

async function snapshotOf(node: NodeHandle): Promise<NodeSnapshot> {
  try {
    const [s, f, y] = await Promise.all([cluster.api(node, 'GET', p()), cluster.api(node, 'GET', p('/feed?limit=5000')), cluster.api(node, 'GET', p('/sync'))]);
    if (s.status !== 200 || f.status !== 200) return { node, summary: null, feed: [], sync: null, error: `${s.status} ${s.text.slice(0, 200)} / ${f.status}` };
    return { node, summary: s.body as Summary, feed: f.body as FeedItem[], sync: y.status === 200 ? (y.body as Record<string, unknown>) : null, error: null };
  } catch (err) {
    return { node, summary: null, feed: [], sync: null, error: (err as Error).message };
  }
}

interface Verdict {
  readonly snaps: NodeSnapshot[];
  readonly members: NodeSnapshot[];
  readonly hashes: Set<string>;
  readonly pending: { node: string; pending: number }[];
  /** Per member node: acknowledged events it has not processed (see `owed` in verdict()). */
  readonly missing: { node: string; acks: Ack[] }[];
  readonly converged: boolean;
}

async function verdict(): Promise<Verdict> {
  const snaps = await Promise.all(cluster.nodes.map(snapshotOf));
  const founderMembers = await roster();
  const members = snaps.filter((s) => founderMembers.has(s.node.onion));
  const hashes = new Set(members.map((s) => s.summary?.stateHash ?? `unreadable: ${s.error}`));
  const pending = members.map((s) => ({ node: s.node.name, pending: s.summary?.pending ?? -1 })).filter((x) => x.pending !== 0);
  const memberNames = new Set(members.map((s) => s.node.name));
  // A removed member's writes are owed from before the removal round only: what it wrote while
  // being removed may lose to the removal (and, with the group re-keyed, never reach anyone).
  const removedAt = new Map([...removed].map(([n, round]) => [n.name, round]));
  const owed = acks.filter((a) => memberNames.has(a.node) || a.round < (removedAt.get(a.node) ?? 0));
  const missing = members
    .map((s) => {
      const seen = new Set(s.feed.map((f) => f.id));
      return { node: s.node.name, acks: owed.filter((a) => !seen.has(a.id)) };
    })
    .filter((m) => m.acks.length > 0);
  const allUp = cluster.nodes.every((n) => n.up);
  return { snaps, members, hashes, pending, missing, converged: allUp && hashes.size === 1 && pending.length === 0 && missing.length === 0 };
}

function diagnostics(v: Verdict, notes: readonly string[]): string {
  const out: string[] = [`seed ${SEED} (replay: CONVERGENCE_SEED=${SEED}); data dir ${root}`, ...notes];
  const reference = v.members.find((s) => s.node === founder) ?? v.members[0];
  const refDecisions = new Map((reference?.feed ?? []).map((f) => [f.id, f]));
  const union = new Map<string, FeedItem>();
  for (const s of v.members) for (const f of s.feed) union.set(f.id, f);
  const ackBy = new Map(acks.map((a) => [a.id, a]));
  for (const s of v.snaps) {
    const member = v.members.includes(s);
    const sum = s.summary;
    const sync = s.sync as { relaySynced?: boolean; gaps?: unknown[]; withheld?: unknown[]; groupMessages?: number } | null;
    out.push(
      `\n${s.node.name} ${short(s.node.onion)} ${member ? 'member' : 'NOT A MEMBER'} ${s.node.up ? 'up' : 'DOWN'} ` +
        (sum
          ? `hash ${sum.stateHash.slice(0, 16)} events ${sum.events} pending ${sum.pending} rejected ${sum.rejected} roles [${sum.myRoles.join(',')}]`
          : `unreadable: ${s.error}`) +
        (sync ? ` | relaySynced ${sync.relaySynced} groupMessages ${sync.groupMessages} gaps ${sync.gaps?.length} withheld ${sync.withheld?.length}` : ''),
    );
    const seen = new Set(s.feed.map((f) => f.id));
    const lacking = [...union.values()].filter((f) => !seen.has(f.id));
    if (lacking.length > 0) {
      out.push(`  not processed here but by another member (pending or never received): ${lacking.length}`);
      for (const f of lacking) out.push(`    ${short(f.id)} ${f.kind} by ${nameOf(f.author)}${ackBy.has(f.id) ? ` (acked r${ackBy.get(f.id)!.round})` : ''}`);
    }
    const missingAcks = acks.filter((a) => !seen.has(a.id));
    if (missingAcks.length > 0) {
      out.push(`  acknowledged somewhere but not processed here: ${missingAcks.length}`);
      for (const a of missingAcks) out.push(`    ${short(a.id)} ${a.kind} acked by ${a.node} in r${a.round}`);
    }
    const unacked = s.feed.filter((f) => f.author === s.node.onion && f.id !== pid && !ackBy.has(f.id));
    if (unacked.length > 0) {
      out.push(`  own events no command acknowledged (refused, or answered after a stop cut the request): ${unacked.length}`);
      for (const f of unacked)
        out.push(`    ${short(f.id)} ${f.kind} ${f.accepted ? 'accepted' : `rejected ${f.rejection?.code}: ${f.rejection?.reason.slice(0, 160)}`}`);
    }
    const ownRejected = s.feed.filter((f) => f.author === s.node.onion && !f.accepted);
    if (ownRejected.length > 0) {
      out.push(`  own events rejected: ${ownRejected.length}`);
      for (const f of ownRejected)
        out.push(
          `    ${short(f.id)} ${f.kind}${ackBy.has(f.id) ? ` (acked r${ackBy.get(f.id)!.round})` : ''}: ${f.rejection?.code} ${f.rejection?.reason.slice(0, 160)}`,
        );
    }
    if (member && s !== reference) {
      const differing = s.feed.filter((f) => refDecisions.has(f.id) && refDecisions.get(f.id)!.accepted !== f.accepted);
      for (const f of differing) {
        const r = refDecisions.get(f.id)!;
        out.push(
          `  decided differently from ${reference!.node.name}: ${short(f.id)} ${f.kind} by ${nameOf(f.author)}: here ${f.accepted ? 'accepted' : f.rejection?.code}, there ${r.accepted ? 'accepted' : r.rejection?.code}`,
        );
      }
    }
  }
  out.push('\nstderr (last lines per node):');
  for (const n of cluster.nodes) {
    const lines = (n.earlierStderr + n.proc.stderr()).split('\n').filter((l) => l.trim() !== '' && !l.startsWith('replay '));
    if (lines.length > 0) out.push(`  ${n.name}:`, ...lines.slice(-15).map((l) => `    ${l}`));
  }
  out.push(`\nrefusals: ${[...refusals].map(([k, v]) => `${k}×${v}`).join(', ')}`, '\ntranscript:', ...transcript.map((l) => `  ${l}`));
  return out.join('\n');
}

// --- the run ---------------------------------------------------------------------------------

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'convergence-'));
  const registry = join(root, 'registry');
  let bundle: string;
  ({ relay, bundle } = await startRelayProcess(join(root, 'relay'), registry));
  cluster = new NodeCluster(root, registry);
  founder = await cluster.start('founder');
  const members = await Promise.all(['alice', 'bob', 'carol'].map((name) => cluster.start(name)));

  const created = await cluster.api(founder, 'POST', '/api/pursuances', { name: 'Convergence', template: 'newsroom' });
  expect(created.status).toBe(201);
  pid = (created.body as { id: string }).id;
  expect((await cluster.api(founder, 'POST', p('/relay/attach'), { bundle })).status).toBe(200);
  for (const m of members) {
    const added = await cluster.api(founder, 'POST', p('/members'), { onion: m.onion, name: m.name, roles: INITIAL_ROLES[m.name] });
    expect(added.status, added.text).toBe(201);
    acks.push({ id: (added.body as { id: string }).id, kind: 'member.add', node: 'founder', round: 0 });
  }
  const { invite } = (await cluster.api(founder, 'GET', p('/invite'))).body as { invite: string };
  for (const m of members) expect((await cluster.api(m, 'POST', '/api/invites/accept', { invite })).status).toBe(200);
  for (const title of ['Opening story', 'Second story']) {
    const t = await cluster.api(founder, 'POST', p('/tasks'), { audience: ['desk'], title });
    expect(t.status).toBe(201);
    tasks.push((t.body as { id: string }).id);
    acks.push({ id: (t.body as { id: string }).id, kind: 'task.create', node: 'founder', round: 0 });
  }
  const hashOf = async (n: NodeHandle) => ((await cluster.api(n, 'GET', p())).body as { stateHash?: string }).stateHash;
  const target = await hashOf(founder);
  const joined = await cluster.until(async () => (await Promise.all(members.map(hashOf))).every((h) => h === target), 90_000);
  expect(joined, 'the three members join through the invite and catch up with the founder').toBe(true);
}, 180_000);

afterAll(async () => {
  await cluster?.closeAll();
  await relay?.stop();
  if (root && process.env['CONVERGENCE_KEEP'] === undefined) await rm(root, { recursive: true, force: true });
});

describe('four node processes and a relay under a random concurrent schedule with restarts', () => {
  it(
    'converge: members agree on one state hash with nothing pending, no acknowledged write is lost, the removed member gets no later key',
    { timeout: 300_000 },
    async () => {
      const [schedule] = fc.sample(scheduleArb, { seed: SEED, numRuns: 1 });
      console.log(`convergence seed ${SEED} (replay: CONVERGENCE_SEED=${SEED} npx vitest run test/system/convergence.test.ts)`);

      let removalDue = false;
      let removalTries = 0;
      const stopsDue: ('SIGTERM' | 'SIGKILL')[] = [];
      const play = async (round: number, spec: RoundSpec, mayStop: boolean): Promise<void> => {
        const c = new Choices(spec.draws);
        if (mayStop && stopsDue.length > 0) await Promise.all(restarts); // one stop at a time: earlier victims are back first
        const view = await roster();
        const work: Promise<unknown>[] = [];
        if (removalDue && removalTries < 3) {
          // The removal round races its own target's actions; stops wait for the next round.
          removalTries++;
          work.push(removalRace(round, c, view).then((ok) => (removalDue = !ok)));
        } else {
          if (spec.kind === 'roleRace') work.push(roleRace(round, c, view));
          else if (spec.kind === 'rotationRace') work.push(rotationRace(round, c, view));
          else {
            const n = spec.kind === 'noise' ? 2 : 2 + c.int(3);
            for (let i = 0; i < n; i++) {
              const actor = c.pick(cluster.nodes.filter((x) => x.up));
              work.push(spec.kind === 'noise' ? noise(round, c, actor) : randomCommand(round, c, actor, view));
            }
          }
          // Each stop picks its victim synchronously (and marks it as being stopped) before the next one picks.
          if (mayStop) for (const signal of stopsDue.splice(0)) work.push(stopMidFlight(round, c, view, signal));
        }
        await Promise.all(work);
        // Half the rounds end once every member has processed what was acknowledged in them, so
        // the next round builds on them; the others go straight on, racing what is in flight.
        if (c.chance(50)) await letSeeAll(round);
      };
      // Every scheduled stop and the removal happen, however many commands that takes.
      const lastPlanned = Math.max(schedule!.removalAt, ...schedule!.kills, ...schedule!.terms);
      let round = 1;
      for (; round <= schedule!.rounds.length && (commands < MAX_COMMANDS || round <= lastPlanned || removalDue || stopsDue.length > 0); round++) {
        if (round === schedule!.removalAt) removalDue = true;
        for (const signal of ['SIGKILL', 'SIGTERM'] as const)
          if ((signal === 'SIGKILL' ? schedule!.kills : schedule!.terms).includes(round)) stopsDue.push(signal);
        await play(round, schedule!.rounds[round - 1]!, true);
      }
      await Promise.all(restarts);
      for (const spec of schedule!.tail) await play(round++, spec, false);
      expect(restarted, `nodes were stopped and restarted mid-schedule; transcript:\n${transcript.join('\n')}`).toEqual({
        SIGTERM: schedule!.terms.length,
        SIGKILL: schedule!.kills.length,
      });
      expect(removed.size, `the founder's removal of a member was acknowledged (${removalTries} tries); transcript:\n${transcript.join('\n')}`).toBe(1);

      // After the removal: a fresh key for the desk and a desk task, which the removed member must not read.
      const last = round;
      const endChoices = new Choices([7, 11, 13, 17]);
      await rotate(last, founder, ['desk']);
      await createTask(last, endChoices, founder, ['desk']);

      const converged = await cluster.until(async () => (await verdict()).converged, QUIESCENCE_MS);
      const v = await verdict();
      const report = diagnostics(v, [
        converged ? 'members converged' : `NOT CONVERGED within ${QUIESCENCE_MS / 1000} s`,
        `${commands} commands, ${acks.length} acknowledged, ${failures.length} failures, ${cluster.crashes.length} crashes`,
        ...failures.map((f) => `failure: ${f}`),
        ...cluster.crashes.map((f) => `crash: ${f}`),
      ]);
      if (!converged || failures.length > 0 || cluster.crashes.length > 0 || process.env['CONVERGENCE_VERBOSE'] !== undefined) console.log(report);
      console.log(
        `convergence seed ${SEED}: ${commands} commands, ${acks.length} acknowledged, refusals ${[...refusals].map(([k, n]) => `${k}×${n}`).join(', ')}`,
      );

      expect(failures, 'no 5xx, no request left unanswered, stops end as asked').toEqual([]);
      expect(cluster.crashes, 'no node process exits on its own').toEqual([]);
      expect(v.members.map((s) => s.node.name).sort(), 'the members at the end').toEqual(
        cluster.nodes
          .filter((n) => !removed.has(n))
          .map((n) => n.name)
          .sort(),
      );
      expect([...v.hashes], 'every member reports the same state hash').toHaveLength(1);
      expect(v.pending, 'no member has pending events').toEqual([]);
      expect(
        v.missing.map((m) => ({ node: m.node, missing: m.acks.map((a) => `${a.kind} ${a.id} acked by ${a.node} in r${a.round}`) })),
        'every acknowledged event is in every member log',
      ).toEqual([]);

      // The founder's projection equals a fresh fold of exactly what it exports.
      const exported = ((await cluster.api(founder, 'GET', p('/events'))).body as { events: string[] }).events.map(
        (s) => new Uint8Array(Buffer.from(s, 'base64')),
      );
      const fold = new PursuanceLog(exported[0]!);
      fold.addAll(exported.slice(1));
      expect(fold.stateHash(), 'a fresh fold of the founder export').toBe([...v.hashes][0]);

      for (const gone of removed.keys()) await expectNoLaterKeys(fold, gone);
    },
  );
});

/** Wait (softly) until every member node has processed what members acknowledged in `round`. */
async function letSeeAll(round: number): Promise<void> {
  const view = await roster();
  const nodes = upMembers(view);
  const ids = acksOf(round, nodes);
  await Promise.all(nodes.map((n) => letSee(n, ids)));
}

/**
 * The removed member holds no key of an epoch introduced by its removal or after it (causally:
 * the removal and its descendants), neither in the public state's lockbox recipients nor in
 * what its own node reports, and its node reads no task created after the removal.
 */
async function expectNoLaterKeys(fold: PursuanceLog, gone: NodeHandle): Promise<void> {
  const removals = [...fold.events()].filter(
    (e) => e.header.kind === 'member.remove' && fold.isAccepted(e.id) && onionFromPublicKey((e.header.body as { member: Uint8Array }).member) === gone.onion,
  );
  expect(removals.length, `an accepted removal of ${gone.name}`).toBeGreaterThan(0);
  const children = new Map<EventId, EventId[]>();
  for (const e of fold.events()) for (const parent of e.parentIds) children.set(parent, [...(children.get(parent) ?? []), e.id]);
  const after = new Set<EventId>(removals.map((e) => e.id));
  for (const queue = [...after]; queue.length > 0;) {
    for (const child of children.get(queue.pop()!) ?? []) {
      if (after.has(child)) continue;
      after.add(child);
      queue.push(child);
    }
  }
  const later = [...fold.state().roles.values()].flatMap((r) => r.epochs.filter((e) => after.has(e.introducedBy)).map((e) => ({ role: r.id, epoch: e })));
  expect(later.length, 'epochs introduced by or after the removal').toBeGreaterThan(0);
  expect(
    later.filter((l) => l.epoch.recipients.has(gone.onion as OnionName)).map((l) => `${l.role} epoch ${l.epoch.epoch}`),
    `no lockbox for ${gone.name} in an epoch introduced after its removal`,
  ).toEqual([]);

  const laterKeyIds = new Set(later.map((l) => l.epoch.keyIdHex));
  const roles = (await cluster.api(gone, 'GET', p('/roles'))).body as { id: string; keyId: string | null; iHoldKey: boolean }[];
  expect(
    roles.filter((r) => r.keyId !== null && laterKeyIds.has(r.keyId) && r.iHoldKey).map((r) => r.id),
    `${gone.name}'s node holds no key introduced after its removal`,
  ).toEqual([]);
  const theirTasks = (await cluster.api(gone, 'GET', p('/tasks'))).body as { id: string; readable: boolean; title: string | null }[];
  expect(
    theirTasks.filter((t) => after.has(t.id as EventId) && (t.readable || t.title !== null)).map((t) => t.id),
    `${gone.name}'s node reads no task created after its removal`,
  ).toEqual([]);
}
