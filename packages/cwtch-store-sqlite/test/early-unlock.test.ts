import 'reflect-metadata';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sqlite3 from 'sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TEST_SCRYPT_PARAMS } from '@pursuance/crypto';
import { CwtchPeer } from '@pursuance/cwtch';
import { LoopbackACN } from '@pursuance/tapir';
import { peekProfileHeader, primeProfileUnlock } from '../src/early-unlock.js';
import { TypeormProfileStore } from '../src/index.js';

const sha = async (path: string): Promise<string> =>
  createHash('sha256')
    .update(await readFile(path))
    .digest('hex');

function exec(path: string, sql: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(path, (err) => {
      if (err) return reject(err);
      db.exec(sql, (e) => db.close(() => (e ? reject(e) : resolve())));
    });
  });
}

describe('peekProfileHeader / primeProfileUnlock', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'early-unlock-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reads a real profile's header as the store holds it, and primes its unlock", async () => {
    const path = join(dir, 'profile.sqlite');
    const acn = new LoopbackACN();
    const store = await TypeormProfileStore.open({ path });
    try {
      const peer = await CwtchPeer.create({ store, acn, password: 'a long enough password', displayName: '', scryptParams: TEST_SCRYPT_PARAMS });
      const header = await store.readHeader();
      expect(header).toBeDefined();
      expect(Buffer.from((await peekProfileHeader(path))!).equals(Buffer.from(header!))).toBe(true);
      expect(await primeProfileUnlock(path, 'a long enough password')).toBe(true);
      const again = await CwtchPeer.open({ store, acn, password: 'a long enough password' });
      expect(again.identity.onion).toBe(peer.identity.onion);
    } finally {
      await store.close();
      await acn.close();
    }
  });

  it('never creates a file that is not there', async () => {
    const path = join(dir, 'profile.sqlite');
    expect(await peekProfileHeader(path)).toBeUndefined();
    expect(await primeProfileUnlock(path, 'pw')).toBe(false);
    expect(existsSync(path)).toBe(false);
  });

  it('declines files that are not a profile, and leaves them as they were', async () => {
    const garbage = join(dir, 'garbage.sqlite');
    await writeFile(garbage, Buffer.alloc(4096, 0x5a));
    const empty = join(dir, 'empty.sqlite');
    await exec(empty, 'CREATE TABLE other (id INTEGER PRIMARY KEY)');
    const noRow = join(dir, 'no-row.sqlite');
    await exec(noRow, 'CREATE TABLE cwtch_profile_header (id INTEGER PRIMARY KEY, header BLOB NOT NULL)');
    const textHeader = join(dir, 'text-header.sqlite');
    await exec(textHeader, `CREATE TABLE cwtch_profile_header (id INTEGER PRIMARY KEY, header); INSERT INTO cwtch_profile_header VALUES (1, '{"v":1}')`);
    const badHeader = join(dir, 'bad-header.sqlite');
    await exec(badHeader, `CREATE TABLE cwtch_profile_header (id INTEGER PRIMARY KEY, header BLOB); INSERT INTO cwtch_profile_header VALUES (1, x'7b7d')`);
    for (const path of [garbage, empty, noRow, textHeader, badHeader]) {
      const before = await sha(path);
      expect(await primeProfileUnlock(path, 'pw'), path).toBe(false);
      expect(await sha(path), path).toBe(before);
    }
    expect(await peekProfileHeader(textHeader)).toBeUndefined();
    expect([...(await peekProfileHeader(badHeader))!]).toEqual([0x7b, 0x7d]);
  });
});
