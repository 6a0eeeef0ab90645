import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidKeyError, secretboxOpen, secretboxSeal } from '@pursuance/crypto';
import { MAX_SEALED_PAYLOAD, PACKET_SIZE } from '../src/index.js';
import { FrameTooLargeError, PacketDecryptionError } from '../src/errors.js';
import { counterNonce, decodeFrame, encodeFrame, openPacket, sealPacket } from '../src/frame.js';
import { MAX_PACKET_COUNTER, NONCE_SIZE, SEALED_FRAME_SIZE } from '../src/wire-profile.js';

/**
 * A sealed packet is the XSalsa20-Poly1305 secretbox of the 8176-byte frame (tag ‖ ciphertext)
 * under the counter nonce, without the nonce prefix that @pursuance/crypto's secretbox helper
 * writes. Both directions are checked byte for byte against that helper, whose own tests pin it
 * to tweetnacl.
 */
const key = fc.uint8Array({ minLength: 32, maxLength: 32 });
const payload = fc.uint8Array({ maxLength: MAX_SEALED_PAYLOAD });
const counter = fc.oneof(fc.nat(), fc.constantFrom(0, 1, 0xffff_ffff, 0x1_0000_0000, MAX_PACKET_COUNTER));

describe('sealed packets are secretbox under the counter nonce, byte for byte', () => {
  it('a packet sealed here equals the crypto package sealing the same frame under the counter nonce', () => {
    fc.assert(
      fc.property(key, payload, counter, (k, p, n) => {
        const packet = sealPacket(k, n, p);
        expect(packet.length).toBe(PACKET_SIZE);
        const reference = secretboxSeal(k, encodeFrame(p, SEALED_FRAME_SIZE), counterNonce(n));
        expect(Buffer.from(reference.subarray(0, NONCE_SIZE)).equals(Buffer.from(counterNonce(n)))).toBe(true);
        expect(Buffer.from(packet).equals(Buffer.from(reference.subarray(NONCE_SIZE)))).toBe(true);
        expect(decodeFrame(secretboxOpen(k, reference), SEALED_FRAME_SIZE)).toEqual(p);
      }),
      { numRuns: 200 },
    );
  });

  it('a packet sealed by the crypto package opens here to the same payload', () => {
    fc.assert(
      fc.property(key, payload, counter, (k, p, n) => {
        const reference = secretboxSeal(k, encodeFrame(p, SEALED_FRAME_SIZE), counterNonce(n));
        expect(openPacket(k, n, reference.subarray(NONCE_SIZE))).toEqual(p);
      }),
      { numRuns: 200 },
    );
  });

  it('any altered byte, any other key and any other counter is a PacketDecryptionError', () => {
    fc.assert(
      fc.property(key, key, payload, counter, counter, fc.nat({ max: PACKET_SIZE - 1 }), fc.integer({ min: 1, max: 255 }), (k, other, p, n, m, at, xor) => {
        const packet = sealPacket(k, n, p);
        const altered = packet.slice();
        altered[at] = altered[at]! ^ xor;
        expect(() => openPacket(k, n, altered)).toThrow(PacketDecryptionError);
        if (!Buffer.from(k).equals(Buffer.from(other))) expect(() => openPacket(other, n, packet)).toThrow(PacketDecryptionError);
        if (m !== n) expect(() => openPacket(k, m, packet)).toThrow(PacketDecryptionError);
      }),
      { numRuns: 200 },
    );
  });

  it('the counter nonce is the counter as a uint64 little-endian, then zeros; one nonce per counter', () => {
    expect(Buffer.from(counterNonce(0)).toString('hex')).toBe('00'.repeat(24));
    expect(Buffer.from(counterNonce(1)).toString('hex')).toBe('01' + '00'.repeat(23));
    expect(Buffer.from(counterNonce(0x1_0000_0000 + 2)).toString('hex')).toBe('0200000001000000' + '00'.repeat(16));
    expect(Buffer.from(counterNonce(MAX_PACKET_COUNTER)).toString('hex')).toBe('ffffffffffff1f00' + '00'.repeat(16));
    fc.assert(
      fc.property(counter, counter, (a, b) => {
        expect(Buffer.from(counterNonce(a)).equals(Buffer.from(counterNonce(b)))).toBe(a === b);
      }),
    );
    for (const bad of [-1, 0.5, MAX_PACKET_COUNTER + 1, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => counterNonce(bad)).toThrow(RangeError);
  });

  it('refuses a payload one byte over the sealed limit, and takes one at the limit', () => {
    expect(() => sealPacket(new Uint8Array(32), 0, new Uint8Array(MAX_SEALED_PAYLOAD + 1))).toThrow(FrameTooLargeError);
    const full = new Uint8Array(MAX_SEALED_PAYLOAD).fill(3);
    expect(openPacket(new Uint8Array(32), 0, sealPacket(new Uint8Array(32), 0, full))).toEqual(full);
  });

  it('refuses a key that is not 32 bytes before any crypto', () => {
    expect(() => sealPacket(new Uint8Array(31), 0, Uint8Array.of(1))).toThrow(InvalidKeyError);
    expect(() => openPacket(new Uint8Array(33), 0, new Uint8Array(PACKET_SIZE))).toThrow(InvalidKeyError);
  });
});
