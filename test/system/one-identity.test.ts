/**
 * One identity per profile (issue 14, "names and identity"): `pursuance identity create` and
 * `pursuance node start` on the same folder are the same identity, whichever comes first, and
 * both use the same folder when --data-dir is left out (~/.pursuance, or PURSUANCE_DATA_DIR).
 * Real processes, each command a `pursuance` process of its own.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseOnionName, publicKeyFromOnion } from '@pursuance/crypto';
import { http } from '../../apps/node/test/support/http.js';
import { CLI } from '../support/processes.js';

let dir: string;
const PASSWORD = 'one identity password';
const running = new Set<ReturnType<typeof spawn>>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'one-identity-'));
});
afterAll(async () => {
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

/**
 * The environment of a user whose home is `home`: PURSUANCE_DATA_DIR only when given (never
 * inherited from whoever runs the tests), run from `cwd` (a folder of the test's own, so a
 * profile under an earlier default in the repository's working directory plays no part).
 */
function userEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, HOME: home, PURSUANCE_DATA_DIR: undefined, PURSUANCE_PASSWORD: PASSWORD, ...extra };
}

function run(args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

/**
 * `pursuance node start` until it has announced itself, then (after `probe`, given its
 * dashboard port and token) SIGTERM: the onion it printed.
 */
async function nodeOnion(args: string[], env: NodeJS.ProcessEnv, cwd: string, probe?: (port: number, token: string) => Promise<void>): Promise<string> {
  const child = spawn(process.execPath, [CLI, 'node', 'start', '--port', '0', ...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let out = '';
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const [, onion, port, token] = await new Promise<RegExpExecArray>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /^node ([a-z2-7]{56})\ndashboard http:\/\/127\.0\.0\.1:(\d+)\/\ntoken (\S+)\nsign-in \S+\n/m.exec(out);
      if (m) resolve(m);
    });
    void exited.then((code) => reject(new Error(`node start exited (${code}) before announcing itself:\n${out}${err}`)));
  });
  try {
    await probe?.(Number(port), token!);
  } finally {
    child.kill('SIGTERM');
  }
  expect(await exited).toBe(0);
  running.delete(child);
  return onion!;
}

describe('identity create and node start share one identity', () => {
  it('identity create, then node start on the same folder: the same onion, and identity show agrees', { timeout: 120_000 }, async () => {
    const home = join(dir, 'home-a');
    const dataDir = join(dir, 'created-first');
    const env = userEnv(home);
    const created = await run(['identity', 'create', '--data-dir', dataDir, '--name', 'Rosa'], env, dir);
    expect(created).toMatchObject({ code: 0, stderr: '' });
    const onion = parseOnionName(created.stdout.trim());
    // Nothing names the identity in the clear: the one file is the sealed profile.
    expect((await readdir(dataDir)).sort()).toEqual(['profile.sqlite']);
    const bytes = await readFile(join(dataDir, 'profile.sqlite'));
    expect(bytes.includes(Buffer.from(onion))).toBe(false);
    expect(bytes.includes(Buffer.from(publicKeyFromOnion(onion)))).toBe(false);

    // The node's profile is the one identity create made: its onion, and the name given there.
    const profile = async (port: number, token: string): Promise<void> => {
      expect((await http(port, 'GET', '/api/profile', { token })).body).toEqual({ onion, name: 'Rosa' });
    };
    expect(await nodeOnion(['--data-dir', dataDir], env, dir, profile)).toBe(onion);
    expect((await run(['identity', 'show', '--data-dir', dataDir], env, dir)).stdout).toBe(`${onion}\n`);
    // The flag scripts used to pass is still accepted.
    expect((await run(['identity', 'show', '--verify', '--data-dir', dataDir], env, dir)).stdout).toBe(`${onion}\n`);
    // The node opened the profile identity create made, rather than replacing it.
    expect(await nodeOnion(['--data-dir', dataDir], env, dir)).toBe(onion);
  });

  it(
    'node start first (an existing data dir): identity show prints the node’s onion; identity create refuses to replace it',
    { timeout: 120_000 },
    async () => {
      const home = join(dir, 'home-b');
      const dataDir = join(dir, 'node-first');
      const env = userEnv(home);
      const onion = await nodeOnion(['--data-dir', dataDir], env, dir);
      const shown = await run(['identity', 'show', '--data-dir', dataDir], env, dir);
      expect(shown).toEqual({ code: 0, stdout: `${onion}\n`, stderr: '' });

      const again = await run(['identity', 'create', '--data-dir', dataDir], env, dir);
      expect(again.code).toBe(2);
      expect(again.stderr).toBe(`pursuance: an identity already exists in ${dataDir}; refusing to overwrite it\n`);
      expect(await nodeOnion(['--data-dir', dataDir], env, dir)).toBe(onion);

      const wrong = await run(['identity', 'show', '--data-dir', dataDir], { ...env, PURSUANCE_PASSWORD: 'not the password' }, dir);
      expect(wrong).toEqual({ code: 3, stdout: '', stderr: 'pursuance: wrong password for this profile\n' });
    },
  );

  it('shows nothing for a folder without a profile, and creates nothing there', async () => {
    const env = userEnv(join(dir, 'home-c'));
    const empty = join(dir, 'no-profile');
    const shown = await run(['identity', 'show', '--data-dir', empty], env, dir);
    expect(shown.code).toBe(2);
    expect(shown.stderr).toBe(`pursuance: no identity in ${empty}: run \`pursuance identity create\` (or \`pursuance node start\`) first\n`);
    expect(existsSync(empty)).toBe(false);
    // A refused password makes no profile either.
    const weak = await run(['identity', 'create', '--data-dir', empty], { ...env, PURSUANCE_PASSWORD: 'short' }, dir);
    expect(weak.code).toBe(2);
    expect(existsSync(join(empty, 'profile.sqlite'))).toBe(false);
  });
});

describe('the default data dir', () => {
  it('is ~/.pursuance for identity create, node start and identity show when --data-dir is left out', { timeout: 120_000 }, async () => {
    const home = join(dir, 'home-default');
    await mkdir(home);
    const env = userEnv(home);
    const created = await run(['identity', 'create'], env, dir);
    expect(created).toMatchObject({ code: 0, stderr: '' });
    const onion = parseOnionName(created.stdout.trim());
    expect(existsSync(join(home, '.pursuance', 'profile.sqlite'))).toBe(true);
    expect(await nodeOnion([], env, dir)).toBe(onion);
    expect((await readdir(join(home, '.pursuance'))).sort()).toEqual(expect.arrayContaining(['api-token', 'node.sqlite', 'profile.sqlite']));
    expect((await run(['identity', 'show'], env, dir)).stdout).toBe(`${onion}\n`);
    // Nothing was made in the working directory.
    expect(existsSync(join(dir, '.data'))).toBe(false);
  });

  it('is PURSUANCE_DATA_DIR when set, and --data-dir over both', { timeout: 120_000 }, async () => {
    const home = join(dir, 'home-env');
    await mkdir(home);
    const fromEnv = join(dir, 'env-dir');
    const env = userEnv(home, { PURSUANCE_DATA_DIR: fromEnv });
    const created = await run(['identity', 'create'], env, dir);
    expect(created.code).toBe(0);
    const onion = parseOnionName(created.stdout.trim());
    expect(existsSync(join(fromEnv, 'profile.sqlite'))).toBe(true);
    expect(existsSync(join(home, '.pursuance'))).toBe(false);
    expect(await nodeOnion([], env, dir)).toBe(onion);

    const flagged = join(dir, 'flag-dir');
    const other = await run(['identity', 'create', '--data-dir', flagged], env, dir);
    expect(other.code).toBe(0);
    expect(other.stdout.trim()).not.toBe(onion);
    expect(existsSync(join(flagged, 'profile.sqlite'))).toBe(true);
  });

  it('points to a profile kept under an earlier default, and at an identity.json an earlier identity create left', async () => {
    const home = join(dir, 'home-earlier');
    const cwd = join(dir, 'project');
    await mkdir(join(cwd, '.data', 'node'), { recursive: true });
    // Where `node start` kept its profile before the default moved (the file's presence is the signal).
    await writeFile(join(cwd, '.data', 'node', 'profile.sqlite'), '');
    const shown = await run(['identity', 'show'], userEnv(home), cwd);
    expect(shown.code).toBe(2);
    expect(shown.stderr).toContain(
      `pursuance: using ${join(home, '.pursuance')}; ${join('.data', 'node')} here holds a profile from an earlier version's default: pass --data-dir ${join('.data', 'node')} to use it\n`,
    );

    const legacy = join(dir, 'legacy');
    await mkdir(legacy);
    await writeFile(join(legacy, 'identity.json'), '{}\n');
    const created = await run(['identity', 'create', '--data-dir', legacy], userEnv(home), cwd);
    expect(created.code).toBe(0);
    expect(created.stderr).toBe(
      `pursuance: ${join(legacy, 'identity.json')} was made by an earlier \`identity create\` and is not this profile's identity; it is no longer used\n`,
    );
  });
});
