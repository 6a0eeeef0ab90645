import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Identity } from '@pursuance/crypto';
import { exportKeyBundle, signKeyBundle } from '@pursuance/relay';
import { testTokenKeys } from '@pursuance/relay/testing';
import { http } from '../../apps/node/test/support/http.js';
import { spawnCli, type Spawned } from '../support/processes.js';

let dir: string;
const env = { PURSUANCE_PASSWORD: 'node process password' };
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'node-proc-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function startProcess(extra: readonly string[] = []): Promise<{ proc: Spawned; port: number; token: string; onion: string }> {
  const proc = spawnCli(['node', 'start', '--data-dir', dir, '--port', '0', ...extra], env);
  const [, onion] = await proc.waitForLine(/node ([a-z2-7]{56})\n/);
  const [, port] = await proc.waitForLine(/dashboard http:\/\/127\.0\.0\.1:(\d+)\/\n/);
  const [, token] = await proc.waitForLine(/token ([A-Za-z0-9_-]{43})\n/);
  return { proc, port: Number(port), token: token!, onion: onion! };
}

describe('pursuance node start (a real process, a real SQLite file)', () => {
  it('serves its API, survives a graceful restart with the same state, and keeps its token', async () => {
    const first = await startProcess();
    const created = await http(first.port, 'POST', '/api/pursuances', { token: first.token, body: { name: 'Proc', template: 'activist-cell' } });
    expect(created.status).toBe(201);
    const { id, stateHash } = created.body as { id: string; stateHash: string };
    await http(first.port, 'POST', `/api/pursuances/${id}/tasks`, { token: first.token, body: { audience: ['member'], title: 'durable' } });
    const before = (await http(first.port, 'GET', `/api/pursuances/${id}`, { token: first.token })).body as { stateHash: string };
    expect(before.stateHash).not.toBe(stateHash);
    expect(await first.proc.stop('SIGTERM')).toBe(0);

    const second = await startProcess();
    try {
      expect(second.onion).toBe(first.onion);
      expect(second.token).toBe(first.token);
      const after = (await http(second.port, 'GET', `/api/pursuances/${id}`, { token: second.token })).body as { stateHash: string };
      expect(after.stateHash).toBe(before.stateHash);
    } finally {
      await second.proc.stop('SIGTERM');
    }
  });

  it('keeps every acknowledged command across kill -9', async () => {
    const node = await startProcess();
    const { id } = (await http(node.port, 'POST', '/api/pursuances', { token: node.token, body: { name: 'Crash', template: 'activist-cell' } })).body as {
      id: string;
    };
    const acknowledged: string[] = [];
    for (let i = 0; i < 40; i++) {
      const r = await http(node.port, 'POST', `/api/pursuances/${id}/tasks`, { token: node.token, body: { audience: ['member'], title: `t${i}` } });
      expect(r.status).toBe(201);
      acknowledged.push((r.body as { id: string }).id);
    }
    const hash = ((await http(node.port, 'GET', `/api/pursuances/${id}`, { token: node.token })).body as { stateHash: string }).stateHash;
    node.proc.child.kill('SIGKILL');
    await node.proc.stop();
    const again = await startProcess();
    try {
      const tasks = (await http(again.port, 'GET', `/api/pursuances/${id}/tasks`, { token: again.token })).body as { id: string }[];
      expect(tasks.map((t) => t.id)).toEqual(expect.arrayContaining(acknowledged));
      expect(((await http(again.port, 'GET', `/api/pursuances/${id}`, { token: again.token })).body as { stateHash: string }).stateHash).toBe(hash);
    } finally {
      await again.proc.stop('SIGTERM');
    }
  });

  it('--name names the profile, renames it on a later start, and refuses an unsafe name as a usage error', async () => {
    const profileName = async (n: { port: number; token: string }) =>
      ((await http(n.port, 'GET', '/api/profile', { token: n.token })).body as { name: string }).name;
    const first = await startProcess(['--name', '  Ada  ']);
    try {
      expect(await profileName(first)).toBe('Ada');
    } finally {
      expect(await first.proc.stop('SIGTERM')).toBe(0);
    }
    const renamed = await startProcess(['--name', 'Ada L.']);
    try {
      expect(await profileName(renamed)).toBe('Ada L.');
    } finally {
      expect(await renamed.proc.stop('SIGTERM')).toBe(0);
    }
    const refused = spawnCli(['node', 'start', '--data-dir', dir, '--port', '0', '--name', 'Ada\u202eevil'], env);
    expect(await new Promise((resolve) => refused.child.once('exit', resolve))).toBe(2);
    expect(refused.stderr()).toContain('--name must not contain');
    const unchanged = await startProcess();
    try {
      expect(await profileName(unchanged)).toBe('Ada L.');
    } finally {
      await unchanged.proc.stop('SIGTERM');
    }
  });

  it('--relay pins a relay so the dashboard offers it, and refuses a garbage bundle as a usage error', async () => {
    const board = Identity.generate();
    const bundle = exportKeyBundle(signKeyBundle(board, Identity.generate().onion, testTokenKeys()));
    const refused = spawnCli(['node', 'start', '--data-dir', dir, '--port', '0', '--relay', 'key-bundle garbage'], env);
    expect(await new Promise((resolve) => refused.child.once('exit', resolve))).toBe(2);
    expect(refused.stderr()).toContain('--relay: This is not a valid relay bundle');
    const pinned = await startProcess(['--relay', `relay bundle ${bundle}`]);
    try {
      const relays = (await http(pinned.port, 'GET', '/api/relays', { token: pinned.token })).body as { boardOnion: string; bundle: string }[];
      expect(relays.map((r) => r.boardOnion)).toContain(board.onion);
    } finally {
      expect(await pinned.proc.stop('SIGTERM')).toBe(0);
    }
  });

  it('refuses a wrong password with exit code 3 and touches nothing', async () => {
    const proc = spawnCli(['node', 'start', '--data-dir', dir, '--port', '0'], { PURSUANCE_PASSWORD: 'wrong wrong' });
    expect(await new Promise((resolve) => proc.child.once('exit', resolve))).toBe(3);
  });
});
