import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Identity, TEST_SCRYPT_PARAMS, canonicalEncode, sealWithPassword, toBase64, toHex } from '@pursuance/crypto';
import { generateVoprfKeyPair } from '@pursuance/relay';
import { lockDataDir } from '../src/data-dir-lock.js';
import { DaemonError, ExitCode } from '../src/errors.js';
import { keysPath, loadOrCreateRelayKeys } from '../src/keystore.js';
import { code, createLogger, type LogCode } from '../src/logger.js';
import { readRelayPassword } from '../src/password.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'relay-parts-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('relay keys at rest', () => {
  it('creates sealed keys once and reopens the same keys; the file holds no secret in the clear', async () => {
    const first = await loadOrCreateRelayKeys(dir, 'a long password', TEST_SCRYPT_PARAMS);
    expect(first.created).toBe(true);
    const again = await loadOrCreateRelayKeys(dir, 'a long password');
    expect(again.created).toBe(false);
    expect(again.keys.boardIdentity.onion).toBe(first.keys.boardIdentity.onion);
    expect(again.keys.tokenIdentity.onion).toBe(first.keys.tokenIdentity.onion);
    expect(again.keys.tokenKeys.root).toEqual(first.keys.tokenKeys.root);
    expect(again.keys.tokenKeys.schedule).toEqual(first.keys.tokenKeys.schedule);
    expect(again.keys.tokenKeys.key(5).secretKey).toEqual(first.keys.tokenKeys.key(5).secretKey);
    expect(first.keys.tokenKeys.schedule.count).toBe(1024);
    const text = await readFile(keysPath(dir), 'utf8');
    for (const epoch of [0, 1, 1023]) {
      expect(text).not.toContain(toHex(first.keys.tokenKeys.key(epoch).secretKey));
      expect(text).not.toContain(Buffer.from(first.keys.tokenKeys.key(epoch).secretKey).toString('base64'));
    }
  });

  it('upgrades a key file from before token epochs: same onions, a fresh schedule from today, the old key gone', async () => {
    const board = new Uint8Array(32).fill(1);
    const token = new Uint8Array(32).fill(2);
    const voprf = generateVoprfKeyPair();
    const v1 = {
      v: 1,
      boardOnion: Identity.fromSeed(board).onion,
      tokenOnion: Identity.fromSeed(token).onion,
      tokenPublicKey: toBase64(voprf.publicKey),
      sealed: await sealWithPassword('a long password', canonicalEncode({ board, token, voprf: voprf.secretKey }), TEST_SCRYPT_PARAMS),
    };
    await writeFile(keysPath(dir), JSON.stringify(v1));
    const now = Date.UTC(2026, 11, 3, 15);
    const upgraded = await loadOrCreateRelayKeys(dir, 'a long password', TEST_SCRYPT_PARAMS, () => now);
    expect(upgraded).toMatchObject({ created: false, upgraded: true });
    expect(upgraded.keys.boardIdentity.onion).toBe(v1.boardOnion);
    expect(upgraded.keys.tokenIdentity.onion).toBe(v1.tokenOnion);
    expect(upgraded.keys.tokenKeys.schedule.startSeconds).toBe(Date.UTC(2026, 11, 3) / 1000);
    const file = JSON.parse(await readFile(keysPath(dir), 'utf8')) as { v: number; tokenPublicKey?: string };
    expect(file.v).toBe(2);
    expect(file.tokenPublicKey).toBeUndefined();
    const again = await loadOrCreateRelayKeys(dir, 'a long password');
    expect(again).toMatchObject({ created: false, upgraded: false });
    expect(again.keys.tokenKeys.root).toEqual(upgraded.keys.tokenKeys.root);
  });

  it('refuses a wrong password (exit 3), a short new password (exit 2) and a file whose public half was swapped', async () => {
    await expect(loadOrCreateRelayKeys(join(dir, 'new'), 'short')).rejects.toMatchObject({ exitCode: ExitCode.usage });
    await loadOrCreateRelayKeys(dir, 'a long password', TEST_SCRYPT_PARAMS);
    await expect(loadOrCreateRelayKeys(dir, 'another password')).rejects.toMatchObject({ exitCode: ExitCode.wrongPassword });
    const file = JSON.parse(await readFile(keysPath(dir), 'utf8'));
    const other = await loadOrCreateRelayKeys(join(dir, 'other'), 'a long password', TEST_SCRYPT_PARAMS);
    await writeFile(keysPath(dir), JSON.stringify({ ...file, boardOnion: other.keys.boardIdentity.onion }));
    await expect(loadOrCreateRelayKeys(dir, 'a long password')).rejects.toThrow(/inconsistent/);
    // A swapped token root (a tagging relay's dream: publish keys the seed does not make) or schedule.
    await writeFile(keysPath(dir), JSON.stringify({ ...file, tokenEpochRoot: toBase64(other.keys.tokenKeys.root) }));
    await expect(loadOrCreateRelayKeys(dir, 'a long password')).rejects.toThrow(/root does not match/);
    await writeFile(keysPath(dir), JSON.stringify({ ...file, tokenSchedule: { ...file.tokenSchedule, count: 1000 } }));
    await expect(loadOrCreateRelayKeys(dir, 'a long password')).rejects.toThrow(/inconsistent/);
  });
});

describe('relay password', () => {
  it('reads the file (one trailing newline dropped), else the environment, never empty', async () => {
    await writeFile(join(dir, 'pw'), 'from a file\n');
    expect(await readRelayPassword(join(dir, 'pw'), {})).toBe('from a file');
    expect(await readRelayPassword(undefined, { PURSUANCE_RELAY_PASSWORD: 'from env' })).toBe('from env');
    await expect(readRelayPassword(undefined, {})).rejects.toMatchObject({ exitCode: ExitCode.usage });
    await expect(readRelayPassword(join(dir, 'missing'), {})).rejects.toBeInstanceOf(DaemonError);
  });
});

describe('data dir lock', () => {
  it('lets one process hold a data dir and takes over a stale lock', async () => {
    const unlock = await lockDataDir(dir);
    // Held by a live process (this one, as far as the file says, via a fake pid of our parent).
    await writeFile(join(dir, 'relay.lock'), `${process.ppid}\n`);
    await expect(lockDataDir(dir)).rejects.toMatchObject({ exitCode: ExitCode.dataDirInUse });
    // A dead owner: taken over.
    await writeFile(join(dir, 'relay.lock'), '999999999\n');
    const again = await lockDataDir(dir);
    await again();
    await unlock();
  });
});

describe('JSON logger', () => {
  it('writes one JSON object per line, honours the level, and never writes free text', () => {
    const lines: string[] = [];
    const log = createLogger('info', (l) => lines.push(l));
    log.debug('hidden');
    log.info('post.rejected', { code: code('TOKEN_SPENT'), count: 3, ok: false });
    // A value that is not a short code (say a base64 ciphertext or a sentence) is replaced.
    log.warn('oops', { detail: 'the secret plaintext has spaces' as LogCode, blob: code('A'.repeat(100)) });
    expect(lines.length).toBe(2);
    const [first, second] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(first).toMatchObject({ level: 'info', event: 'post.rejected', code: 'TOKEN_SPENT', count: 3, ok: false });
    expect(second).toMatchObject({ level: 'warn', event: 'oops', detail: 'invalid-code', blob: 'invalid-code' });
    expect(lines.join('')).not.toContain('secret');
  });
});
