import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CryptoError, Identity, InvalidOnionAddressError, isOnionName, onionFromPublicKey, parseOnionName, publicKeyFromOnion } from '../src/index.js';
import { ONION_NAME_LENGTH } from '../src/onion.js';
import { expectThrowsType, hex, referenceOnion, unhex } from './support/helpers.js';
import { RFC8032_ED25519 } from './vectors/rfc8032.js';
import { TOR_BUILD_ADDRESS, TOR_INVALID_ADDRESSES } from './vectors/tor.js';

const VALID = TOR_BUILD_ADDRESS.onion;
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

function replaceAt(text: string, index: number, char: string): string {
  return text.slice(0, index) + char + text.slice(index + 1);
}

function expectInvalid(address: string): void {
  for (const candidate of [address, `${address}.onion`]) {
    const err = expectThrowsType(() => publicKeyFromOnion(candidate), InvalidOnionAddressError);
    expect(err.code).toBe('INVALID_ONION_ADDRESS');
    expect(err).toBeInstanceOf(CryptoError);
    expect(isOnionName(candidate)).toBe(false);
    expectThrowsType(() => parseOnionName(candidate), InvalidOnionAddressError);
  }
}

describe("tor's test_build_address vector (src/test/test_hs_common.c)", () => {
  it('onionFromPublicKey builds the address tor builds', () => {
    expect(onionFromPublicKey(unhex(TOR_BUILD_ADDRESS.publicKey))).toBe(VALID);
  });

  it('publicKeyFromOnion returns the key, with and without ".onion"', () => {
    expect(hex(publicKeyFromOnion(VALID))).toBe(TOR_BUILD_ADDRESS.publicKey);
    expect(hex(publicKeyFromOnion(`${VALID}.onion`))).toBe(TOR_BUILD_ADDRESS.publicKey);
  });

  it('is the onion of the RFC 8032 TEST 1 identity (seed → key → address)', () => {
    const id = Identity.fromSeed(unhex(RFC8032_ED25519[0]!.secretKey));
    expect(id.onion).toBe(VALID);
  });

  it('matches the independent reference implementation used by the property tests', () => {
    expect(referenceOnion(unhex(TOR_BUILD_ADDRESS.publicKey))).toBe(VALID);
  });

  it('isOnionName / parseOnionName accept it; the branded name never carries ".onion"', () => {
    expect(isOnionName(VALID)).toBe(true);
    expect(isOnionName(`${VALID}.onion`)).toBe(false);
    expect(isOnionName(42)).toBe(false);
    expect(isOnionName(undefined)).toBe(false);
    expect(parseOnionName(VALID)).toBe(VALID);
    expect(parseOnionName(`${VALID}.onion`)).toBe(VALID);
  });
});

describe('onion validation', () => {
  it("rejects the strings tor's test_validate_address rejects", () => {
    for (const { address } of TOR_INVALID_ADDRESSES) expectInvalid(address);
  });

  it('rejects a wrong checksum (correct version byte)', () => {
    const bad = referenceOnion(unhex(TOR_BUILD_ADDRESS.publicKey), 0x03, true);
    expect(bad).toHaveLength(ONION_NAME_LENGTH);
    expectInvalid(bad);
    expect(() => publicKeyFromOnion(bad)).toThrow(/checksum/);
  });

  it('rejects a wrong version byte (even with a checksum computed for that version)', () => {
    for (const version of [0x00, 0x02, 0x04, 0xff]) {
      const bad = referenceOnion(unhex(TOR_BUILD_ADDRESS.publicKey), version);
      expectInvalid(bad);
      expect(() => publicKeyFromOnion(bad)).toThrow(/version/);
    }
  });

  it('rejects every single-character substitution of the valid address', () => {
    let checked = 0;
    for (let i = 0; i < VALID.length; i++) {
      for (const c of BASE32) {
        if (c === VALID[i]) continue;
        expectThrowsType(() => publicKeyFromOnion(replaceAt(VALID, i, c)), InvalidOnionAddressError);
        checked++;
      }
    }
    expect(checked).toBe(56 * 31);
  });

  it('rejects wrong lengths', () => {
    expectInvalid('');
    expectInvalid(VALID.slice(0, 55));
    expectInvalid(VALID.slice(1));
    expectInvalid(`${VALID}a`);
    expectInvalid(VALID + VALID);
    expectThrowsType(() => publicKeyFromOnion('.onion'), InvalidOnionAddressError);
    expectThrowsType(() => publicKeyFromOnion(`${VALID}.onion.onion`), InvalidOnionAddressError);
  });

  it('rejects uppercase (whole or one letter) and an uppercase suffix', () => {
    expectInvalid(VALID.toUpperCase());
    expectInvalid(replaceAt(VALID, 2, VALID[2]!.toUpperCase())); // VALID[2] is 'n'
    expect(VALID[2]).toBe('n');
    expectThrowsType(() => publicKeyFromOnion(`${VALID}.ONION`), InvalidOnionAddressError);
  });

  it('rejects characters outside the base32 alphabet', () => {
    for (const c of ['0', '1', '8', '9', '=', ' ', '-', '.', '_', 'é', '\u0000']) {
      expectInvalid(replaceAt(VALID, 20, c));
      expectInvalid(replaceAt(VALID, 55, c));
    }
    expectInvalid(` ${VALID.slice(1)}`);
    expectInvalid(`${VALID.slice(0, 55)}\n`);
  });

  it('onionFromPublicKey refuses keys that are not 32 bytes', () => {
    expectThrowsType(() => onionFromPublicKey(new Uint8Array(31)), InvalidOnionAddressError);
    expectThrowsType(() => onionFromPublicKey(new Uint8Array(33)), InvalidOnionAddressError);
  });
});

describe('onion properties', () => {
  const seedArb = fc.uint8Array({ minLength: 32, maxLength: 32 });

  it('round trip: key → onion → key, matching the reference encoding', () => {
    fc.assert(
      fc.property(seedArb, (seed) => {
        const id = Identity.fromSeed(seed);
        const onion = onionFromPublicKey(id.publicKey);
        expect(onion).toBe(id.onion);
        expect(onion).toBe(referenceOnion(id.publicKey));
        expect(onion).toMatch(/^[a-z2-7]{56}$/);
        expect(onion.endsWith('d')).toBe(true); // the version byte 0x03 ends the name in "d"
        expect(hex(publicKeyFromOnion(onion))).toBe(hex(id.publicKey));
        expect(hex(publicKeyFromOnion(`${onion}.onion`))).toBe(hex(id.publicKey));
        expect(isOnionName(onion)).toBe(true);
        expect(parseOnionName(`${onion}.onion`)).toBe(onion);
      }),
      { numRuns: 300 },
    );
  });

  it('a corrupted checksum or version is always rejected', () => {
    fc.assert(
      fc.property(seedArb, fc.integer({ min: 0, max: 255 }), (seed, version) => {
        const key = Identity.fromSeed(seed).publicKey;
        expectThrowsType(() => publicKeyFromOnion(referenceOnion(key, 0x03, true)), InvalidOnionAddressError);
        if (version !== 0x03) expectThrowsType(() => publicKeyFromOnion(referenceOnion(key, version)), InvalidOnionAddressError);
      }),
      { numRuns: 300 },
    );
  });

  it('arbitrary strings either parse to a key that re-encodes to the same name, or throw the typed error', () => {
    const candidates = fc.oneof(
      fc.string({ maxLength: 70 }),
      fc.string({ unit: fc.constantFrom(...BASE32), minLength: 56, maxLength: 56 }),
      fc.string({ unit: fc.constantFrom(...BASE32), minLength: 56, maxLength: 56 }).map((name) => `${name}.onion`),
    );
    fc.assert(
      fc.property(candidates, (text) => {
        let key: Uint8Array | undefined;
        try {
          key = publicKeyFromOnion(text);
        } catch (err) {
          expect(err).toBeInstanceOf(InvalidOnionAddressError);
          return;
        }
        expect(onionFromPublicKey(key)).toBe(text.replace(/\.onion$/, ''));
      }),
      { numRuns: 5000 },
    );
  });
});
