import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Identity, TEST_SCRYPT_PARAMS } from '@pursuance/crypto';
import { LoopbackACN } from '@pursuance/tapir';
import { CwtchPeer } from '../cwtch-peer.js';
import { ProfileCorruptError, ProfileExistsError, ProfileNotFoundError, StoreClosedError, StoreInvalidOperationError, WrongPasswordError } from '../errors.js';
import { MAX_STORE_VALUE_SIZE, type ProfileStore, type StoreOp } from '../store.js';
import { ProfileVault } from '../vault.js';

/**
 * The ProfileStore contract. Every implementation runs this suite (memory in packages/cwtch,
 * SQLite in packages/cwtch-store-sqlite). `open` may be called repeatedly on one harness and
 * must return a store over the same data each time (a restart), so durability across reopen
 * is part of the contract. The last block runs a whole sealed profile on the store: wrong
 * passwords, tampering and restarts.
 */
export interface ProfileStoreHarness {
  open(): Promise<ProfileStore>;
  /** Every byte the store keeps, in a comparable form (to prove nothing was written). */
  snapshot(): Promise<string>;
  cleanup(): Promise<void>;
}

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);
const put = (collection: string, key: string, value: Uint8Array): StoreOp => ({ type: 'put', collection, key, value });
const del = (collection: string, key: string): StoreOp => ({ type: 'delete', collection, key });

async function keys(store: ProfileStore, collection: string): Promise<string[]> {
  return (await store.list(collection)).map((r) => r.key);
}

export function runProfileStoreContractTests(setup: () => Promise<ProfileStoreHarness>, title = 'ProfileStore'): void {
  describe(`ProfileStore contract: ${title}`, () => {
    let harness: ProfileStoreHarness;
    let store: ProfileStore;
    beforeEach(async () => {
      harness = await setup();
      store = await harness.open();
    });
    afterEach(async () => {
      await store.close();
      await harness.cleanup();
    });

    async function reopen(): Promise<ProfileStore> {
      await store.close();
      store = await harness.open();
      return store;
    }

    it('starts empty', async () => {
      expect(await store.readHeader()).toBeUndefined();
      expect(await store.get('c', 'k')).toBeUndefined();
      expect(await store.list('c')).toEqual([]);
      expect(await store.count('c')).toBe(0);
    });

    it('stores one header and refuses to replace it', async () => {
      await store.createHeader(bytes(1, 2, 3));
      await expect(store.createHeader(bytes(9))).rejects.toBeInstanceOf(ProfileExistsError);
      expect(await store.readHeader()).toEqual(bytes(1, 2, 3));
      await reopen();
      expect(await store.readHeader()).toEqual(bytes(1, 2, 3));
      await expect(store.createHeader(bytes(9))).rejects.toMatchObject({ code: 'PROFILE_EXISTS' });
    });

    it('puts, gets, replaces and deletes records, byte for byte', async () => {
      const big = new Uint8Array(100_000).map((_, i) => i % 251);
      await store.write([put('c', 'a', bytes(0, 255, 0)), put('c', 'empty', new Uint8Array(0)), put('c', 'big', big)]);
      expect(await store.get('c', 'a')).toEqual(bytes(0, 255, 0));
      expect(await store.get('c', 'empty')).toEqual(new Uint8Array(0));
      expect(await store.get('c', 'big')).toEqual(big);
      await store.write([put('c', 'a', bytes(7))]);
      expect(await store.get('c', 'a')).toEqual(bytes(7));
      await store.write([del('c', 'a'), del('c', 'never-there')]);
      expect(await store.get('c', 'a')).toBeUndefined();
      expect(await store.count('c')).toBe(2);
    });

    it('returned bytes are copies: mutating them changes nothing stored', async () => {
      const value = bytes(1, 2, 3);
      await store.write([put('c', 'k', value)]);
      value[0] = 99;
      const read = (await store.get('c', 'k'))!;
      expect(read).toEqual(bytes(1, 2, 3));
      read[1] = 99;
      expect(await store.get('c', 'k')).toEqual(bytes(1, 2, 3));
    });

    it('keeps collections apart', async () => {
      await store.write([put('one', 'k', bytes(1)), put('two', 'k', bytes(2))]);
      expect(await store.get('one', 'k')).toEqual(bytes(1));
      expect(await store.get('two', 'k')).toEqual(bytes(2));
      await store.write([del('one', 'k')]);
      expect(await store.get('two', 'k')).toEqual(bytes(2));
      expect(await store.count('one')).toBe(0);
    });

    it('lists in first-insertion order; a replaced value keeps its place, a re-added key goes last', async () => {
      await store.write([put('c', 'x', bytes(1)), put('c', 'y', bytes(2)), put('c', 'z', bytes(3))]);
      await store.write([put('c', 'x', bytes(4))]);
      expect(await keys(store, 'c')).toEqual(['x', 'y', 'z']);
      await store.write([del('c', 'y'), put('c', 'y', bytes(5))]);
      expect(await keys(store, 'c')).toEqual(['x', 'z', 'y']);
      const listed = await store.list('c');
      expect(listed.map((r) => r.value)).toEqual([bytes(4), bytes(3), bytes(5)]);
      for (let i = 1; i < listed.length; i++) expect(listed[i]!.seq).toBeGreaterThan(listed[i - 1]!.seq);
    });

    it('pages with afterSeq and limit', async () => {
      await store.write(Array.from({ length: 25 }, (_, i) => put('c', `k${i}`, bytes(i))));
      const seen: string[] = [];
      let afterSeq = 0;
      for (;;) {
        const page = await store.list('c', { afterSeq, limit: 10 });
        seen.push(...page.map((r) => r.key));
        if (page.length < 10) break;
        afterSeq = page.at(-1)!.seq;
      }
      expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => `k${i}`));
      expect(await store.list('c', { limit: 0 })).toEqual([]);
      await expect(store.list('c', { limit: -1 })).rejects.toBeInstanceOf(StoreInvalidOperationError);
    });

    it('applies a batch in order: a put then a delete of the same key leaves nothing', async () => {
      await store.write([put('c', 'k', bytes(1)), del('c', 'k'), put('c', 'j', bytes(2)), put('c', 'j', bytes(3))]);
      expect(await store.get('c', 'k')).toBeUndefined();
      expect(await store.get('c', 'j')).toEqual(bytes(3));
    });

    it('refuses an invalid batch as a whole, writing nothing', async () => {
      await store.write([put('c', 'keep', bytes(1))]);
      const invalid: StoreOp[][] = [
        [put('c', 'new', bytes(2)), put('', 'k', bytes(1))],
        [put('c', 'new', bytes(2)), put('c', '', bytes(1))],
        [put('c', 'new', bytes(2)), put('c', 'x'.repeat(201), bytes(1))],
        [put('c', 'new', bytes(2)), put('c', 'k', new Uint8Array(MAX_STORE_VALUE_SIZE + 1))],
        [put('c', 'new', bytes(2)), { type: 'put', collection: 'c', key: 'k', value: 'text' } as unknown as StoreOp],
        [del('c', 'keep'), { type: 'drop', collection: 'c', key: 'k' } as unknown as StoreOp],
      ];
      for (const ops of invalid) await expect(store.write(ops)).rejects.toBeInstanceOf(StoreInvalidOperationError);
      expect(await keys(store, 'c')).toEqual(['keep']);
      await expect(store.createHeader(new Uint8Array(0))).rejects.toBeInstanceOf(StoreInvalidOperationError);
      expect(await store.readHeader()).toBeUndefined();
    });

    it('keeps everything across a restart', async () => {
      await store.createHeader(bytes(5));
      await store.write(Array.from({ length: 50 }, (_, i) => put(`c${i % 3}`, `k${i}`, bytes(i))));
      await store.write([del('c0', 'k0')]);
      const before = await Promise.all(['c0', 'c1', 'c2'].map((c) => store.list(c)));
      await reopen();
      expect(await Promise.all(['c0', 'c1', 'c2'].map((c) => store.list(c)))).toEqual(before);
      expect(await store.readHeader()).toEqual(bytes(5));
      // New records still go after the old ones.
      await store.write([put('c1', 'late', bytes(1))]);
      expect((await keys(store, 'c1')).at(-1)).toBe('late');
    });

    it('lands every one of many concurrent writes', async () => {
      await Promise.all(Array.from({ length: 40 }, (_, i) => store.write([put('c', `k${i}`, bytes(i)), put('d', `k${i}`, bytes(i))])));
      expect(await store.count('c')).toBe(40);
      expect(await store.count('d')).toBe(40);
    });

    it('rejects everything after close with StoreClosedError', async () => {
      await store.close();
      await expect(store.get('c', 'k')).rejects.toBeInstanceOf(StoreClosedError);
      await expect(store.write([put('c', 'k', bytes(1))])).rejects.toBeInstanceOf(StoreClosedError);
      await expect(store.list('c')).rejects.toBeInstanceOf(StoreClosedError);
      await expect(store.readHeader()).rejects.toBeInstanceOf(StoreClosedError);
      store = await harness.open();
    });

    describe('a sealed profile on this store', () => {
      const password = 'correct horse battery staple';
      const acn = new LoopbackACN({ registryDir: '/nonexistent-never-listened' });

      it('creates, reopens with the password, and refuses a second profile', async () => {
        const peer = await CwtchPeer.create({ store, acn, password, displayName: 'alice', scryptParams: TEST_SCRYPT_PARAMS });
        await peer.addContact(CwtchPeerOnions.a, 'bob');
        await peer.setPublicAttribute('bio', 'hi');
        await peer.stop();
        await reopen();
        const again = await CwtchPeer.open({ store, acn, password });
        expect(again.onion).toBe(peer.onion);
        expect(again.displayName).toBe('alice');
        expect(again.contacts()).toMatchObject([{ onion: CwtchPeerOnions.a, name: 'bob', state: 'accepted' }]);
        await again.stop();
        await expect(CwtchPeer.create({ store, acn, password: 'another', displayName: 'mallory', scryptParams: TEST_SCRYPT_PARAMS })).rejects.toBeInstanceOf(
          ProfileExistsError,
        );
        expect((await CwtchPeer.open({ store, acn, password })).onion).toBe(peer.onion);
      });

      it('a wrong password is a typed error and writes nothing', async () => {
        const peer = await CwtchPeer.create({ store, acn, password, displayName: 'alice', scryptParams: TEST_SCRYPT_PARAMS });
        await peer.addContact(CwtchPeerOnions.a);
        await peer.stop();
        await reopen();
        const before = await harness.snapshot();
        await expect(CwtchPeer.open({ store, acn, password: 'wrong password' })).rejects.toBeInstanceOf(WrongPasswordError);
        await expect(CwtchPeer.open({ store, acn, password: '' })).rejects.toMatchObject({ code: 'WRONG_PASSWORD' });
        await reopen();
        expect(await harness.snapshot()).toBe(before);
        expect((await CwtchPeer.open({ store, acn, password })).onion).toBe(peer.onion);
      });

      it('says when there is no profile, and when a record was tampered with', async () => {
        await expect(ProfileVault.unlock(store, password)).rejects.toBeInstanceOf(ProfileNotFoundError);
        const { vault } = await ProfileVault.create(store, password, TEST_SCRYPT_PARAMS);
        const op = vault.put('contacts', 'x', { hello: 'world' });
        await vault.write([op]);
        expect(await vault.get('contacts', 'x')).toEqual({ hello: 'world' });
        if (op.type !== 'put') throw new Error('unreachable');
        // Collection names and keys are hashed; values are sealed.
        expect(op.collection).not.toContain('contacts');
        expect(op.key).not.toContain('x');
        expect(Buffer.from(op.value).toString('latin1')).not.toContain('world');
        const flipped = new Uint8Array(op.value);
        flipped[flipped.length - 1]! ^= 1;
        await store.write([{ ...op, value: flipped }]);
        await expect(vault.get('contacts', 'x')).rejects.toBeInstanceOf(ProfileCorruptError);
        // A valid sealed record moved under another key is refused too.
        await store.write([op, { ...op, key: vault.put('contacts', 'y', null).key }]);
        await expect(vault.get('contacts', 'y')).rejects.toBeInstanceOf(ProfileCorruptError);
      });
    });
  });
}

/** Valid onion names for contract tests (no network needed). */
const CwtchPeerOnions = { a: Identity.generate().onion } as const;
