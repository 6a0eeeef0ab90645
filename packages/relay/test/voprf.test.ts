import { describe, expect, it, vi } from 'vitest';
import { fromHex, toHex } from '@pursuance/crypto';
import { blindInputs, evaluateBlindedBatch, finalizeBatch, generateVoprfKeyPair, voprfKeyPairFromSecret } from '../src/index.js';
import { TokenBatchInvalidError, TokenProofInvalidError } from '../src/errors.js';
import { deriveVoprfKeyPair, evaluateInput, isValidElement } from '../src/voprf.js';

/**
 * RFC 9497 Appendix A.1.2: ristretto255-SHA512, VOPRF mode. The random blinds and proof
 * nonces are injected through the RNG hook, so every byte of blinding, evaluation, proof and
 * output is pinned to the standard (a wrong DST, transcript or hash would still "work" against
 * itself, which is why self-consistency tests are not enough).
 */
const SEED = fromHex('a3'.repeat(32));
const KEY_INFO = fromHex('74657374206b6579'); // "test key"
const SK = 'e6f73f344b79b379f1a0dd37e07ff62e38d9f71345ce62ae3a9bc60b04ccd909';
const PK = 'c803e2cc6b05fc15064549b5920659ca4a77b2cca6f04f6b357009335476ad4e';
const BLIND_1 = '64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706';
const BLIND_2 = '222a5e897cf59db8145db8d16e597e8facb80ae7d4e26d9881aa6f61d645fc0e';
const INPUT_1 = '00';
const INPUT_2 = '5a'.repeat(17);
const OUTPUT_1 = 'b58cfbe118e0cb94d79b5fd6a6dafb98764dff49c14e1770b566e42402da1a7da4d8527693914139caee5bd03903af43a491351d23b430948dd50cde10d32b3c';
const OUTPUT_2 = '8a9a2f3c7f085b65933594309041fc1898d42d0858e59f90814ae90571a6df60356f4610bf816f27afdd84f47719e480906d27ecd994985890e5f539e7ea74b6';

const VECTORS = [
  {
    name: 'Test Vector 1, Batch Size 1',
    inputs: [INPUT_1],
    blinds: [BLIND_1],
    blinded: ['863f330cc1a1259ed5a5998a23acfd37fb4351a793a5b3c090b642ddc439b945'],
    evaluated: ['aa8fa048764d5623868679402ff6108d2521884fa138cd7f9c7669a9a014267e'],
    proof: 'ddef93772692e535d1a53903db24367355cc2cc78de93b3be5a8ffcc6985dd066d4346421d17bf5117a2a1ff0fcb2a759f58a539dfbe857a40bce4cf49ec600d',
    proofRandomScalar: '222a5e897cf59db8145db8d16e597e8facb80ae7d4e26d9881aa6f61d645fc0e',
    outputs: [OUTPUT_1],
  },
  {
    name: 'Test Vector 2, Batch Size 1',
    inputs: [INPUT_2],
    blinds: [BLIND_1],
    blinded: ['cc0b2a350101881d8a4cba4c80241d74fb7dcbfde4a61fde2f91443c2bf9ef0c'],
    evaluated: ['60a59a57208d48aca71e9e850d22674b611f752bed48b36f7a91b372bd7ad468'],
    proof: '401a0da6264f8cf45bb2f5264bc31e109155600babb3cd4e5af7d181a2c9dc0a67154fabf031fd936051dec80b0b6ae29c9503493dde7393b722eafdf5a50b02',
    proofRandomScalar: '222a5e897cf59db8145db8d16e597e8facb80ae7d4e26d9881aa6f61d645fc0e',
    outputs: [OUTPUT_2],
  },
  {
    name: 'Test Vector 3, Batch Size 2',
    inputs: [INPUT_1, INPUT_2],
    blinds: [BLIND_1, BLIND_2],
    blinded: ['863f330cc1a1259ed5a5998a23acfd37fb4351a793a5b3c090b642ddc439b945', '90a0145ea9da29254c3a56be4fe185465ebb3bf2a1801f7124bbbadac751e654'],
    evaluated: ['aa8fa048764d5623868679402ff6108d2521884fa138cd7f9c7669a9a014267e', 'cc5ac221950a49ceaa73c8db41b82c20372a4c8d63e5dded2db920b7eee36a2a'],
    proof: 'cc203910175d786927eeb44ea847328047892ddf8590e723c37205cb74600b0a5ab5337c8eb4ceae0494c2cf89529dcf94572ed267473d567aeed6ab873dee08',
    proofRandomScalar: '419c4f4f5052c53c45f3da494d2b67b220d02118e0857cdbcf037f9ea84bbe0c',
    outputs: [OUTPUT_1, OUTPUT_2],
  },
];

/**
 * noble derives a random scalar as (LE(48 random bytes) mod (n − 1)) + 1, so feeding the
 * 48-byte little-endian encoding of (s − 1) yields exactly the scalar s from the vectors.
 */
function scalarSource(...scalarsHex: string[]): (length?: number) => Uint8Array {
  const queue = scalarsHex.map((hex) => {
    let value = 0n;
    for (const byte of [...fromHex(hex)].reverse()) value = (value << 8n) | BigInt(byte);
    value -= 1n;
    const out = new Uint8Array(48);
    for (let i = 0; i < out.length; i++, value >>= 8n) out[i] = Number(value & 0xffn);
    return out;
  });
  return (length) => {
    const next = queue.shift();
    if (next === undefined || length !== 48) throw new Error('unexpected draw from the vector RNG');
    return next;
  };
}

describe('VOPRF(ristretto255, SHA-512) against RFC 9497 Appendix A.1.2', () => {
  const key = deriveVoprfKeyPair(SEED, KEY_INFO);

  it('derives the vector key pair', () => {
    expect(toHex(key.secretKey)).toBe(SK);
    expect(toHex(key.publicKey)).toBe(PK);
    expect(toHex(voprfKeyPairFromSecret(fromHex(SK)).publicKey)).toBe(PK);
  });

  for (const v of VECTORS) {
    it(`reproduces ${v.name}: blind, batch evaluate + DLEQ proof, verify + finalize, server Evaluate`, () => {
      const items = blindInputs(v.inputs.map(fromHex), scalarSource(...v.blinds));
      expect(items.map((i) => toHex(i.blinded))).toEqual(v.blinded);
      expect(items.map((i) => toHex(i.blind))).toEqual(v.blinds);

      const batch = evaluateBlindedBatch(
        key,
        items.map((i) => i.blinded),
        scalarSource(v.proofRandomScalar),
      );
      expect(batch.evaluated.map(toHex)).toEqual(v.evaluated);
      expect(toHex(batch.proof)).toBe(v.proof);

      const outputs = finalizeBatch(items, v.evaluated.map(fromHex), key.publicKey, fromHex(v.proof));
      expect(outputs.map(toHex)).toEqual(v.outputs);
      // The relay's unblinded check of a spent token gives the same output.
      expect(v.inputs.map((input) => toHex(evaluateInput(key.secretKey, fromHex(input))))).toEqual(v.outputs);
    });
  }
});

describe('VOPRF batch proofs protect the client', () => {
  const key = generateVoprfKeyPair();
  const items = blindInputs([Uint8Array.of(1), Uint8Array.of(2), Uint8Array.of(3)]);
  const batch = evaluateBlindedBatch(
    key,
    items.map((i) => i.blinded),
  );

  it('accepts an honest batch and agrees with server-side evaluation', () => {
    const outputs = finalizeBatch(items, batch.evaluated, key.publicKey, batch.proof);
    expect(outputs.map(toHex)).toEqual(items.map((i) => toHex(evaluateInput(key.secretKey, i.input))));
  });

  it('refuses a batch evaluated under another key (a tagging token service)', () => {
    const other = generateVoprfKeyPair();
    const tagged = evaluateBlindedBatch(
      other,
      items.map((i) => i.blinded),
    );
    expect(() => finalizeBatch(items, tagged.evaluated, key.publicKey, tagged.proof)).toThrow(TokenProofInvalidError);
  });

  it('refuses a batch where one element was evaluated under another key, even with an honest proof shape', () => {
    const other = generateVoprfKeyPair();
    const one = evaluateBlindedBatch(other, [items[1]!.blinded]).evaluated[0]!;
    const mixed = [batch.evaluated[0]!, one, batch.evaluated[2]!];
    expect(() => finalizeBatch(items, mixed, key.publicKey, batch.proof)).toThrow(TokenProofInvalidError);
  });

  it('refuses a tampered proof, a reordered batch, and a short batch', () => {
    const bad = new Uint8Array(batch.proof);
    bad[5] = bad[5]! ^ 1;
    expect(() => finalizeBatch(items, batch.evaluated, key.publicKey, bad)).toThrow(TokenProofInvalidError);
    expect(() => finalizeBatch(items, [...batch.evaluated].reverse(), key.publicKey, batch.proof)).toThrow(TokenProofInvalidError);
    expect(() => finalizeBatch(items, batch.evaluated.slice(1), key.publicKey, batch.proof)).toThrow(TokenProofInvalidError);
  });

  it('refuses identity and non-canonical elements before evaluating', () => {
    expect(isValidElement(new Uint8Array(32))).toBe(false);
    expect(isValidElement(new Uint8Array(32).fill(0xff))).toBe(false);
    expect(() => evaluateBlindedBatch(key, [new Uint8Array(32)])).toThrow(TokenBatchInvalidError);
    expect(() => evaluateBlindedBatch(key, [])).toThrow(TokenBatchInvalidError);
  });
});

describe('the VOPRF before libsodium is loaded', () => {
  // The project's setup file loaded this module's first instance; a fresh one starts unloaded,
  // as in a program that has not awaited loadVoprf() yet.
  it('refuses every group operation with a typed error, and works once loadVoprf has resolved', async () => {
    vi.resetModules();
    const fresh = await import('../src/voprf.js');
    const errors = await import('../src/errors.js');
    const seed = new Uint8Array(32).fill(7);
    expect(() => fresh.generateVoprfKeyPair()).toThrow(errors.VoprfNotLoadedError);
    expect(() => fresh.deriveVoprfKeyPair(seed, new Uint8Array(0))).toThrow(errors.VoprfNotLoadedError);
    expect(() => fresh.blindInputs([new Uint8Array(32)])).toThrow(errors.VoprfNotLoadedError);
    expect(() => fresh.isValidElement(new Uint8Array(32).fill(1))).toThrow(errors.VoprfNotLoadedError);
    // Two callers awaiting at once share one load.
    const [a, b] = [fresh.loadVoprf(), fresh.loadVoprf()];
    expect(a).toBe(b);
    await a;
    const pair = fresh.deriveVoprfKeyPair(seed, new Uint8Array(0));
    // The same key as the instance every other test here uses.
    expect(toHex(pair.publicKey)).toBe(toHex(deriveVoprfKeyPair(seed, new Uint8Array(0)).publicKey));
  });
});
