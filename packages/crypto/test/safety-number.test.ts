import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Identity, InvalidKeyError, SAFETY_NUMBER_PATTERN, publicKeyFromOnion, safetyNumber } from '../src/index.js';

const key = fc.uint8Array({ minLength: 32, maxLength: 32 });

describe('safetyNumber', () => {
  it('is 12 groups of 5 digits, the same from both sides (property)', () => {
    fc.assert(
      fc.property(key, key, (a, b) => {
        const n = safetyNumber(a, b);
        expect(n).toMatch(SAFETY_NUMBER_PATTERN);
        expect(safetyNumber(b, a)).toBe(n);
      }),
    );
  });

  it('changes when any bit of either key changes (property)', () => {
    fc.assert(
      fc.property(key, key, fc.nat({ max: 255 }), fc.boolean(), (a, b, bit, flipFirst) => {
        const changed = Uint8Array.from(flipFirst ? a : b);
        changed[bit >> 3] = (changed[bit >> 3] as number) ^ (1 << (bit & 7));
        const before = safetyNumber(a, b);
        const after = flipFirst ? safetyNumber(changed, b) : safetyNumber(a, changed);
        expect(after).not.toBe(before);
      }),
    );
  });

  it('depends on the pair, not just on one key', () => {
    const [alice, bob, carol] = [Identity.generate(), Identity.generate(), Identity.generate()];
    const pk = (i: Identity) => publicKeyFromOnion(i.onion);
    expect(safetyNumber(pk(alice), pk(bob))).not.toBe(safetyNumber(pk(alice), pk(carol)));
    expect(safetyNumber(pk(alice), pk(bob))).not.toBe(safetyNumber(pk(carol), pk(bob)));
  });

  it('is pinned for a fixed pair (a format or label change must be deliberate)', () => {
    const a = new Uint8Array(32).fill(1);
    const b = new Uint8Array(32).fill(2);
    // Computed independently (node:crypto SHA-512 over label ‖ 0x01×32 ‖ 0x02×32, 5 bytes per group mod 10^5).
    expect(safetyNumber(a, b)).toBe('49997 43439 17833 66064 59057 25913 46297 19295 75276 91196 88966 22951');
  });

  it('refuses keys that are not 32 bytes', () => {
    expect(() => safetyNumber(new Uint8Array(31), new Uint8Array(32))).toThrow(InvalidKeyError);
    expect(() => safetyNumber(new Uint8Array(32), new Uint8Array(33))).toThrow(InvalidKeyError);
  });
});
