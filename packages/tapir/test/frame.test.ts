import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { randomKey } from '@pursuance/crypto';
import { MAX_PLAIN_PAYLOAD, MAX_SEALED_PAYLOAD, PACKET_SIZE, TapirError, encodeFrame, sealPacket } from '../src/index.js';
import { FrameInvalidError, FrameTooLargeError, PacketDecryptionError } from '../src/errors.js';
import { decodeFrame, openPacket } from '../src/frame.js';

const payload = fc.uint8Array({ maxLength: MAX_SEALED_PAYLOAD });

describe('plaintext frames', () => {
  it('round-trip any payload up to the limit, always 8192 bytes on the wire', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: MAX_PLAIN_PAYLOAD }), (p) => {
        const frame = encodeFrame(p);
        expect(frame.length).toBe(PACKET_SIZE);
        expect(decodeFrame(frame)).toEqual(p);
      }),
      { numRuns: 300 },
    );
  });

  it('write the length as a uvarint in two bytes', () => {
    expect([...encodeFrame(new Uint8Array(5)).subarray(0, 2)]).toEqual([5, 0]);
    expect([...encodeFrame(new Uint8Array(300)).subarray(0, 2)]).toEqual([0xac, 0x02]);
    expect(decodeFrame(encodeFrame(new Uint8Array(MAX_PLAIN_PAYLOAD).fill(7))).length).toBe(8190);
  });

  it('refuse oversize payloads', () => {
    expect(() => encodeFrame(new Uint8Array(MAX_PLAIN_PAYLOAD + 1))).toThrow(FrameTooLargeError);
  });

  it('reject wrong sizes, overlong or non-minimal length prefixes and non-zero padding', () => {
    const frame = encodeFrame(Uint8Array.of(1, 2, 3));
    expect(() => decodeFrame(frame.subarray(0, 100))).toThrow(FrameInvalidError);
    const padded = frame.slice();
    padded[100] = 1;
    expect(() => decodeFrame(padded)).toThrow(FrameInvalidError);
    const nonMinimal = frame.slice();
    nonMinimal[0] = 0x83;
    nonMinimal[1] = 0x00;
    expect(() => decodeFrame(nonMinimal)).toThrow(FrameInvalidError);
    const overlong = frame.slice();
    overlong[0] = 0xff;
    overlong[1] = 0xff;
    expect(() => decodeFrame(overlong)).toThrow(FrameInvalidError);
    const tooBig = new Uint8Array(PACKET_SIZE);
    tooBig[0] = 0xff;
    tooBig[1] = 0x3f; // 8191 > 8190
    expect(() => decodeFrame(tooBig)).toThrow(FrameInvalidError);
  });
});

describe('sealed packets', () => {
  const key = randomKey();

  it('round-trip, stay 8192 bytes, and differ for the same payload under another counter', () => {
    fc.assert(
      fc.property(payload, fc.nat(), (p, counter) => {
        const a = sealPacket(key, counter, p);
        const b = sealPacket(key, counter + 1, p);
        expect(a.length).toBe(PACKET_SIZE);
        expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
        expect(openPacket(key, counter, a)).toEqual(p);
        expect(openPacket(key, counter + 1, b)).toEqual(p);
      }),
      { numRuns: 150 },
    );
  });

  it('detect any flipped bit, the wrong key and the wrong counter', () => {
    fc.assert(
      fc.property(payload, fc.nat(PACKET_SIZE * 8 - 1), (p, bit) => {
        const packet = sealPacket(key, 7, p);
        packet[bit >> 3] = packet[bit >> 3]! ^ (1 << (bit & 7));
        expect(() => openPacket(key, 7, packet)).toThrow(PacketDecryptionError);
      }),
      { numRuns: 150 },
    );
    expect(() => openPacket(randomKey(), 0, sealPacket(key, 0, Uint8Array.of(1)))).toThrow(PacketDecryptionError);
    // The counter is the nonce: the same bytes under another counter do not open.
    expect(() => openPacket(key, 1, sealPacket(key, 0, Uint8Array.of(1)))).toThrow(PacketDecryptionError);
  });
});

describe('frame parser fuzzing', () => {
  const key = randomKey();
  // fast-check picks the shape (length, seed, edits); bytes come from a seeded xorshift so that
  // 100k packet-sized inputs stay cheap while remaining reproducible from the fc seed.
  const fill = (length: number, seed: number): Uint8Array => {
    const out = new Uint8Array(length);
    let x = seed | 1;
    for (let i = 0; i < length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      out[i] = x & 0xff;
    }
    return out;
  };
  const edits = fc.array(fc.tuple(fc.nat(PACKET_SIZE - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 4 });
  const mutated = fc.tuple(fc.nat(64), fc.integer(), edits).map(([len, seed, changes]) => {
    const frame = encodeFrame(fill(len, seed));
    for (const [at, value] of changes) frame[at] = value;
    return frame;
  });
  const noise = fc.tuple(fc.oneof(fc.constant(PACKET_SIZE), fc.nat(PACKET_SIZE + 16)), fc.integer()).map(([len, seed]) => fill(len, seed));

  it('decodeFrame: 100,000 inputs give a payload or a FrameInvalidError, nothing else', () => {
    let ok = 0;
    let rejected = 0;
    fc.assert(
      fc.property(fc.oneof(mutated, noise), (bytes) => {
        try {
          const p = decodeFrame(bytes);
          // One reading per packet: re-encoding gives back exactly the input.
          if (!Buffer.from(encodeFrame(p)).equals(bytes)) throw new Error('decoded frame does not re-encode to its input');
          ok++;
        } catch (err) {
          if (!(err instanceof FrameInvalidError)) throw err;
          rejected++;
        }
      }),
      { numRuns: 100_000 },
    );
    expect(ok).toBeGreaterThan(1000);
    expect(rejected).toBeGreaterThan(1000);
  });

  it('openPacket: 20,000 random and mutated packets are rejected with a typed error', () => {
    const valid = sealPacket(key, 0, Uint8Array.of(1, 2, 3));
    const mutatedSealed = fc.tuple(fc.nat(PACKET_SIZE - 1), fc.integer({ min: 1, max: 255 })).map(([at, x]) => {
      const p = valid.slice();
      p[at] = p[at]! ^ x;
      return p;
    });
    fc.assert(
      fc.property(fc.oneof(noise, mutatedSealed), (bytes) => {
        try {
          openPacket(key, 0, bytes);
        } catch (err) {
          if (err instanceof TapirError) return;
          throw err;
        }
        throw new Error('a random packet opened');
      }),
      { numRuns: 20_000 },
    );
  });
});
