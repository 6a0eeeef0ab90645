import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecryptionError, Identity, openFromIdentity, sealToIdentity } from '../src/index.js';
import { ANONYMOUS_BOX_OVERHEAD } from '../src/anonymous-box.js';

describe('anonymous sealed box to an identity', () => {
  const alice = Identity.generate();
  const bob = Identity.generate();

  it('round-trips for the recipient only, with a fixed overhead', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (m) => {
        const sealed = sealToIdentity(alice.publicKey, m);
        expect(sealed.length).toBe(m.length + ANONYMOUS_BOX_OVERHEAD);
        expect(openFromIdentity(alice, sealed)).toEqual(m);
        expect(() => openFromIdentity(bob, sealed)).toThrow(DecryptionError);
      }),
      { numRuns: 100 },
    );
  });

  it('fails closed on any altered byte, truncation, or a low-order ephemeral key', () => {
    const sealed = sealToIdentity(alice.publicKey, new Uint8Array([1, 2, 3]));
    for (let i = 0; i < sealed.length; i++) {
      const t = sealed.slice();
      t[i] = t[i]! ^ 0x20;
      expect(() => openFromIdentity(alice, t), `byte ${i}`).toThrow(DecryptionError);
    }
    expect(() => openFromIdentity(alice, sealed.subarray(0, 40))).toThrow(DecryptionError);
    const lowOrder = sealed.slice();
    lowOrder.fill(0, 0, 32);
    expect(() => openFromIdentity(alice, lowOrder)).toThrow(DecryptionError);
  });

  it('uses a fresh ephemeral key per box', () => {
    const a = sealToIdentity(alice.publicKey, new Uint8Array(8));
    const b = sealToIdentity(alice.publicKey, new Uint8Array(8));
    expect(Buffer.from(a.subarray(0, 32)).equals(Buffer.from(b.subarray(0, 32)))).toBe(false);
  });
});
