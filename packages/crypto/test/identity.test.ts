import { createHash } from 'node:crypto';
import { format, inspect } from 'node:util';
import { ed25519 } from '@noble/curves/ed25519.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Identity, TEST_SCRYPT_PARAMS, publicKeyFromOnion, sha512, verifySignature } from '../src/index.js';
import { hex, unhex, utf8 } from './support/helpers.js';
import { RFC8032_ED25519 } from './vectors/rfc8032.js';
import { TOR_BUILD_ADDRESS, TOR_ED25519_VECTORS } from './vectors/tor.js';

/** L, the prime order of the ed25519 base point (RFC 8032 §5.1). */
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

function fromLE(bytes: Uint8Array): bigint {
  return BigInt('0x' + (hex(Uint8Array.from(bytes).reverse()) || '0'));
}

function toLE(n: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let rest = n;
  for (let i = 0; i < length; i++) {
    out[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  return out;
}

/** Public key from the scalar half of an expanded key: [a mod L]·B (B has prime order L). */
function publicKeyFromExpanded(expanded: Uint8Array): Uint8Array {
  const a = fromLE(expanded.subarray(0, 32)) % L;
  expect(a).not.toBe(0n);
  return ed25519.Point.BASE.multiply(a).toBytes();
}

/** RFC 8032 §5.1.6 signing from (scalar, prefix) — what tor does with the expanded key. */
function signWithExpanded(expanded: Uint8Array, publicKey: Uint8Array, message: Uint8Array): Uint8Array {
  const a = fromLE(expanded.subarray(0, 32)) % L;
  const r = fromLE(sha512(expanded.subarray(32, 64), message)) % L;
  const R = ed25519.Point.BASE.multiply(r).toBytes();
  const k = fromLE(sha512(R, publicKey, message)) % L;
  return Uint8Array.from([...R, ...toLE((r + k * a) % L, 32)]);
}

describe('torExpandedSecretKey (the ADD_ONION ED25519-V3 key)', () => {
  it('the test uses the right group order', () => {
    expect(ed25519.Point.Fn.ORDER).toBe(L);
  });

  it("equals tor's ed25519_secret_key_from_seed for tor's vectors (src/test/ed25519_vectors.inc)", () => {
    for (const v of TOR_ED25519_VECTORS) {
      expect(hex(Identity.fromSeed(unhex(v.seed)).torExpandedSecretKey())).toBe(v.expandedSecretKey);
    }
  });

  it('is SHA-512(seed) with the scalar half clamped (low 3 bits clear, bit 255 clear, bit 254 set)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (seed) => {
        const expanded = Identity.fromSeed(seed).torExpandedSecretKey();
        const h = createHash('sha512').update(seed).digest();
        expect(expanded).toHaveLength(64);
        expect(expanded[0]! & 0b0000_0111).toBe(0);
        expect(expanded[31]! & 0b1000_0000).toBe(0);
        expect(expanded[31]! & 0b0100_0000).toBe(0b0100_0000);
        // Only those bits differ from SHA-512(seed); the prefix half is untouched.
        expect(expanded[0]).toBe(h[0]! & 248);
        expect(expanded[31]).toBe((h[31]! & 127) | 64);
        expect(hex(expanded.subarray(1, 31))).toBe(hex(h.subarray(1, 31)));
        expect(hex(expanded.subarray(32))).toBe(hex(h.subarray(32)));
      }),
      { numRuns: 200 },
    );
  });

  it('its scalar times the base point is the identity public key, so tor serves the identity onion', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (seed) => {
        const id = Identity.fromSeed(seed);
        const derived = publicKeyFromExpanded(id.torExpandedSecretKey());
        expect(hex(derived)).toBe(hex(id.publicKey));
        expect(hex(publicKeyFromOnion(id.onion))).toBe(hex(derived));
      }),
      { numRuns: 30 },
    );
  });

  it("gives tor's test_build_address onion for the RFC 8032 TEST 1 seed", () => {
    const id = Identity.fromSeed(unhex(RFC8032_ED25519[0]!.secretKey));
    expect(hex(publicKeyFromExpanded(id.torExpandedSecretKey()))).toBe(TOR_BUILD_ADDRESS.publicKey);
    expect(id.onion).toBe(TOR_BUILD_ADDRESS.onion);
  });

  it('signing with the expanded key (as tor does) gives the identity’s own signature', () => {
    for (const v of RFC8032_ED25519.slice(0, 3)) {
      const id = Identity.fromSeed(unhex(v.secretKey));
      const message = unhex(v.message);
      const sig = signWithExpanded(id.torExpandedSecretKey(), id.publicKey, message);
      expect(hex(sig)).toBe(v.signature);
      expect(verifySignature(message, sig, id.publicKey)).toBe(true);
    }
  });

  it('returns a fresh buffer each time', () => {
    const id = Identity.generate();
    const first = id.torExpandedSecretKey();
    const copy = hex(first);
    first.fill(0);
    expect(hex(id.torExpandedSecretKey())).toBe(copy);
  });
});

describe('Identity basics', () => {
  it('generate() makes distinct identities whose onion matches their key', () => {
    const ids = Array.from({ length: 20 }, () => Identity.generate());
    expect(new Set(ids.map((i) => i.onion)).size).toBe(ids.length);
    for (const id of ids) {
      expect(hex(publicKeyFromOnion(id.onion))).toBe(hex(id.publicKey));
      expect(id.verify(utf8('x'), id.sign(utf8('x')))).toBe(true);
    }
  });

  it('sameAs compares public keys', () => {
    const seed = unhex(RFC8032_ED25519[2]!.secretKey);
    expect(Identity.fromSeed(seed).sameAs(Identity.fromSeed(seed))).toBe(true);
    expect(Identity.fromSeed(seed).sameAs(Identity.generate())).toBe(false);
  });

  it('password round trip gives the same identity', async () => {
    const id = Identity.generate();
    const sealed = await id.sealWithPassword('correct horse', TEST_SCRYPT_PARAMS);
    const opened = await Identity.openWithPassword('correct horse', sealed);
    expect(opened.onion).toBe(id.onion);
    expect(opened.sameAs(id)).toBe(true);
    expect(hex(opened.torExpandedSecretKey())).toBe(hex(id.torExpandedSecretKey()));
    expect(hex(opened.sign(utf8('m')))).toBe(hex(id.sign(utf8('m'))));
  });
});

describe('secrets are not leaked through serialisation', () => {
  /** Renderings of secret bytes a log line could contain: hex, base64 variants, or util.inspect's decimal list. */
  function leakedSecret(text: string, secrets: readonly Uint8Array[]): string | undefined {
    const squashed = text.replace(/\s+/g, '');
    for (const secret of secrets) {
      const b64 = Buffer.from(secret).toString('base64');
      const renderings = [hex(secret), hex(secret).toUpperCase(), b64.replace(/=+$/, ''), Buffer.from(secret).toString('base64url')];
      for (const r of renderings) if (text.includes(r)) return r;
      const decimal = Array.from(secret.subarray(0, 8)).join(',');
      if (squashed.includes(decimal)) return decimal;
    }
    return undefined;
  }

  function secretsOf(seed: Uint8Array, id: Identity): Uint8Array[] {
    return [seed, id.torExpandedSecretKey(), id.x25519SecretKey()];
  }

  it('the leak detector itself catches a seed rendered by JSON, inspect and hex (canary)', () => {
    const seed = unhex(RFC8032_ED25519[1]!.secretKey);
    expect(leakedSecret(inspect({ seed }), [seed])).toBeDefined();
    expect(leakedSecret(JSON.stringify({ seed: Buffer.from(seed).toString('base64') }), [seed])).toBeDefined();
    expect(leakedSecret(`seed=${hex(seed)}`, [seed])).toBeDefined();
    expect(leakedSecret(JSON.stringify({ seed: Array.from(seed) }), [seed])).toBeDefined();
    expect(leakedSecret('nothing here', [seed])).toBeUndefined();
  });

  const cases: [string, Uint8Array][] = [
    ['RFC 8032 TEST 2 seed', unhex(RFC8032_ED25519[1]!.secretKey)],
    ['hash-derived seed', new Uint8Array(createHash('sha256').update('identity-leak-test').digest())],
  ];

  for (const [name, seed] of cases) {
    it(`JSON, String, template literals and util.inspect show the onion but not the seed (${name})`, () => {
      const id = Identity.fromSeed(seed);
      const outputs = {
        json: JSON.stringify(id),
        jsonNested: JSON.stringify({ owner: id, list: [id] }),
        string: String(id),
        template: `${id as unknown as string}`,
        inspect: inspect(id),
        inspectDeep: inspect(id, { showHidden: true, depth: Infinity, getters: true }),
        inspectNested: inspect({ owner: { id } }, { depth: Infinity }),
        inspectNoCustom: inspect(id, { customInspect: false, showHidden: true, depth: Infinity }),
        formatO: format('%o', id),
        formatOObject: format('%O', { id }),
        spread: inspect({ ...id }, { depth: Infinity }),
      };
      expect(JSON.parse(outputs.json)).toEqual({ onion: id.onion });
      for (const [how, text] of Object.entries(outputs)) {
        if (how !== 'inspectNoCustom' && how !== 'spread') expect(text, how).toContain(id.onion);
        expect(leakedSecret(text, secretsOf(seed, id)), how).toBeUndefined();
      }
    });
  }

  it('the password-sealed blob does not contain the seed either', async () => {
    const seed = unhex(RFC8032_ED25519[1]!.secretKey);
    const id = Identity.fromSeed(seed);
    const text = JSON.stringify(await id.sealWithPassword('pw', TEST_SCRYPT_PARAMS));
    expect(leakedSecret(text, secretsOf(seed, id))).toBeUndefined();
  });
});
