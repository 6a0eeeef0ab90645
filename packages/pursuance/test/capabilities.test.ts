import { fromHex, Identity, type CanonicalValue } from '@pursuance/crypto';
import { describe, expect, it } from 'vitest';
import {
  ActionNotAllowedError,
  MAX_RELAY_MIRRORS,
  PursuanceAuthor,
  PursuanceLog,
  RejectionCode,
  RulesSchema,
  signProfile,
  type LinkOffer,
  type EventId,
  type Rules,
  type SignedEvent,
} from '../src/index.js';
import { makeRotation, newRoleKey } from '../src/keys.js';
import { sealSubmission } from '../src/submission.js';
import type { RulesInput } from '../src/rules/schema.js';
import type { TaskContentKind } from '../src/bodies.js';
import { expectRefused, forge, loadTemplate, sealAs, templateNames } from './support/harness.js';
import { clock } from './support/helpers.js';

/**
 * Table tests: every capability, allowed and denied, through the author API (refused before
 * signing, naming the deciding rule) and as a hand-forged event that skipped that check
 * (rejected by another member's fold with the same code, reason and rule).
 *
 * Role layout (cannot rules sit only on roles nobody holds beside a role they would bind):
 *   admin  + vault  A          staff  S, S2          guest  G, G2          no roles  N
 *   founders F, F2 hold every role. Succession: quorum 2, or a claim after 7 quiet days.
 */
const RULES_INPUT: RulesInput = {
  format: 'pursuance-rules/1',
  title: 'Capability table',
  roles: {
    admin: {
      title: 'Admin',
      rank: 900,
      history: 'all',
      can: [
        ...(['create', 'edit', 'assign', 'comment', 'transition', 'close', 'submit'] as const).map((action) => ({
          subject: 'task' as const,
          action,
          audience: '*' as const,
        })),
        { subject: 'role', action: 'assign', roles: ['staff', 'guest'] },
        { subject: 'role', action: 'remove', roles: ['staff', 'guest'] },
        { subject: 'keys', action: 'rotate', roles: '*' },
        { subject: 'member', action: 'invite' },
        { subject: 'member', action: 'expel' },
        { subject: 'rules', action: 'change' },
        { subject: 'relay', action: 'move' },
      ],
      cannot: [{ subject: 'task', action: 'close', audience: ['vault'], reason: 'vault tasks are closed by founders only' }],
    },
    vault: { title: 'Vault', rank: 50, history: 'all', description: 'An audience only: grants nothing.' },
    staff: {
      title: 'Staff',
      rank: 500,
      history: 'all',
      can: [
        ...(['create', 'edit', 'assign', 'comment', 'transition', 'close'] as const).map((action) => ({
          subject: 'task' as const,
          action,
          audience: ['staff'],
        })),
        { subject: 'role', action: 'assign', roles: ['guest'] },
        { subject: 'keys', action: 'rotate', roles: ['guest'] },
      ],
      cannot: [{ subject: 'role', action: 'remove', roles: '*', reason: 'staff never take roles away; ask an admin' }],
    },
    guest: {
      title: 'Guest',
      rank: 100,
      history: 'since-join',
      can: [
        { subject: 'task', action: 'create', audience: ['guest'] },
        { subject: 'task', action: 'comment', audience: ['guest'] },
        { subject: 'task', action: 'transition', audience: ['guest'] },
        // Write-only: guests send to the vault without holding (or reading) it.
        { subject: 'task', action: 'submit', audience: ['vault'] },
      ],
      cannot: [
        { subject: 'task', action: 'edit', audience: '*', reason: 'guests never edit tasks' },
        { subject: 'member', action: 'invite', reason: 'guests cannot invite: ask staff' },
      ],
    },
  },
  workflow: {
    states: ['todo', 'doing', 'done', 'dropped'],
    initial: 'todo',
    closed: ['done', 'dropped'],
    transitions: [
      { from: 'todo', to: 'doing' },
      { from: 'doing', to: 'todo' },
    ],
  },
  succession: { quorum: 2, inactivityDays: 7 },
};
const RULES: Rules = RulesSchema.parse(RULES_INPUT);
const DAY = 86_400_000;

const PEOPLE = ['F', 'F2', 'A', 'S', 'S2', 'G', 'G2', 'N', 'X'] as const;
type Name = (typeof PEOPLE)[number];
const ID = Object.fromEntries(PEOPLE.map((n) => [n, Identity.generate()])) as Record<Name, Identity>;
const TASKS = ['tAdmin', 'tVault', 'tStaff', 'tStaff2', 'tGuest', 'cStaff', 'cVault', 'cGuest'] as const;
type TaskName = (typeof TASKS)[number];

interface Fixture {
  readonly founder: PursuanceAuthor;
  readonly task: Record<TaskName, EventId>;
  /** The open nomination of S (endorsed by F only, so not yet effective). */
  readonly nomination: EventId;
  now(): number;
  advance(ms: number): void;
  /** `name`'s own client, holding every event so far. */
  author(name: Name): PursuanceAuthor;
}

/** Another pursuance's offer to link the fixture's, made now (offers expire within days). */
const peers = new WeakMap<Fixture, PursuanceAuthor>();
function peerOffer(fx: Fixture): LinkOffer {
  let peer = peers.get(fx);
  if (!peer) peers.set(fx, (peer = PursuanceAuthor.create(Identity.generate(), { name: 'Peer', rules: loadTemplate('activist-cell') }, () => fx.now())));
  return peer.linkOffer(fx.founder.log.id, 'organizer', 3, 'their inbox');
}

function fixture(): Fixture {
  let t = 1_800_000_000_000;
  const now = (): number => (t += 1000);
  const founder = PursuanceAuthor.create(ID.F, { name: 'Table', rules: RULES, cofounders: [ID.F2.publicKey], relay: 'relay-bundle-1' }, now);
  const roles: Partial<Record<Name, string[]>> = { A: ['admin', 'vault'], S: ['staff'], S2: ['staff'], G: ['guest'], G2: ['guest'], N: [] };
  for (const [name, r] of Object.entries(roles)) founder.addMember(ID[name as Name].publicKey, { name, roles: r });
  const audience: Record<TaskName, string> = {
    tAdmin: 'admin',
    tVault: 'vault',
    tStaff: 'staff',
    tStaff2: 'staff',
    tGuest: 'guest',
    cStaff: 'staff',
    cVault: 'vault',
    cGuest: 'guest',
  };
  const task = {} as Record<TaskName, EventId>;
  for (const name of TASKS) task[name] = founder.createTask({ audience: [audience[name]], title: name }).id;
  for (const name of ['cStaff', 'cVault', 'cGuest'] as const) founder.closeTask(task[name], 'done');
  const nomination = founder.nominateFounder(ID.S.onion).id;
  return {
    founder,
    task,
    nomination,
    now,
    advance: (ms) => void (t += ms),
    author(name) {
      if (name === 'F') return founder;
      const log = new PursuanceLog(founder.log.genesis.bytes);
      log.addAll([...founder.log.events()].map((e) => e.bytes));
      return new PursuanceAuthor(ID[name], log, undefined, now);
    },
  };
}

/** One action, expressed both through the author API and as the event a forger would sign. */
interface Op {
  /** What happens in the pursuance before the actor's client is started (e.g. time passing). */
  setup?(fx: Fixture): void;
  act(a: PursuanceAuthor, fx: Fixture): SignedEvent;
  forge(a: PursuanceAuthor, fx: Fixture): SignedEvent;
}

const emptyAssignees = { members: [], roles: [] };
const CONTENT: Record<TaskContentKind, CanonicalValue> = {
  'task.create': { title: 'new', body: '', assignees: emptyAssignees, labels: [], due: null },
  'task.edit': { title: 'renamed' },
  'task.assign': { add: emptyAssignees, remove: emptyAssignees },
  'task.status': { to: 'doing' },
  'task.close': { to: 'done' },
  'task.reopen': { to: 'todo' },
  'task.comment': { body: 'a comment' },
};

const op = {
  create: (audience: string): Op => ({
    act: (a) => a.createTask({ audience: [audience], title: 'new' }),
    forge: (a, fx) =>
      forge(
        a.identity,
        a.log,
        'task.create',
        { parent: null, sealed: sealAs(a.log, a.keyring, 'task.create', null, CONTENT['task.create'], [audience], a.identity) },
        [audience],
        { time: fx.now() },
      ),
  }),
  task: (kind: Exclude<TaskContentKind, 'task.create'>, name: TaskName): Op => ({
    act: (a, fx) => {
      const id = fx.task[name];
      switch (kind) {
        case 'task.edit':
          return a.editTask(id, { title: 'renamed' });
        case 'task.assign':
          return a.assignTask(id, {});
        case 'task.status':
          return a.setStatus(id, 'doing');
        case 'task.close':
          return a.closeTask(id, 'done');
        case 'task.reopen':
          return a.reopenTask(id, 'todo');
        case 'task.comment':
          return a.comment(id, 'a comment');
      }
    },
    forge: (a, fx) => {
      const id = fx.task[name];
      const audience = a.log.state().tasks.get(id)!.audience;
      return forge(a.identity, a.log, kind, { task: fromHex(id), sealed: sealAs(a.log, a.keyring, kind, id, CONTENT[kind], audience, a.identity) }, audience, {
        time: fx.now(),
      });
    },
  }),
  submit: (audience: string): Op => ({
    act: (a) => a.submit(audience, { title: 'a tip' }),
    forge: (a, fx) => {
      const epoch = a.log.state().roles.get(audience)!.epochs.at(-1)!;
      const seq = a.log.lastSeq(a.identity.onion) + 1;
      const binding = { kind: 'submission.create', task: null, pursuance: a.log.id, author: a.identity.publicKey, seq };
      const body = sealSubmission(binding, { title: 'a tip', body: '' }, { role: audience, keyId: epoch.keyId, pub: epoch.pub! }, a.identity.publicKey);
      return forge(a.identity, a.log, 'submission.create', body, [audience], { time: fx.now() });
    },
  }),
  move: (name: TaskName, parent: TaskName): Op => ({
    act: (a, fx) => a.moveTask(fx.task[name], fx.task[parent]),
    forge: (a, fx) =>
      forge(
        a.identity,
        a.log,
        'task.move',
        { task: fromHex(fx.task[name]), parent: fromHex(fx.task[parent]) },
        a.log.state().tasks.get(fx.task[name])!.audience,
        { time: fx.now() },
      ),
  }),
  assignRole: (member: Name, role: string): Op => ({
    act: (a) => a.assignRole(ID[member].onion, role),
    forge: (a, fx) => forge(a.identity, a.log, 'role.assign', { member: ID[member].publicKey, role, keys: [] }, [], { time: fx.now() }),
  }),
  removeRole: (member: Name, role: string): Op => ({
    act: (a) => a.removeRole(ID[member].onion, role),
    forge: (a, fx) => forge(a.identity, a.log, 'role.remove', { member: ID[member].publicKey, role, rotation: null }, [], { time: fx.now() }),
  }),
  rotate: (role: string): Op => ({
    act: (a) => a.rotateKeys([role]),
    forge: (a, fx) => {
      const holders = [...a.log.state().roles.get(role)!.holders].sort().map((o) => a.log.state().members.get(o)!.key);
      return forge(a.identity, a.log, 'keys.rotate', { rotations: [makeRotation(newRoleKey(role), holders)] }, [], { time: fx.now() });
    },
  }),
  invite: (roles: string[] = []): Op => ({
    act: (a) => a.addMember(ID.X.publicKey, { roles }),
    forge: (a, fx) => forge(a.identity, a.log, 'member.add', { member: ID.X.publicKey, roles, keys: [] }, [], { time: fx.now() }),
  }),
  /** Publish the public profile, signed with the actor's current key of `role`. */
  profile: (role: string): Op => {
    const spec = (fx: Fixture) => ({ name: 'Capability table', about: '', asks: ['Why?'], inbox: 'an inbox', effort: 8, now: fx.now(), days: 3 });
    return {
      act: (a, fx) => a.publishProfile(role, spec(fx)),
      forge: (a, fx) => {
        const epoch = a.log.state().roles.get(role)!.epochs.at(-1)!;
        const profile = signProfile({ ...spec(fx), pursuance: a.log.id }, a.keyring.get(epoch.keyIdHex)!);
        return forge(a.identity, a.log, 'profile.publish', { profile }, [], { time: fx.now() });
      },
    };
  },
  expel: (member: Name): Op => ({
    act: (a) => a.removeMember(ID[member].onion),
    forge: (a, fx) => forge(a.identity, a.log, 'member.remove', { member: ID[member].publicKey, rotations: [] }, [], { time: fx.now() }),
  }),
  rules: (change: (r: Rules) => void): Op => {
    const next = (): Rules => {
      const r = structuredClone(RULES);
      change(r);
      return RulesSchema.parse(r);
    };
    return {
      act: (a) => a.changeRules(next()),
      forge: (a, fx) => forge(a.identity, a.log, 'rules.change', { rules: next() }, [], { time: fx.now() }),
    };
  },
  /** Open a link to another pursuance (from its offer, dated now): a link maps outsiders' roles to rights here. */
  link: (): Op => {
    const body = (fx: Fixture) => ({
      name: 'Peer',
      offer: peerOffer(fx),
      theyMay: [{ theirRole: 'member', action: 'create' as const, on: 'staff' }],
      ourAnchor: 'admin',
      weSend: [],
      ourInbox: 'our inbox',
    });
    return {
      act: (a, fx) => a.openLink(body(fx)),
      forge: (a, fx) => forge(a.identity, a.log, 'link.open', body(fx), [], { time: fx.now() }),
    };
  },
  relay: (): Op => ({
    act: (a) => a.moveRelay('relay-bundle-2', new Uint8Array(32)),
    forge: (a, fx) => forge(a.identity, a.log, 'relay.move', { bundle: 'relay-bundle-2', invites: [] }, [], { time: fx.now() }),
  }),
  /** List `bundle` as a mirror relay, after the founder has listed `listed`. */
  addMirror: (bundle: string, listed: readonly string[] = []): Op => ({
    setup: (fx) => listed.forEach((b) => fx.founder.addMirror(b)),
    act: (a) => a.addMirror(bundle),
    forge: (a, fx) => forge(a.identity, a.log, 'relay.add', { bundle }, [], { time: fx.now() }),
  }),
  /** Drop `bundle` from the mirror relays, after the founder has listed `listed`. */
  dropMirror: (bundle: string, listed: readonly string[] = []): Op => ({
    setup: (fx) => listed.forEach((b) => fx.founder.addMirror(b)),
    act: (a) => a.dropMirror(bundle),
    forge: (a, fx) => forge(a.identity, a.log, 'relay.drop', { bundle }, [], { time: fx.now() }),
  }),
  nominate: (candidate: Name): Op => ({
    act: (a) => a.nominateFounder(ID[candidate].onion),
    forge: (a, fx) => forge(a.identity, a.log, 'founder.nominate', { candidate: ID[candidate].publicKey }, [], { time: fx.now() }),
  }),
  endorse: (): Op => ({
    act: (a, fx) => a.endorseNomination(fx.nomination),
    forge: (a, fx) => forge(a.identity, a.log, 'founder.endorse', { nomination: fromHex(fx.nomination) }, [], { time: fx.now() }),
  }),
  /**
   * Claim S's nomination, `quietDays` after the last founder activity. The quiet time is shown
   * by two other members (A and S2) who post once it has passed, and the claim has seen them.
   */
  claim: (quietDays: number): Op => ({
    setup: (fx) => {
      fx.advance(quietDays * DAY);
      for (const [name, task] of [
        ['A', 'tAdmin'],
        ['S2', 'tStaff'],
      ] as const)
        fx.founder.log.add(fx.author(name).comment(fx.task[task], 'still here').bytes);
    },
    act: (a, fx) => a.claimNomination(fx.nomination),
    forge: (a, fx) => forge(a.identity, a.log, 'founder.claim', { nomination: fromHex(fx.nomination) }, [], { time: fx.now() }),
  }),
};

/** Remove a role from rules, and every mention of it, so the rules stay valid. */
function dropRole(rules: Rules, role: string): void {
  delete rules.roles[role];
  for (const r of Object.values(rules.roles)) {
    for (const list of [r.can, r.cannot]) {
      for (let i = list.length - 1; i >= 0; i--) {
        const cap = list[i]!;
        const named = cap.subject === 'task' ? cap.audience : 'roles' in cap ? cap.roles : '*';
        if (named === '*') continue;
        const kept = named.filter((x) => x !== role);
        if (kept.length === 0) list.splice(i, 1);
        else if (cap.subject === 'task') cap.audience = kept;
        else if ('roles' in cap) cap.roles = kept;
      }
    }
  }
}

type Allowed = { ok: (fx: Fixture, e: SignedEvent) => void };
type Denied = { code: RejectionCode; reason: string; rule?: string };
type Row = [label: string, actor: Name, action: Op, expected: Allowed | Denied];

const closed = (name: TaskName, value: boolean) => (fx: Fixture) => expect(fx.founder.log.state().tasks.get(fx.task[name])!.closed).toBe(value);
const holds = (member: Name, role: string, value: boolean) => (fx: Fixture) =>
  expect(fx.founder.log.state().members.get(ID[member].onion)?.roles.has(role) ?? false).toBe(value);
const isFounder = (member: Name, value: boolean) => (fx: Fixture) => expect(fx.founder.log.state().founders.has(ID[member].onion)).toBe(value);
const accepted = () => () => undefined;
const grants = (what: string, roles: string): Denied => ({ code: RejectionCode.DENIED, reason: `no rule grants ${what} to ${roles}` });
const deniedBy = (reason: string): Denied => ({ code: RejectionCode.DENIED, reason: `denied by rule: ${reason}`, rule: reason });

const TASK_ROWS: Row[] = [
  ['staff create a task for audience staff', 'S', op.create('staff'), { ok: accepted() }],
  ['staff may not create a task for audience admin', 'S', op.create('admin'), grants('create on tasks for audience "admin"', 'roles staff')],
  ['guests create a task for audience guest', 'G', op.create('guest'), { ok: accepted() }],
  ['guests may not create a task for audience staff', 'G', op.create('staff'), grants('create on tasks for audience "staff"', 'roles guest')],
  ['admins create a task for audience vault', 'A', op.create('vault'), { ok: accepted() }],
  ['a member without roles may not create any task', 'N', op.create('guest'), grants('create on tasks for audience "guest"', 'no roles')],
  ['guests submit to the vault they cannot read', 'G', op.submit('vault'), { ok: accepted() }],
  ['staff may not submit to the vault', 'S', op.submit('vault'), grants('submit on tasks for audience "vault"', 'roles staff')],
  ['a create grant on an audience is no submit grant', 'S', op.submit('staff'), grants('submit on tasks for audience "staff"', 'roles staff')],
  ['admins submit anywhere (a submit grant on any audience)', 'A', op.submit('staff'), { ok: accepted() }],
  [
    'guests may not submit to their own audience without a submit grant',
    'G',
    op.submit('guest'),
    grants('submit on tasks for audience "guest"', 'roles guest'),
  ],
  ['a member without roles may not submit', 'N', op.submit('vault'), grants('submit on tasks for audience "vault"', 'no roles')],
  ['founders submit anywhere', 'F', op.submit('guest'), { ok: accepted() }],
  ['staff edit a staff task', 'S', op.task('task.edit', 'tStaff'), { ok: accepted() }],
  ['guests may not edit even a guest task (cannot rule)', 'G', op.task('task.edit', 'tGuest'), deniedBy('guests never edit tasks')],
  ['staff may not edit a guest task', 'S', op.task('task.edit', 'tGuest'), grants('edit on tasks for audience "guest"', 'roles staff')],
  ['staff assign a staff task', 'S', op.task('task.assign', 'tStaff'), { ok: accepted() }],
  ['guests may not assign a guest task', 'G', op.task('task.assign', 'tGuest'), grants('assign on tasks for audience "guest"', 'roles guest')],
  ['admins assign an admin task', 'A', op.task('task.assign', 'tAdmin'), { ok: accepted() }],
  ['guests comment on a guest task', 'G', op.task('task.comment', 'tGuest'), { ok: accepted() }],
  ['guests may not comment on a staff task', 'G', op.task('task.comment', 'tStaff'), grants('comment on tasks for audience "staff"', 'roles guest')],
  ['staff may not comment on an admin task', 'S', op.task('task.comment', 'tAdmin'), grants('comment on tasks for audience "admin"', 'roles staff')],
  ['guests move a guest task through the workflow', 'G', op.task('task.status', 'tGuest'), { ok: accepted() }],
  ['staff move a staff task through the workflow', 'S', op.task('task.status', 'tStaff'), { ok: accepted() }],
  ['guests may not transition a staff task', 'G', op.task('task.status', 'tStaff'), grants('transition on tasks for audience "staff"', 'roles guest')],
  ['staff close a staff task', 'S', op.task('task.close', 'tStaff'), { ok: closed('tStaff', true) }],
  ['admins close an admin task', 'A', op.task('task.close', 'tAdmin'), { ok: closed('tAdmin', true) }],
  ['guests may not close a guest task', 'G', op.task('task.close', 'tGuest'), grants('close on tasks for audience "guest"', 'roles guest')],
  [
    'admins may not close a vault task (cannot rule beats the grant)',
    'A',
    op.task('task.close', 'tVault'),
    deniedBy('vault tasks are closed by founders only'),
  ],
  ['founders close a vault task', 'F', op.task('task.close', 'tVault'), { ok: closed('tVault', true) }],
  ['staff reopen a closed staff task', 'S', op.task('task.reopen', 'cStaff'), { ok: closed('cStaff', false) }],
  ['admins may not reopen a vault task (reopening needs close)', 'A', op.task('task.reopen', 'cVault'), deniedBy('vault tasks are closed by founders only')],
  ['guests may not reopen a guest task', 'G', op.task('task.reopen', 'cGuest'), grants('close on tasks for audience "guest"', 'roles guest')],
  ['staff move a staff task under another (moving needs edit)', 'S', op.move('tStaff2', 'tStaff'), { ok: accepted() }],
  ['guests may not move a guest task', 'G', op.move('tGuest', 'cGuest'), deniedBy('guests never edit tasks')],
];

const GOVERNANCE_ROWS: Row[] = [
  ['staff assign the guest role', 'S', op.assignRole('N', 'guest'), { ok: holds('N', 'guest', true) }],
  ['staff may not assign the staff role', 'S', op.assignRole('N', 'staff'), grants('assigning role "staff"', 'roles staff')],
  ['admins assign the staff role', 'A', op.assignRole('N', 'staff'), { ok: holds('N', 'staff', true) }],
  ['admins may not assign the admin role', 'A', op.assignRole('N', 'admin'), grants('assigning role "admin"', 'roles admin, vault')],
  ['guests may not assign the guest role', 'G', op.assignRole('N', 'guest'), grants('assigning role "guest"', 'roles guest')],
  ['admins remove the staff role', 'A', op.removeRole('S2', 'staff'), { ok: holds('S2', 'staff', false) }],
  ['staff may not remove the guest role (cannot rule)', 'S', op.removeRole('G2', 'guest'), deniedBy('staff never take roles away; ask an admin')],
  ['admins may not remove the admin role', 'A', op.removeRole('A', 'admin'), grants('removing role "admin"', 'roles admin, vault')],
  ['staff rotate the guest key (without holding it)', 'S', op.rotate('guest'), { ok: accepted() }],
  ['staff may not rotate the staff key', 'S', op.rotate('staff'), grants('rotating the keys of role "staff"', 'roles staff')],
  ['admins rotate the vault key', 'A', op.rotate('vault'), { ok: accepted() }],
  ['guests may not rotate any key', 'G', op.rotate('guest'), grants('rotating the keys of role "guest"', 'roles guest')],
  ['admins invite', 'A', op.invite(['guest']), { ok: holds('X', 'guest', true) }],
  ['staff may not invite', 'S', op.invite(), grants('inviting members', 'roles staff')],
  ['guests may not invite (cannot rule)', 'G', op.invite(), deniedBy('guests cannot invite: ask staff')],
  ['inviting into a role needs the right to assign it', 'A', op.invite(['admin']), grants('assigning role "admin"', 'roles admin, vault')],
  ['admins publish the public profile', 'A', op.profile('admin'), { ok: (fx) => expect(fx.founder.log.state().profile?.profile.role).toBe('admin') }],
  ['staff may not publish the public profile', 'S', op.profile('staff'), grants('inviting members', 'roles staff')],
  ['guests may not publish the public profile (cannot rule)', 'G', op.profile('guest'), deniedBy('guests cannot invite: ask staff')],
  ['admins expel', 'A', op.expel('G2'), { ok: (fx) => expect(fx.founder.log.state().members.has(ID.G2.onion)).toBe(false) }],
  ['staff may not expel', 'S', op.expel('G2'), grants('expelling members', 'roles staff')],
  ['admins change the rules', 'A', op.rules((r) => (r.title = 'Renamed')), { ok: (fx) => expect(fx.founder.log.state().rules.title).toBe('Renamed') }],
  [
    'admins may hand a power they hold to another role',
    'A',
    op.rules((r) => r.roles.guest!.can.push({ subject: 'relay', action: 'move' })),
    { ok: accepted() },
  ],
  ['staff may not change the rules', 'S', op.rules((r) => (r.title = 'Renamed')), grants('changing the rules', 'roles staff')],
  [
    'admins open a link to another pursuance (it changes who may act here, as a rule does)',
    'A',
    op.link(),
    { ok: (fx) => expect(fx.founder.log.state().links?.size).toBe(1) },
  ],
  ['staff may not open a link', 'S', op.link(), grants('changing the rules', 'roles staff')],
  ['guests may not open a link', 'G', op.link(), grants('changing the rules', 'roles guest')],
  [
    'no escalation: admins may not let staff assign the admin role',
    'A',
    op.rules((r) => r.roles.staff!.can.push({ subject: 'role', action: 'assign', roles: ['admin'] })),
    { code: RejectionCode.ESCALATION, reason: 'the new rules would let role "staff" assign Role "admin", which you may not do yourself' },
  ],
  [
    'no escalation: admins may not lift their own cannot rule',
    'A',
    op.rules((r) => (r.roles.admin!.cannot = [])),
    { code: RejectionCode.ESCALATION, reason: 'the new rules would let role "admin" close Task "vault", which you may not do yourself' },
  ],
  [
    'no escalation: admins may not grant a new role what they lack',
    'A',
    op.rules(
      (r) =>
        (r.roles.auditor = {
          title: 'Auditor',
          description: '',
          rank: 1,
          history: 'all',
          can: [{ subject: 'role', action: 'remove', roles: ['admin'] }],
          cannot: [],
        }),
    ),
    { code: RejectionCode.ESCALATION, reason: 'the new rules would let role "auditor" remove Role "admin", which you may not do yourself' },
  ],
  [
    'no escalation: admins may not drop a role they may not remove (it would strip its holders)',
    'A',
    op.rules((r) => dropRole(r, 'vault')),
    { code: RejectionCode.ESCALATION, reason: 'the new rules would drop role "vault" from its holders, which you may not remove yourself' },
  ],
  ['admins may drop a role they may remove', 'A', op.rules((r) => dropRole(r, 'guest')), { ok: holds('G', 'guest', false) }],
  ['admins move the relay', 'A', op.relay(), { ok: (fx) => expect(fx.founder.log.state().relay.bundle).toBe('relay-bundle-2') }],
  ['staff may not move the relay', 'S', op.relay(), grants('moving the relay', 'roles staff')],
  [
    'moving onto a mirror takes it off the mirror list; the old relay does not become one',
    'A',
    { ...op.relay(), setup: (fx) => void fx.founder.addMirror('relay-bundle-2') },
    { ok: (fx) => expect(fx.founder.log.state().relay).toMatchObject({ bundle: 'relay-bundle-2', mirrors: [] }) },
  ],
];

/** Mirror relays: listing and dropping one needs what moving the relay needs (relay move). */
const mirrors = (fx: Fixture) => fx.founder.log.state().relay.mirrors;
const MIRROR_ROWS: Row[] = [
  ['admins add a mirror relay', 'A', op.addMirror('mirror-1'), { ok: (fx) => expect(mirrors(fx)).toEqual(['mirror-1']) }],
  ['founders add a mirror relay', 'F2', op.addMirror('mirror-2', ['mirror-1']), { ok: (fx) => expect(mirrors(fx)).toEqual(['mirror-1', 'mirror-2']) }],
  ['staff may not add a mirror relay', 'S', op.addMirror('mirror-1'), grants('moving the relay', 'roles staff')],
  ['guests may not add a mirror relay', 'G', op.addMirror('mirror-1'), grants('moving the relay', 'roles guest')],
  ['a member without roles may not add a mirror relay', 'N', op.addMirror('mirror-1'), grants('moving the relay', 'no roles')],
  ['admins drop a mirror relay', 'A', op.dropMirror('mirror-1', ['mirror-1', 'mirror-2']), { ok: (fx) => expect(mirrors(fx)).toEqual(['mirror-2']) }],
  ['staff may not drop a mirror relay', 'S', op.dropMirror('mirror-1', ['mirror-1']), grants('moving the relay', 'roles staff')],
  ['guests may not drop a mirror relay', 'G', op.dropMirror('mirror-1', ['mirror-1']), grants('moving the relay', 'roles guest')],
  ['a mirror is listed once', 'A', op.addMirror('mirror-1', ['mirror-1']), { code: RejectionCode.INVALID_STATE, reason: 'that relay is already a mirror' }],
  [
    'the relay is no mirror of itself',
    'A',
    op.addMirror('relay-bundle-1'),
    { code: RejectionCode.INVALID_STATE, reason: 'that bundle is the relay itself, not a mirror' },
  ],
  [
    `at most ${MAX_RELAY_MIRRORS} mirrors`,
    'A',
    op.addMirror(
      'one too many',
      Array.from({ length: MAX_RELAY_MIRRORS }, (_, i) => `mirror-${i}`),
    ),
    { code: RejectionCode.INVALID_STATE, reason: `a pursuance lists at most ${MAX_RELAY_MIRRORS} mirror relays: drop one first` },
  ],
  [
    'dropping a relay that is not listed',
    'A',
    op.dropMirror('mirror-2', ['mirror-1']),
    { code: RejectionCode.UNKNOWN_TARGET, reason: 'that relay is not a listed mirror' },
  ],
  [
    'the relay itself cannot be dropped',
    'A',
    op.dropMirror('relay-bundle-1', ['mirror-1']),
    { code: RejectionCode.INVALID_STATE, reason: 'that bundle is the relay itself, which cannot be dropped: move instead' },
  ],
  ['a denial comes before the state is judged', 'S', op.dropMirror('relay-bundle-1'), grants('moving the relay', 'roles staff')],
];

const SUCCESSION_ROWS: Row[] = [
  ['founders nominate a founder', 'F', op.nominate('A'), { ok: (fx, e) => expect(fx.founder.log.state().nominations.get(e.id)?.open).toBe(true) }],
  ['members may not nominate', 'S', op.nominate('A'), { code: RejectionCode.DENIED, reason: 'only founders nominate founders' }],
  ['a second founder endorses: quorum 2 makes the nominee a founder', 'F2', op.endorse(), { ok: isFounder('S', true) }],
  ['the nominee may not endorse', 'S', op.endorse(), { code: RejectionCode.DENIED, reason: 'only founders endorse a nomination' }],
  ['a founder endorses once', 'F', op.endorse(), { code: RejectionCode.INVALID_STATE, reason: 'already endorsed' }],
  ['the nominee claims after 8 quiet days', 'S', op.claim(8), { ok: isFounder('S', true) }],
  [
    'the nominee may not claim while founders are active',
    'S',
    op.claim(6),
    { code: RejectionCode.INVALID_STATE, reason: 'founders were active within the last 7 days' },
  ],
  ['only the nominee claims', 'A', op.claim(8), { code: RejectionCode.DENIED, reason: 'only the nominee claims a nomination' }],
];

function runRow(actor: Name, action: Op, expected: Allowed | Denied): void {
  if ('ok' in expected) {
    // Through the author, delivered to the founder's log...
    const fx = fixture();
    action.setup?.(fx);
    const e = action.act(fx.author(actor), fx);
    if (actor !== 'F') expect(fx.founder.log.add(e.bytes).status).toBe('accepted');
    expect(fx.founder.log.isAccepted(e.id)).toBe(true);
    expected.ok(fx, e);
    // ...and the hand-built twin is accepted as well, so the forged denials below are faithful.
    const twin = fixture();
    action.setup?.(twin);
    const forged = action.forge(twin.author(actor), twin);
    expect(twin.founder.log.add(forged.bytes).status, JSON.stringify(twin.founder.log.rejectionOf(forged.id))).toBe('accepted');
    return;
  }
  const fx = fixture();
  action.setup?.(fx);
  const author = fx.author(actor);
  const before = author.log.size;
  let refused: unknown;
  try {
    action.act(author, fx);
  } catch (err) {
    refused = err;
  }
  expect(refused).toBeInstanceOf(ActionNotAllowedError);
  const err = refused as ActionNotAllowedError;
  expect(err.code).toBe(expected.code);
  expect(err.message).toContain(expected.reason);
  expect(err.rule).toBe(expected.rule);
  expect(author.log.size, 'a refused action publishes nothing').toBe(before);

  // The same event, forged past the author's check, reaches another member's log.
  const twin = fixture();
  action.setup?.(twin);
  const forged = action.forge(twin.author(actor), twin);
  const result = twin.founder.log.add(forged.bytes);
  expect(result.status).toBe('rejected');
  const rejection = twin.founder.log.rejectionOf(forged.id)!;
  expect(rejection.code).toBe(expected.code);
  expect(rejection.reason).toBe(err.message);
  expect(rejection.rule).toBe(expected.rule);
  expect(twin.founder.log.isAccepted(forged.id)).toBe(false);
}

describe('capabilities, allowed and denied', () => {
  it.each(TASK_ROWS)('task: %s', (_label, actor, action, expected) => runRow(actor, action, expected));
  it.each(GOVERNANCE_ROWS)('governance: %s', (_label, actor, action, expected) => runRow(actor, action, expected));
  it.each(MIRROR_ROWS)('mirror relays: %s', (_label, actor, action, expected) => runRow(actor, action, expected));
  it.each(SUCCESSION_ROWS)('succession: %s', (_label, actor, action, expected) => runRow(actor, action, expected));

  it('a founder can do everything, cannot rules included', () => {
    const fx = fixture();
    const rules = structuredClone(RULES);
    rules.roles.guest!.can.push({ subject: 'role', action: 'assign', roles: '*' });
    for (const action of [op.task('task.close', 'tVault'), op.assignRole('N', 'admin'), op.rules(() => undefined), op.rotate('staff')]) {
      const e = action.act(fx.founder, fx);
      expect(fx.founder.log.isAccepted(e.id)).toBe(true);
    }
    expect(fx.founder.changeRules(rules)).toBeDefined();
  });

  it('a member removed from a role loses its capabilities at that point in the log', () => {
    const fx = fixture();
    const s2 = fx.author('S2');
    const admin = fx.author('A');
    const removal = admin.removeRole(ID.S2.onion, 'staff');
    // S2 has not seen the removal yet: their comment is concurrent and is ordered after it.
    const concurrent = s2.comment(fx.task.tStaff, 'still working');
    fx.founder.log.addAll([removal.bytes, concurrent.bytes]);
    expect(fx.founder.log.isAccepted(removal.id)).toBe(true);
    expect(fx.founder.log.rejectionOf(concurrent.id)?.code).toBe(RejectionCode.DENIED);
    expect(fx.founder.log.rejectionOf(concurrent.id)?.reason).toBe('no rule grants comment on tasks for audience "staff" to no roles');
  });
});

describe('mirror relays under each rule template', () => {
  /** Per template, the roles whose holders may add and drop mirrors: exactly those that may move the relay. */
  const MAY_CHANGE_RELAYS: Record<string, string[]> = {
    'activist-cell': ['organizer'],
    newsroom: ['editor'],
    'open-coalition': ['coordinator'],
  };

  it('lists every template', () => {
    expect(Object.keys(MAY_CHANGE_RELAYS).sort()).toEqual(templateNames());
  });

  it.each(Object.entries(MAY_CHANGE_RELAYS))('%s: a holder of any one role may add and drop a mirror only if that role may move the relay', (name, allowed) => {
    const rules = loadTemplate(name);
    const now = clock();
    const founder = PursuanceAuthor.create(Identity.generate(), { name, rules, relay: 'relay-bundle-1' }, now);
    founder.addMirror('listed');
    const holders = Object.keys(rules.roles)
      .sort()
      .map((role) => {
        const id = Identity.generate();
        founder.addMember(id.publicKey, { roles: [role] });
        return [role, id] as const;
      });
    const may: string[] = [];
    for (const [role, id] of holders) {
      const log = new PursuanceLog(founder.log.genesis.bytes);
      log.addAll([...founder.log.events()].map((e) => e.bytes));
      const holder = new PursuanceAuthor(id, log, undefined, now);
      const attempts = [() => holder.addMirror(`mirror of ${role}`), () => holder.dropMirror('listed')];
      if (!allowed.includes(role)) {
        for (const attempt of attempts) expectRefused(attempt, RejectionCode.DENIED, 'no rule grants moving the relay');
        continue;
      }
      for (const attempt of attempts) expect(log.isAccepted(attempt().id), role).toBe(true);
      expect(log.state().relay.mirrors, role).toEqual([`mirror of ${role}`]);
      may.push(role);
    }
    expect(may).toEqual(allowed);
  });
});
