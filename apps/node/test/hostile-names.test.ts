import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Identity, toBase64 } from '@pursuance/crypto';
import { PursuanceAuthor, PursuanceLog, RulesSchema } from '@pursuance/pursuance';
import { startNode, type RunningNode } from '../src/index.js';
import { testNodeOptions } from '../../../test/support/test-node.js';
import { http } from './support/http.js';

/**
 * Finding 2 through the API: names that are also Object.prototype members, in every field a
 * member chooses (role ids, workflow states, pursuance and member names, labels, titles), must
 * never reach a plain-object lookup. Every read answers 200, every bad command a 4xx with a
 * code, and the node starts again on the same store.
 */
const PROTO = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf'];
// Role ids and state names are lowercase words: of the prototype's names only "constructor" fits.

let root: string;
let node: RunningNode;
let hostile: string;
let plain: string;
let taskId: string;
let plainTask: string;
let planted: string;
const members = { proto: Identity.generate(), ctor: Identity.generate(), str: Identity.generate() };
const options = () => testNodeOptions(root, 'n', join(root, 'loopback'));
const call = (method: string, path: string, body?: unknown) => http(node.port, method, path, { token: node.token, ...(body === undefined ? {} : { body }) });
const expectStatus = async (method: string, path: string, body: unknown, status: number) => {
  const r = await call(method, path, body);
  expect(r.status, `${method} ${path} ${JSON.stringify(body ?? null).slice(0, 200)} → ${r.text.slice(0, 500)}`).toBe(status);
  return r.body as Record<string, unknown>;
};

async function hostileRules(): Promise<Record<string, unknown>> {
  const { $schema: _schema, ...rules } = JSON.parse(await readFile(new URL('../../../rules/templates/activist-cell.json', import.meta.url), 'utf8')) as {
    $schema: string;
    roles: Record<string, unknown>;
    workflow: unknown;
  };
  // An own, ordinary property (as JSON.parse would make it), which the test later deletes.
  Object.defineProperty(rules.roles, 'constructor', {
    enumerable: true,
    configurable: true,
    writable: true,
    value: {
      title: 'Constructor',
      description: 'toString',
      rank: 500,
      history: 'since-join',
      can: [
        { subject: 'task', action: 'create', audience: ['constructor'] },
        { subject: 'task', action: 'comment', audience: ['constructor'] },
        { subject: 'task', action: 'transition', audience: ['constructor'] },
        { subject: 'role', action: 'assign', roles: ['constructor'] },
      ],
      cannot: [],
    },
  });
  rules.workflow = {
    states: ['open', 'constructor', 'done', 'dropped'],
    initial: 'open',
    closed: ['done', 'dropped'],
    transitions: [
      { from: 'open', to: 'constructor' },
      { from: 'constructor', to: 'open' },
    ],
  };
  return rules;
}

const GET_ROUTES = ['', '/members', '/roles', '/rules', '/tasks', '/feed', '/rejections', '/own-rejections', '/events', '/sync'];

async function everyReadAnswers(): Promise<void> {
  for (const path of ['/api/node', '/api/pursuances', '/api/quarantine', '/api/templates', '/api/openapi.json'])
    await expectStatus('GET', path, undefined, 200);
  for (const id of [hostile, plain, planted]) for (const path of GET_ROUTES) await expectStatus('GET', `/api/pursuances/${id}${path}`, undefined, 200);
  await expectStatus('GET', `/api/pursuances/${hostile}/tasks/${taskId}`, undefined, 200);
  await expectStatus('GET', `/api/pursuances/${plain}/tasks/${plainTask}`, undefined, 200);
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'node-hostile-names-'));
  node = await startNode(options());
});
afterAll(async () => {
  await node?.close();
  await rm(root, { recursive: true, force: true });
});

describe('prototype names in every user-chosen field', () => {
  it('serves a pursuance whose rules declare a role and a state named "constructor"', async () => {
    const created = await expectStatus('POST', '/api/pursuances', { name: 'constructor', description: '__proto__', rules: await hostileRules() }, 201);
    hostile = created.id as string;
    expect(created).toMatchObject({ name: 'constructor', description: '__proto__', myRoles: ['constructor', 'member', 'organizer'] });
    const p = `/api/pursuances/${hostile}`;
    await expectStatus('POST', `${p}/members`, { onion: members.proto.onion, name: '__proto__', roles: ['constructor'] }, 201);
    await expectStatus('POST', `${p}/members`, { onion: members.ctor.onion, name: 'constructor', roles: ['constructor', 'member'] }, 201);
    await expectStatus('POST', `${p}/members`, { onion: members.str.onion, name: 'toString', roles: [] }, 201);
    const task = await expectStatus(
      'POST',
      `${p}/tasks`,
      {
        audience: ['constructor'],
        title: 'hasOwnProperty',
        body: 'valueOf',
        labels: PROTO,
        assignees: { roles: ['constructor'], members: [members.proto.onion] },
      },
      201,
    );
    taskId = task.id as string;
    const change = (body: unknown, status = 201) => expectStatus('POST', `${p}/tasks/${taskId}/changes`, body, status);
    await change({ op: 'status', to: 'constructor' });
    await change({ op: 'comment', body: '__proto__' });
    await change({ op: 'edit', labels: ['__proto__', 'constructor'] });
    await change({ op: 'assign', add: { roles: ['constructor'], members: [members.ctor.onion] } });
    await expectStatus('POST', `${p}/members/${members.str.onion}/roles`, { role: 'constructor' }, 201);
    await expectStatus('DELETE', `${p}/members/${members.proto.onion}/roles/constructor`, undefined, 200);
    await expectStatus('POST', `${p}/keys/rotate`, { roles: ['constructor'] }, 201);

    const detail = await expectStatus('GET', `${p}/tasks/${taskId}`, undefined, 200);
    expect(detail).toMatchObject({ title: 'hasOwnProperty', body: 'valueOf', status: 'constructor', labels: ['__proto__', 'constructor'], readable: true });
    const roles = (await expectStatus('GET', `${p}/roles`, undefined, 200)) as unknown as { id: string; title: string; holders: string[] }[];
    expect(roles.find((r) => r.id === 'constructor')).toMatchObject({
      title: 'Constructor',
      holders: [node.identity.onion, members.ctor.onion, members.str.onion].sort(),
    });
    const named = (await expectStatus('GET', `${p}/members`, undefined, 200)) as unknown as { name: string | null }[];
    expect(named.map((m) => m.name).sort()).toEqual(expect.arrayContaining(['__proto__', 'constructor', 'toString']));
    const rejections = (await expectStatus('GET', `${p}/rejections`, undefined, 200)) as unknown as unknown[];
    expect(rejections).toEqual([]);
  });

  it('refuses commands naming undeclared prototype names with a 4xx', async () => {
    const created = await expectStatus('POST', '/api/pursuances', { name: 'toString', template: 'activist-cell' }, 201);
    plain = created.id as string;
    const p = `/api/pursuances/${plain}`;
    await expectStatus('POST', `${p}/members`, { onion: members.ctor.onion, name: 'valueOf', roles: ['member'] }, 201);
    plainTask = (await expectStatus('POST', `${p}/tasks`, { audience: ['member'], title: 'x', labels: PROTO }, 201)).id as string;
    const before = (await expectStatus('GET', p, undefined, 200)).stateHash;

    // Every answer is checked, then all are compared at once: a failure lists every offender.
    const wrong: string[] = [];
    const refused = async (method: string, path: string, body?: unknown) => {
      const r = await call(method, path, body);
      const b = r.body as { code?: unknown; message?: unknown };
      if (r.status < 400 || r.status >= 500 || typeof b.code !== 'string' || typeof b.message !== 'string')
        wrong.push(`${method} ${path} ${JSON.stringify(body ?? null)} → ${r.status} ${r.text}`);
    };
    await refused('POST', `${p}/members/${members.ctor.onion}/roles`, { role: 'constructor' });
    await refused('POST', `${p}/members`, { onion: members.str.onion, roles: ['constructor'] });
    await refused('DELETE', `${p}/members/${members.ctor.onion}/roles/constructor`);
    await refused('DELETE', `${p}/members/${members.ctor.onion}/roles/hasOwnProperty`);
    await refused('DELETE', `${p}/members/${members.ctor.onion}/roles/__proto__`);
    await refused('POST', `${p}/keys/rotate`, { roles: ['constructor'] });
    await refused('POST', `${p}/tasks`, { audience: ['constructor'], title: 'x' });
    await refused('POST', `${p}/tasks/${plainTask}/changes`, { op: 'status', to: 'constructor' });
    await refused('POST', `${p}/tasks/${plainTask}/changes`, { op: 'close', to: 'constructor' });
    await refused('POST', `${p}/tasks/constructor/changes`, { op: 'comment', body: 'x' });
    await refused('GET', `${p}/tasks/constructor`);
    await refused('GET', '/api/pursuances/constructor');
    await refused('GET', '/api/pursuances/__proto__/tasks');
    // In the hostile pursuance too: states and roles it does not declare.
    await refused('POST', `/api/pursuances/${hostile}/tasks/${taskId}/changes`, { op: 'status', to: 'tostring' });
    await refused('POST', `/api/pursuances/${hostile}/members/${members.ctor.onion}/roles`, { role: 'valueof' });
    expect(wrong).toEqual([]);
    expect((await expectStatus('GET', p, undefined, 200)).stateHash).toBe(before);
  });

  it('takes a rules change that drops the "constructor" role from its holders', async () => {
    const p = `/api/pursuances/${hostile}`;
    const rules = await hostileRules();
    Reflect.deleteProperty(rules.roles as object, 'constructor');
    await expectStatus('PUT', `${p}/rules`, { rules }, 200);
    const held = (await expectStatus('GET', `${p}/members`, undefined, 200)) as unknown as { roles: string[] }[];
    expect(held.flatMap((m) => m.roles)).not.toContain('constructor');
    const roles = (await expectStatus('GET', `${p}/roles`, undefined, 200)) as unknown as { id: string }[];
    expect(roles.map((r) => r.id)).toEqual(['member', 'organizer']);
    // Judging new events still works, and names the now undeclared role as unknown.
    await expectStatus('POST', `${p}/tasks`, { audience: ['member'], title: 'after the change' }, 201);
    const answers: string[] = [];
    for (const [path, body] of [
      [`${p}/members/${members.ctor.onion}/roles`, { role: 'constructor' }],
      [`${p}/members`, { onion: Identity.generate().onion, roles: ['constructor'] }],
      [`${p}/tasks`, { audience: ['constructor'], title: 'x' }],
      [`${p}/keys/rotate`, { roles: ['constructor'] }],
    ] as const) {
      const r = await call('POST', path, body);
      answers.push(`${path.slice(p.length)} ${r.status >= 400 && r.status < 500 ? '4xx' : r.status}`);
    }
    expect(answers).toEqual(['/members/' + members.ctor.onion + '/roles 4xx', '/members 4xx', '/tasks 4xx', '/keys/rotate 4xx']);
    expect((await expectStatus('GET', p, undefined, 200)).rulesRevision).toBe(1);
  });

  it('takes in a history where a non-founder acts while a rules change drops the "constructor" role they hold', async () => {
    // Made with the package API, as a malicious founder would plant it: a member holding
    // "constructor" creates a task concurrently with the rules change that drops that role, so
    // every replica judges the task with rules that no longer declare a role its author holds.
    const withRole = await hostileRules();
    const founder = PursuanceAuthor.create(Identity.generate(), { name: 'planted', rules: RulesSchema.parse(withRole) });
    const m = Identity.generate();
    founder.addMember(m.publicKey, { name: 'constructor', roles: ['constructor', 'member'] });
    const mLog = new PursuanceLog(founder.log.genesis.bytes);
    for (const e of founder.log.events()) if (e.id !== mLog.id) mLog.add(e.bytes);
    const member = new PursuanceAuthor(m, mLog);
    const withoutRole = await hostileRules();
    Reflect.deleteProperty(withoutRole.roles as object, 'constructor');
    founder.changeRules(RulesSchema.parse(withoutRole));
    const task = member.createTask({ audience: ['member'], title: 'toString' });
    planted = founder.log.id;
    const events = [...founder.log.events(), task].map((e) => toBase64(e.bytes));
    await expectStatus('POST', `/api/pursuances/${planted}/events`, { events }, 200);

    for (const path of GET_ROUTES) await expectStatus('GET', `/api/pursuances/${planted}${path}`, undefined, 200);
    const feed = (await expectStatus('GET', `/api/pursuances/${planted}/feed`, undefined, 200)) as unknown as { id: string; accepted: boolean }[];
    expect(feed.find((f) => f.id === task.id)).toMatchObject({ accepted: true }); // judged as a holder of "member" only
    const held = (await expectStatus('GET', `/api/pursuances/${planted}/members`, undefined, 200)) as unknown as { onion: string; roles: string[] }[];
    expect(held.find((x) => x.onion === m.onion)?.roles).toEqual(['member']);
  });

  it('answers every read, and starts again on the same store with the same state', async () => {
    await everyReadAnswers();
    const hashes = await Promise.all(
      [hostile, plain, planted].map(async (id) => (await expectStatus('GET', `/api/pursuances/${id}`, undefined, 200)).stateHash),
    );
    await node.close();
    node = await startNode(options());
    expect(((await call('GET', '/api/quarantine')).body as { pursuances: unknown[] }).pursuances).toEqual([]);
    await everyReadAnswers();
    const again = await Promise.all(
      [hostile, plain, planted].map(async (id) => (await expectStatus('GET', `/api/pursuances/${id}`, undefined, 200)).stateHash),
    );
    expect(again).toEqual(hashes);
  });
});
