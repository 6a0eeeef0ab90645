import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidKeyError, secretboxOpen, secretboxSeal } from '@pursuance/crypto';
import { MAX_SEALED_PAYLOAD, PACKET_SIZE } from '../src/index.js';
import { PacketDecryptionError } from '../src/errors.js';
import { decodeFrame, encodeFrame, openPacket, sealPacket } from '../src/frame.js';
import { NONCE_SIZE, SEALED_FRAME_SIZE } from '../src/wire-profile.js';

/**
 * Sealed packets use libsodium's secretbox; the wire format is that of @pursuance/crypto's
 * tweetnacl secretbox (nonce ‖ tag ‖ ciphertext of the 8152-byte frame). Both directions are
 * checked byte for byte against tweetnacl, so peers on either implementation interoperate.
 */
const key = fc.uint8Array({ minLength: 32, maxLength: 32 });
const payload = fc.uint8Array({ maxLength: MAX_SEALED_PAYLOAD });

describe('sealed packets are tweetnacl secretbox, byte for byte', () => {
  it('a packet sealed here equals tweetnacl sealing the same frame under the same nonce', () => {
    fc.assert(
      fc.property(key, payload, (k, p) => {
        const packet = sealPacket(k, p);
        expect(packet.length).toBe(PACKET_SIZE);
        const reference = secretboxSeal(k, encodeFrame(p, SEALED_FRAME_SIZE), packet.subarray(0, NONCE_SIZE));
        expect(Buffer.from(packet).equals(Buffer.from(reference))).toBe(true);
        expect(decodeFrame(secretboxOpen(k, packet), SEALED_FRAME_SIZE)).toEqual(p);
      }),
      { numRuns: 200 },
    );
  });

  it('a packet sealed by tweetnacl opens here to the same payload', () => {
    fc.assert(
      fc.property(key, payload, (k, p) => {
        expect(openPacket(k, secretboxSeal(k, encodeFrame(p, SEALED_FRAME_SIZE)))).toEqual(p);
      }),
      { numRuns: 200 },
    );
  });

  it('any altered byte, and any other key, is a PacketDecryptionError', () => {
    fc.assert(
      fc.property(key, key, payload, fc.nat({ max: PACKET_SIZE - 1 }), fc.integer({ min: 1, max: 255 }), (k, other, p, at, xor) => {
        const packet = sealPacket(k, p);
        const altered = packet.slice();
        altered[at] = altered[at]! ^ xor;
        expect(() => openPacket(k, altered)).toThrow(PacketDecryptionError);
        if (!Buffer.from(k).equals(Buffer.from(other))) expect(() => openPacket(other, packet)).toThrow(PacketDecryptionError);
      }),
      { numRuns: 200 },
    );
  });

  it('never repeats a nonce, across refills of the nonce pool', () => {
    const k = new Uint8Array(32).fill(7);
    const nonces = new Set<string>();
    for (let i = 0; i < 2000; i++) nonces.add(Buffer.from(sealPacket(k, Uint8Array.of(1)).subarray(0, NONCE_SIZE)).toString('hex'));
    expect(nonces.size).toBe(2000);
  });

  it('refuses a key that is not 32 bytes before any crypto', () => {
    expect(() => sealPacket(new Uint8Array(31), Uint8Array.of(1))).toThrow(InvalidKeyError);
    expect(() => openPacket(new Uint8Array(33), new Uint8Array(PACKET_SIZE))).toThrow(InvalidKeyError);
  });
});
