import { describe, expect, it } from 'vitest';
import { Identity, TEST_SCRYPT_PARAMS, WrongPasswordError, openWithPassword, sealWithPassword, type PasswordSealed, type ScryptParams } from '../src/index.js';
import { DEFAULT_SCRYPT_PARAMS, KDF_SALT_LENGTH, deriveKeyFromPassword } from '../src/kdf.js';
import { KdfParametersError } from '../src/errors.js';
import { SEALED_OVERHEAD } from '../src/nacl.js';
import { expectRejectsType, flipBit, hex, unhex, utf8 } from './support/helpers.js';
import { RFC7914_SCRYPT } from './vectors/rfc7914.js';

const SEED = unhex('4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb');

/** Decode the box, change it with `edit`, re-encode (so the blob stays well-formed base64). */
function editBox(sealed: PasswordSealed, edit: (box: Uint8Array) => Uint8Array): PasswordSealed {
  const box = new Uint8Array(Buffer.from(sealed.box, 'base64'));
  return { ...sealed, box: Buffer.from(edit(box)).toString('base64') };
}

function editSalt(sealed: PasswordSealed, edit: (salt: Uint8Array) => Uint8Array): PasswordSealed {
  const salt = new Uint8Array(Buffer.from(sealed.salt, 'base64'));
  return { ...sealed, salt: Buffer.from(edit(salt)).toString('base64') };
}

describe('deriveKeyFromPassword', () => {
  it('matches the RFC 7914 §12 scrypt vector', async () => {
    const v = RFC7914_SCRYPT;
    const key = await deriveKeyFromPassword(v.password, utf8(v.salt), { N: v.N, r: v.r, p: v.p }, v.dkLen);
    expect(hex(key)).toBe(v.derivedKey);
  });

  it('defaults to a 32-byte key and depends on password and salt', async () => {
    const salt = new Uint8Array(KDF_SALT_LENGTH).fill(1);
    const a = await deriveKeyFromPassword('pw', salt, TEST_SCRYPT_PARAMS);
    expect(a).toHaveLength(32);
    expect(hex(await deriveKeyFromPassword('pw', salt, TEST_SCRYPT_PARAMS))).toBe(hex(a));
    expect(hex(await deriveKeyFromPassword('pw2', salt, TEST_SCRYPT_PARAMS))).not.toBe(hex(a));
    expect(hex(await deriveKeyFromPassword('pw', flipBit(salt, 0), TEST_SCRYPT_PARAMS))).not.toBe(hex(a));
  });

  it('normalises passwords to NFKC (composed and decomposed forms are the same password)', async () => {
    const salt = new Uint8Array(KDF_SALT_LENGTH);
    const composed = await deriveKeyFromPassword('caf\u00e9', salt, TEST_SCRYPT_PARAMS);
    expect(hex(await deriveKeyFromPassword('cafe\u0301', salt, TEST_SCRYPT_PARAMS))).toBe(hex(composed));
    expect(hex(await deriveKeyFromPassword('\uff21', salt, TEST_SCRYPT_PARAMS))).toBe(hex(await deriveKeyFromPassword('A', salt, TEST_SCRYPT_PARAMS)));
  });

  it('refuses parameters outside the accepted range with KdfParametersError', async () => {
    const bad: ScryptParams[] = [
      { N: 2 ** 9, r: 8, p: 1 }, // too weak
      { N: 1000, r: 8, p: 1 }, // not a power of two
      { N: 1536, r: 8, p: 1 },
      { N: 2 ** 21, r: 8, p: 1 }, // too expensive
      { N: 0, r: 8, p: 1 },
      { N: -1024, r: 8, p: 1 },
      { N: 1024.5, r: 8, p: 1 },
      { N: Number.NaN, r: 8, p: 1 },
      { N: 1024, r: 0, p: 1 },
      { N: 1024, r: 33, p: 1 },
      { N: 1024, r: 1.5, p: 1 },
      { N: 1024, r: 8, p: 0 },
      { N: 1024, r: 8, p: 17 },
      { N: 1024, r: 8, p: Number.POSITIVE_INFINITY },
    ];
    for (const params of bad) {
      const err = await expectRejectsType(deriveKeyFromPassword('pw', new Uint8Array(16), params), KdfParametersError);
      expect(err.code).toBe('KDF_PARAMETERS');
    }
  });

  it('accepts the boundary parameters N = 2^10, r = 1, p = 1', async () => {
    expect(await deriveKeyFromPassword('pw', new Uint8Array(16), { N: 2 ** 10, r: 1, p: 1 })).toHaveLength(32);
  });
});

describe('sealWithPassword / openWithPassword', () => {
  it('round trips, and the blob has the documented shape', async () => {
    const sealed = await sealWithPassword('hunter2', SEED, TEST_SCRYPT_PARAMS);
    expect(sealed).toMatchObject({ v: 1, kdf: 'scrypt', N: TEST_SCRYPT_PARAMS.N, r: TEST_SCRYPT_PARAMS.r, p: TEST_SCRYPT_PARAMS.p });
    expect(Buffer.from(sealed.salt, 'base64')).toHaveLength(KDF_SALT_LENGTH);
    expect(Buffer.from(sealed.box, 'base64')).toHaveLength(SEED.length + SEALED_OVERHEAD);
    expect(hex(await openWithPassword('hunter2', sealed))).toBe(hex(SEED));
    // and it survives a JSON round trip, as it does on disk
    expect(hex(await openWithPassword('hunter2', JSON.parse(JSON.stringify(sealed)) as PasswordSealed))).toBe(hex(SEED));
  });

  it('uses a fresh salt (and nonce) each time', async () => {
    const a = await sealWithPassword('pw', SEED, TEST_SCRYPT_PARAMS);
    const b = await sealWithPassword('pw', SEED, TEST_SCRYPT_PARAMS);
    expect(a.salt).not.toBe(b.salt);
    expect(a.box).not.toBe(b.box);
  });

  it('round trips empty and long plaintexts and unusual passwords', async () => {
    for (const [password, plaintext] of [
      ['', new Uint8Array()],
      ['pässwörd 🔑', new Uint8Array(1000).fill(7)],
      ['x'.repeat(1000), SEED],
    ] as const) {
      const sealed = await sealWithPassword(password, plaintext, TEST_SCRYPT_PARAMS);
      expect(hex(await openWithPassword(password, sealed))).toBe(hex(plaintext));
    }
  });

  it('a wrong password → WrongPasswordError', async () => {
    const sealed = await sealWithPassword('correct', SEED, TEST_SCRYPT_PARAMS);
    for (const wrong of ['Correct', 'correct ', '', 'incorrect']) {
      const err = await expectRejectsType(openWithPassword(wrong, sealed), WrongPasswordError);
      expect(err.code).toBe('WRONG_PASSWORD');
    }
  });

  it('an altered blob (box bytes, salt, parameters, truncation) → WrongPasswordError', async () => {
    const sealed = await sealWithPassword('pw', SEED, TEST_SCRYPT_PARAMS);
    const boxLength = Buffer.from(sealed.box, 'base64').length;
    const altered: PasswordSealed[] = [
      editBox(sealed, (box) => flipBit(box, 0)), // nonce
      editBox(sealed, (box) => flipBit(box, 24)), // tag
      editBox(sealed, (box) => flipBit(box, boxLength - 1, 7)), // ciphertext
      editBox(sealed, (box) => box.subarray(0, boxLength - 1)),
      editBox(sealed, (box) => box.subarray(0, 10)),
      editBox(sealed, (box) => Uint8Array.from([...box, 0])),
      editSalt(sealed, (salt) => flipBit(salt, 3)),
      { ...sealed, N: TEST_SCRYPT_PARAMS.N * 2 },
      { ...sealed, r: TEST_SCRYPT_PARAMS.r - 1 },
      { ...sealed, p: TEST_SCRYPT_PARAMS.p + 1 },
    ];
    for (const blob of altered) await expectRejectsType(openWithPassword('pw', blob), WrongPasswordError);
  });

  it('refuses out-of-range or unknown parameters in a blob with KdfParametersError', async () => {
    const sealed = await sealWithPassword('pw', SEED, TEST_SCRYPT_PARAMS);
    const bad = [
      { ...sealed, N: 2 ** 30 },
      { ...sealed, N: 3 },
      { ...sealed, r: 1000 },
      { ...sealed, p: 0 },
      { ...sealed, v: 2 },
      { ...sealed, kdf: 'argon2id' },
    ] as unknown as PasswordSealed[];
    for (const blob of bad) await expectRejectsType(openWithPassword('pw', blob), KdfParametersError);
  });

  it('sealWithPassword refuses weak parameters with KdfParametersError', async () => {
    await expectRejectsType(sealWithPassword('pw', SEED, { N: 2 ** 8, r: 8, p: 1 }), KdfParametersError);
  });

  it('Identity.openWithPassword(pw, await id.sealWithPassword(pw, TEST_SCRYPT_PARAMS)) has the same onion', async () => {
    const id = Identity.generate();
    const sealed = await id.sealWithPassword('pw', TEST_SCRYPT_PARAMS);
    expect((await Identity.openWithPassword('pw', sealed)).onion).toBe(id.onion);
    await expectRejectsType(Identity.openWithPassword('not pw', sealed), WrongPasswordError);
  });

  it('the default parameters (N = 2^17, r = 8, p = 1) work end to end', async () => {
    expect(DEFAULT_SCRYPT_PARAMS).toEqual({ N: 2 ** 17, r: 8, p: 1 });
    const id = Identity.fromSeed(SEED);
    const sealed = await id.sealWithPassword('default params');
    expect(sealed).toMatchObject({ N: 2 ** 17, r: 8, p: 1 });
    const opened = await Identity.openWithPassword('default params', sealed);
    expect(opened.onion).toBe(id.onion);
  });
});
