import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { newRoleKey, rolePub, rolePubProblem } from '../src/keys.js';

const PURSUANCE = 'a'.repeat(64);
const OTHER = 'b'.repeat(64);

/** One field of a published key changed at one byte (a copy; the original stays as it was). */
function flipped(bytes: Uint8Array, at: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[at % out.length]! ^= 1 << (at % 8);
  return out;
}

describe('rolePubProblem: remembered verdicts', () => {
  it('gives a remembered verdict only for the very same pursuance, role, key id and keys', () => {
    const k = newRoleKey('organizer');
    const pub = rolePub(k, PURSUANCE);
    // Asked twice: the second answer is the remembered one, and the same.
    expect(rolePubProblem(pub, PURSUANCE, 'organizer', k.keyId)).toBeNull();
    expect(rolePubProblem(pub, PURSUANCE, 'organizer', k.keyId)).toBeNull();
    // The proof binds each of these: a verdict remembered for one is never another's.
    expect(rolePubProblem(pub, OTHER, 'organizer', k.keyId)).toMatch(/proof of possession/);
    expect(rolePubProblem(pub, null, 'organizer', k.keyId)).toMatch(/proof of possession/);
    expect(rolePubProblem(pub, PURSUANCE, 'member', k.keyId)).toMatch(/proof of possession/);
    expect(rolePubProblem(pub, PURSUANCE, 'organizer', newRoleKey('organizer').keyId)).toMatch(/proof of possession/);
    expect(rolePubProblem({ ...pub, pop: flipped(pub.pop, 3) }, PURSUANCE, 'organizer', k.keyId)).toMatch(/proof of possession/);
    // Role names that look like separators or prototypes do not collide with others.
    const odd = newRoleKey('"],["');
    expect(rolePubProblem(rolePub(odd, PURSUANCE), PURSUANCE, '"],["', odd.keyId)).toBeNull();
    expect(rolePubProblem(rolePub(odd, PURSUANCE), PURSUANCE, '__proto__', odd.keyId)).toMatch(/proof of possession/);
  });

  it('answers as a fresh check would, whatever was asked before and however often (property)', () => {
    const k = newRoleKey('member');
    const good = rolePub(k, PURSUANCE);
    const field = fc.constantFrom('sig', 'box', 'pop', 'none');
    fc.assert(
      fc.property(fc.array(fc.tuple(field, fc.nat(63)), { minLength: 1, maxLength: 12 }), (asks) => {
        for (const [which, at] of asks) {
          const pub = which === 'none' ? good : { ...good, [which]: flipped(good[which], at) };
          const first = rolePubProblem(pub, PURSUANCE, 'member', k.keyId);
          expect(first === null).toBe(which === 'none');
          expect(rolePubProblem(pub, PURSUANCE, 'member', k.keyId)).toBe(first);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('still answers right once the oldest verdicts have been forgotten', () => {
    const k = newRoleKey('member');
    const pub = rolePub(k, PURSUANCE);
    expect(rolePubProblem(pub, PURSUANCE, 'member', k.keyId)).toBeNull();
    // More distinct asks than are remembered (a bad proof under many role names: about 2 s).
    for (let i = 0; i < 4200; i++) expect(rolePubProblem(pub, PURSUANCE, `r${i}`, k.keyId)).not.toBeNull();
    expect(rolePubProblem(pub, PURSUANCE, 'member', k.keyId)).toBeNull();
    expect(rolePubProblem(pub, OTHER, 'member', k.keyId)).not.toBeNull();
  });
});
