import 'reflect-metadata';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Identity, TEST_SCRYPT_PARAMS, publicKeyFromOnion } from '@pursuance/crypto';
import { CwtchPeer } from '@pursuance/cwtch';
import { TypeormProfileStore } from '@pursuance/cwtch-store-sqlite';
import { NodeEventStore1763856000000 } from '@pursuance/migrations';
import { PursuanceAuthor, type Rules } from '@pursuance/pursuance';
import { LoopbackACN } from '@pursuance/tapir';
import { loadTemplates } from '../src/domain/templates.js';
import { WeakPasswordError } from '@pursuance/password';
import { ProfilePasswordError } from '../src/identity-store.js';
import { DEFAULT_TEMPLATES_DIR, openNodeStore, startNode, type RunningNode } from '../src/start.js';
import { http } from './support/http.js';

let dir: string;
let node: RunningNode | undefined;
const password = 'at rest test password';
const start = async (pw = password): Promise<RunningNode> =>
  (node = await startNode({ dataDir: dir, password: pw, scrypt: TEST_SCRYPT_PARAMS, logger: false, dashboardDir: null }));
let cellRules: Rules;

/** The activist-cell rules with distinctive role ids and titles, so a scan can look for them. */
function renamedRules(base: Rules): Rules {
  const ids: Record<string, string> = { organizer: 'owlbeacon', member: 'lanternwick' };
  const mapRoles = (v: unknown): unknown => (Array.isArray(v) ? v.map((r: string) => ids[r] ?? r) : v);
  const roles: Record<string, unknown> = {};
  for (const [id, role] of Object.entries(base.roles)) {
    const mapRule = (c: Record<string, unknown>) => ({
      ...c,
      ...('audience' in c ? { audience: mapRoles(c.audience) } : {}),
      ...('roles' in c ? { roles: mapRoles(c.roles) } : {}),
    });
    roles[ids[id]!] = {
      ...role,
      title: `Title of ${ids[id]} quokka`,
      can: role.can.map((c) => mapRule(c as Record<string, unknown>)),
      cannot: (role.cannot ?? []).map((c) => mapRule(c as Record<string, unknown>)),
    };
  }
  return { ...base, title: 'Rules of the Marmoset compact', roles } as Rules;
}

beforeAll(async () => {
  cellRules = (await loadTemplates(DEFAULT_TEMPLATES_DIR)).find((t) => t.id === 'activist-cell')!.rules;
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'node-at-rest-'));
});
afterEach(async () => {
  await node?.close();
  node = undefined;
  await rm(dir, { recursive: true, force: true });
});

const SQLITE_FILES = ['node.sqlite', 'node.sqlite-wal', 'node.sqlite-shm'];

/** Which needles occur in the raw bytes of the given files (those that exist). */
async function scan(files: readonly string[], needles: Record<string, Uint8Array>): Promise<string[]> {
  const found: string[] = [];
  for (const file of files) {
    let bytes: Buffer;
    try {
      bytes = await readFile(join(dir, file));
    } catch {
      continue;
    }
    for (const [label, needle] of Object.entries(needles)) if (bytes.includes(Buffer.from(needle))) found.push(`${label} in ${file}`);
  }
  return found;
}

const text = (s: string) => new TextEncoder().encode(s);

describe('the node event store at rest (finding 10)', () => {
  it('holds no names, onions, keys, role ids, rules or content in node.sqlite, its WAL or its shm', async () => {
    const n = await start();
    const member = Identity.generate();
    const created = await http(n.port, 'POST', '/api/pursuances', {
      token: n.token,
      body: { name: 'Nightjar Cell Zq7', description: 'meets at the Orchid Depot', rules: renamedRules(cellRules) },
    });
    expect(created.status).toBe(201);
    const id = (created.body as { id: string }).id;
    expect(
      (
        await http(n.port, 'POST', `/api/pursuances/${id}/members`, {
          token: n.token,
          body: { onion: member.onion, name: 'Zebulon Quartzfeld', roles: ['lanternwick'] },
        })
      ).status,
    ).toBe(201);
    const task = await http(n.port, 'POST', `/api/pursuances/${id}/tasks`, {
      token: n.token,
      body: { audience: ['lanternwick'], title: 'Paint the Vexillum banner' },
    });
    expect(task.status).toBe(201);
    const taskId = (task.body as { id: string }).id;
    expect(
      (
        await http(n.port, 'POST', `/api/pursuances/${id}/tasks/${taskId}/changes`, {
          token: n.token,
          body: { op: 'comment', body: 'bring the Heliotrope paint' },
        })
      ).status,
    ).toBe(201);
    // An input that never verified is kept too, with its reason: sealed like the rest. (The
    // import route refuses such bytes outright; from the group they are kept.)
    const bogus = await n.registry.ingest(id, [text('Zebulon Quartzfeld planted')], 'group');
    expect(bogus.invalid).toHaveLength(1);

    const needles: Record<string, Uint8Array> = {
      'pursuance name': text('Nightjar Cell Zq7'),
      description: text('Orchid Depot'),
      'member name': text('Zebulon Quartzfeld'),
      'member onion': text(member.onion),
      'node onion': text(n.identity.onion),
      'member public key': member.publicKey,
      'node public key': publicKeyFromOnion(n.identity.onion),
      'role id': text('lanternwick'),
      'other role id': text('owlbeacon'),
      'role title': text('quokka'),
      'rules title': text('Marmoset'),
      'task title': text('Vexillum'),
      comment: text('Heliotrope'),
      'pursuance id': text(id),
      'task id': text(taskId),
    };
    const files = await readdir(dir);
    expect(files).toContain('node.sqlite');
    expect(files).toContain('node.sqlite-wal'); // scanned while the node runs: recent writes sit in the WAL
    expect(await scan(SQLITE_FILES, needles)).toEqual([]);
    await n.close();
    node = undefined;
    expect(await scan(SQLITE_FILES, needles)).toEqual([]);

    // The profile store keeps nothing of it in the clear either.
    expect(await scan(['profile.sqlite', 'profile.sqlite-wal', 'profile.sqlite-shm'], needles)).toEqual([]);

    // Control: the same scan does find a value that is stored in the clear.
    const ds = new DataSource({ type: 'sqlite', database: join(dir, 'node.sqlite') });
    await ds.initialize();
    // The bogus input (which names the member) is kept, sealed: the scan above covered it.
    expect((await ds.query<{ n: number }[]>(`SELECT COUNT(*) AS n FROM node_sealed_rejects`))[0]!.n).toBe(1);
    await ds.query(`CREATE TABLE planted (v text)`);
    await ds.query(`INSERT INTO planted (v) VALUES (?)`, ['a note about Zebulon Quartzfeld']);
    expect(await scan(SQLITE_FILES, needles)).not.toEqual([]);
    await ds.destroy();
    expect(await scan(SQLITE_FILES, needles)).toEqual(['member name in node.sqlite']);
  });

  it('seals a store from before sealing on open: rows readable, plaintext tables and pages gone', async () => {
    // A store in the first schema, written as the previous version did (plaintext rows).
    const founder = Identity.generate();
    const author = PursuanceAuthor.create(founder, { name: 'Legacy Cell Wombat', rules: cellRules });
    const added = author.addMember(Identity.generate().publicKey, { name: 'Ottoline Brackwater', roles: ['member'] });
    const path = join(dir, 'node.sqlite');
    await mkdir(dir, { recursive: true });
    const legacy = new DataSource({ type: 'sqlite', database: path, migrations: [NodeEventStore1763856000000], enableWAL: true });
    await legacy.initialize();
    await legacy.runMigrations();
    for (const e of [author.log.genesis, added]) {
      await legacy.query(`INSERT INTO node_events (id, pursuance_id, kind, author, origin, received_at, bytes) VALUES (?, ?, ?, ?, ?, ?, ?)`, [
        e.id,
        author.log.id,
        e.header.kind,
        e.author,
        'group',
        1,
        Buffer.from(e.bytes),
      ]);
    }
    await legacy.query(`INSERT INTO node_rejected_inputs (hash, pursuance_id, code, reason, origin, received_at, bytes) VALUES (?, ?, ?, ?, ?, ?, ?)`, [
      'cd'.repeat(32),
      author.log.id,
      'MALFORMED',
      'said Ottoline Brackwater',
      'peer',
      2,
      Buffer.from('junk'),
    ]);
    await legacy.destroy();
    const needles = { name: text('Legacy Cell Wombat'), member: text('Ottoline Brackwater'), founder: text(founder.onion), pursuance: text(author.log.id) };
    expect(await scan(SQLITE_FILES, needles)).not.toEqual([]); // the control: plaintext before

    const n = await start();
    expect(n.registry.has(author.log.id)).toBe(true);
    expect(n.registry.get(author.log.id).log.state().name).toBe('Legacy Cell Wombat');
    expect(n.registry.get(author.log.id).log.state().members.size).toBe(2);
    await n.close();
    node = undefined;
    expect(await scan(SQLITE_FILES, needles)).toEqual([]);

    const opened = await openNodeStore({ dataDir: dir, password, scrypt: TEST_SCRYPT_PARAMS });
    try {
      expect(await opened.store.count(author.log.id)).toBe(2);
      expect((await opened.store.rejectedInputs(author.log.id)).map((r) => [r.code, r.reason, r.origin])).toEqual([
        ['MALFORMED', 'said Ottoline Brackwater', 'peer'],
      ]);
      const tables = (
        await opened.store.dataSource.query<{ name: string }[]>(
          `SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('node_events', 'node_rejected_inputs')`,
        )
      ).length;
      expect(tables).toBe(0);
    } finally {
      await opened.close();
    }
  });
});

describe('data dir permissions (finding 10)', () => {
  it("forces an existing 0755 data dir to 0700 and the node's files in it, old and new, to owner-only", async () => {
    await chmod(dir, 0o755);
    await writeFile(join(dir, 'api-token'), `${'a'.repeat(43)}\n`, { mode: 0o644 });
    await chmod(join(dir, 'api-token'), 0o644);
    await writeFile(join(dir, 'identity.json'), '{}\n', { mode: 0o644 });
    await chmod(join(dir, 'identity.json'), 0o644);
    await writeFile(join(dir, 'node.sqlite'), new Uint8Array(0), { mode: 0o644 });
    await chmod(join(dir, 'node.sqlite'), 0o644);
    // Not the node's: left as it is (a data dir pointed at a folder holding other things).
    await writeFile(join(dir, 'unrelated.txt'), 'x', { mode: 0o644 });
    await chmod(join(dir, 'unrelated.txt'), 0o644);
    const n = await start();
    expect(n.token).toBe('a'.repeat(43)); // the existing token was kept, only its mode changed
    // Write something, so the WAL files exist.
    expect((await http(n.port, 'POST', '/api/pursuances', { token: n.token, body: { name: 'Modes', template: 'activist-cell' } })).status).toBe(201);
    const check = async (expected: readonly string[]) => {
      expect((await stat(dir)).mode & 0o777).toBe(0o700);
      const files = await readdir(dir);
      for (const f of expected) expect(files).toContain(f);
      for (const f of files.filter((x) => x !== 'unrelated.txt')) expect([f, (await stat(join(dir, f))).mode & 0o077]).toEqual([f, 0]);
      expect((await stat(join(dir, 'unrelated.txt'))).mode & 0o777).toBe(0o644);
    };
    await check([
      'api-token',
      'identity.json',
      'node.sqlite',
      'node.sqlite-wal',
      'node.sqlite-shm',
      'profile.sqlite',
      'profile.sqlite-wal',
      'profile.sqlite-shm',
    ]);
    await n.close();
    node = undefined;
    await check(['api-token', 'identity.json', 'node.sqlite', 'profile.sqlite']);
  });
});

describe('profile passwords (finding 10)', () => {
  it('refuses an empty or too-short password for a new profile with a typed error, and nothing is created', async () => {
    for (const pw of ['', '        ', 'short', '1234567']) {
      const err = await start(pw).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WeakPasswordError);
      expect((err as WeakPasswordError).code).toBe('WEAK_PASSWORD');
      expect((err as Error).message).toMatch(/at least 8 characters/);
    }
    expect((await readdir(dir)).filter((f) => f.startsWith('node.sqlite'))).toEqual([]);
    // The same data dir then takes a good password.
    const n = await start('eight ch');
    expect(n.identity.onion).toMatch(/^[a-z2-7]{56}$/);
  });

  it('opens an existing profile whatever its password, and a wrong one is still a wrong password', async () => {
    // A profile sealed under a short password before the rule existed.
    const store = await TypeormProfileStore.open({ path: join(dir, 'profile.sqlite') });
    const acn = new LoopbackACN();
    const peer = await CwtchPeer.create({ store, acn, password: 'old', displayName: 'old', scryptParams: TEST_SCRYPT_PARAMS });
    const onion = peer.identity.onion;
    await store.close();
    await acn.close();
    expect(await start('wrong').catch((e: unknown) => e)).toBeInstanceOf(ProfilePasswordError);
    expect((await start('old')).identity.onion).toBe(onion);
  });

  it('says a wrong password before a broken rules template (read while scrypt runs), which still stops the start', async () => {
    await (await start()).close();
    node = undefined;
    // A template whose roles are a prototype name, beside the shipped ones.
    const templatesDir = join(dir, 'templates');
    await mkdir(templatesDir);
    for (const file of await readdir(DEFAULT_TEMPLATES_DIR)) await writeFile(join(templatesDir, file), await readFile(join(DEFAULT_TEMPLATES_DIR, file)));
    await writeFile(join(templatesDir, '__proto__.json'), JSON.stringify({ name: '__proto__', roles: { __proto__: { title: 'x', can: [] } } }));
    const startWith = (pw: string) => startNode({ dataDir: dir, password: pw, scrypt: TEST_SCRYPT_PARAMS, logger: false, dashboardDir: null, templatesDir });
    expect(await startWith('wrong password').catch((e: unknown) => e)).toBeInstanceOf(ProfilePasswordError);
    const broken = await startWith(password).catch((e: unknown) => e);
    expect(broken).toBeInstanceOf(Error);
    expect(broken).not.toBeInstanceOf(ProfilePasswordError);
    // Nothing was left running: the data dir starts again with the shipped templates.
    expect((await start()).identity.onion).toMatch(/^[a-z2-7]{56}$/);
  });
});
