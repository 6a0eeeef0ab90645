import type * as NodeCrypto from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

// Counting node's scrypt is how these tests see whether a derivation was computed or taken.
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

const { PRIMED_KEY_TTL_MS, deriveScrypt, primeScrypt } = await import('../src/scrypt.js');
const { TEST_SCRYPT_PARAMS, openWithPassword, sealWithPassword } = await import('../src/kdf.js');
const { KdfParametersError } = await import('../src/errors.js');

const salt = new Uint8Array(16).fill(7);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('primed scrypt', () => {
  beforeEach(() => {
    calls.count = 0;
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('hands a primed derivation to the first derive with the same inputs, and computes it once', async () => {
    const unprimed = await deriveScrypt('pw one', salt, TEST_SCRYPT_PARAMS, 32);
    expect(calls.count).toBe(1);
    primeScrypt('pw one', salt, TEST_SCRYPT_PARAMS);
    expect(calls.count).toBe(2);
    const taken = await deriveScrypt('pw one', salt, TEST_SCRYPT_PARAMS, 32);
    expect(calls.count).toBe(2);
    expect(hex(taken)).toBe(hex(unprimed));
    // Taken means gone: the taker wipes its key after use, so nobody may be handed it again.
    await deriveScrypt('pw one', salt, TEST_SCRYPT_PARAMS, 32);
    expect(calls.count).toBe(3);
  });

  it('never hands a prime to another password, salt, parameter set or length', async () => {
    primeScrypt('right', salt, TEST_SCRYPT_PARAMS);
    const other = [
      () => deriveScrypt('wrong', salt, TEST_SCRYPT_PARAMS, 32),
      () => deriveScrypt('right', new Uint8Array(16).fill(8), TEST_SCRYPT_PARAMS, 32),
      () => deriveScrypt('right', salt, { ...TEST_SCRYPT_PARAMS, r: 4 }, 32),
      () => deriveScrypt('right', salt, TEST_SCRYPT_PARAMS, 64),
    ];
    for (const derive of other) await derive();
    expect(calls.count).toBe(1 + other.length);
    await deriveScrypt('right', salt, TEST_SCRYPT_PARAMS, 32);
    expect(calls.count).toBe(1 + other.length);
  });

  it('counts NFKC-equal passwords as the same password, as the derivation does', async () => {
    primeScrypt('caf\u00e9', salt, TEST_SCRYPT_PARAMS);
    await deriveScrypt('cafe\u0301', salt, TEST_SCRYPT_PARAMS, 32);
    expect(calls.count).toBe(1);
  });

  it('priming twice computes once', async () => {
    primeScrypt('twice', salt, TEST_SCRYPT_PARAMS);
    primeScrypt('twice', salt, TEST_SCRYPT_PARAMS);
    await deriveScrypt('twice', salt, TEST_SCRYPT_PARAMS, 32);
    expect(calls.count).toBe(1);
  });

  it('wipes a prime nobody took within the time limit', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    primeScrypt('left behind', salt, TEST_SCRYPT_PARAMS);
    vi.advanceTimersByTime(PRIMED_KEY_TTL_MS - 1);
    await deriveScrypt('left behind', salt, TEST_SCRYPT_PARAMS, 32);
    expect(calls.count).toBe(1);
    primeScrypt('left behind', salt, TEST_SCRYPT_PARAMS);
    vi.advanceTimersByTime(PRIMED_KEY_TTL_MS);
    await deriveScrypt('left behind', salt, TEST_SCRYPT_PARAMS, 32);
    expect(calls.count).toBe(3);
  });

  it('refuses bad parameters when priming, as deriving does', () => {
    expect(() => primeScrypt('pw', salt, { N: 3, r: 8, p: 1 })).toThrow(KdfParametersError);
    expect(() => primeScrypt('pw', salt, { N: 2 ** 10, r: 0, p: 1 })).toThrow(KdfParametersError);
    expect(calls.count).toBe(0);
  });

  it('a sealed blob opens with a primed key, and a primed wrong password is still the wrong password', async () => {
    const sealed = await sealWithPassword('the password', new Uint8Array([1, 2, 3]), TEST_SCRYPT_PARAMS);
    const sealedSalt = new Uint8Array(Buffer.from(sealed.salt, 'base64'));
    calls.count = 0;
    primeScrypt('the password', sealedSalt, TEST_SCRYPT_PARAMS);
    expect([...(await openWithPassword('the password', sealed))]).toEqual([1, 2, 3]);
    expect(calls.count).toBe(1);
    primeScrypt('not the password', sealedSalt, TEST_SCRYPT_PARAMS);
    await expect(openWithPassword('not the password', sealed)).rejects.toMatchObject({ code: 'WRONG_PASSWORD' });
    expect(calls.count).toBe(2);
  });
});
