import fc from 'fast-check';
import type * as NodeCrypto from 'node:crypto';
import { beforeEach, describe, expect, it, vi } from 'vitest';

// Counting node's scrypt is how these tests see whether the unlock took the primed key.
const calls = vi.hoisted(() => ({ count: 0 }));
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof NodeCrypto>();
  return {
    ...actual,
    scrypt: (...args: Parameters<typeof actual.scrypt>) => {
      calls.count++;
      return actual.scrypt(...args);
    },
  };
});

const { TEST_SCRYPT_PARAMS } = await import('@pursuance/crypto');
const { MemoryProfileStore } = await import('../src/index.js');
const { ProfileVault } = await import('../src/vault.js');
const { WrongPasswordError } = await import('../src/errors.js');
const { primeVaultUnlock } = await import('../src/vault-prime.js');

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

async function profile(password: string): Promise<{ store: InstanceType<typeof MemoryProfileStore>; header: Uint8Array }> {
  const store = new MemoryProfileStore();
  await ProfileVault.create(store, password, TEST_SCRYPT_PARAMS);
  return { store, header: (await store.readHeader())! };
}

describe('primeVaultUnlock', () => {
  beforeEach(() => {
    calls.count = 0;
  });

  it("primes a real header's scrypt, and the unlock takes it instead of deriving again", async () => {
    const { store, header } = await profile('correct horse battery');
    calls.count = 0;
    expect(primeVaultUnlock(header, 'correct horse battery')).toBe(true);
    expect(calls.count).toBe(1);
    const { identity } = await ProfileVault.unlock(store, 'correct horse battery');
    expect(calls.count).toBe(1);
    const again = await ProfileVault.unlock(store, 'correct horse battery');
    expect(again.identity.onion).toBe(identity.onion);
    expect(calls.count).toBe(2);
  });

  it('a primed wrong password is still refused, and the right one is not helped by it', async () => {
    const { store, header } = await profile('correct horse battery');
    calls.count = 0;
    expect(primeVaultUnlock(header, 'wrong horse')).toBe(true);
    await expect(ProfileVault.unlock(store, 'wrong horse')).rejects.toBeInstanceOf(WrongPasswordError);
    await ProfileVault.unlock(store, 'correct horse battery');
    expect(calls.count).toBe(2);
  });

  it('declines, without throwing, headers it cannot read: the unlock judges them', () => {
    const sealed = { v: 1, kdf: 'scrypt', N: 1024, r: 8, p: 1, salt: 'AAAAAAAAAAAAAAAAAAAAAA==', box: '' };
    const declined: unknown[] = [
      null,
      [],
      'text',
      { v: 1 },
      { v: 1, sealed: null },
      { v: 1, sealed: { ...sealed, kdf: 'argon2' } },
      { v: 1, sealed: { ...sealed, N: '1024' } },
      { v: 1, sealed: { ...sealed, N: 3 } },
      { v: 1, sealed: { ...sealed, N: 2 ** 40 } },
      { v: 1, sealed: { ...sealed, r: 0 } },
      { v: 1, sealed: { ...sealed, salt: 42 } },
      { v: 1, sealed: { ...sealed, salt: 'not base64!' } },
      { v: 1, sealed: { ...sealed, salt: 'A'.repeat(65) } },
      JSON.parse('{"v":1,"sealed":{"__proto__":{"kdf":"scrypt","N":1024,"r":8,"p":1,"salt":""}}}'),
      JSON.parse('{"v":1,"__proto__":{"sealed":{"kdf":"scrypt","N":1024,"r":8,"p":1,"salt":""}}}'),
    ];
    for (const header of declined) expect(primeVaultUnlock(utf8(JSON.stringify(header)), 'pw'), JSON.stringify(header)).toBe(false);
    expect(primeVaultUnlock(new Uint8Array([0xff, 0xfe, 0x7b]), 'pw')).toBe(false);
    expect(primeVaultUnlock(new Uint8Array(0), 'pw')).toBe(false);
    expect(calls.count).toBe(0);
  });

  it('never throws on arbitrary bytes or JSON', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.jsonValue().map((v) => utf8(JSON.stringify({ v: 1, sealed: v }))),
        ),
        (bytes) => {
          expect(typeof primeVaultUnlock(bytes, 'pw')).toBe('boolean');
        },
      ),
      { numRuns: 500 },
    );
  });
});
