import { __tests } from '@scure/sr25519';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex } from '@pursuance/crypto';
import { MerlinTranscript, Transcript } from '../src/transcript.js';

describe('Merlin transcript', () => {
  it('matches the published Merlin test vector (gtank/merlin, merlin.cool)', () => {
    const t = new MerlinTranscript('test protocol');
    t.appendMessage('some label', 'some data');
    expect(toHex(t.challengeBytes('challenge', 32))).toBe('d5a21972d0d5fe320c0d263fac7fffb8145aa640af6e9bca177c03c7efcf0615');
  });

  it('agrees with the audited STROBE/Merlin in @scure/sr25519 on random transcripts', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('append' as const), label: fc.string({ maxLength: 20 }), data: fc.uint8Array({ maxLength: 600 }) }),
      fc.record({ kind: fc.constant('challenge' as const), label: fc.string({ maxLength: 20 }), length: fc.integer({ min: 0, max: 400 }) }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), fc.array(op, { maxLength: 12 }), (label, ops) => {
        const ours = new MerlinTranscript(label);
        const theirs = new __tests.Merlin(label);
        for (const o of ops) {
          if (o.kind === 'append') {
            ours.appendMessage(o.label, o.data);
            theirs.appendMessage(o.label, o.data);
          } else {
            expect(toHex(ours.challengeBytes(o.label, o.length))).toBe(toHex(theirs.challengeBytes(o.label, o.length)));
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('binds every entry: changing any label or value changes the commitment', () => {
    const commit = (entries: [string, string][]): string => {
      const t = new Transcript('tapir-transcript');
      for (const [l, v] of entries) t.add(l, v);
      return toHex(t.commit('c'));
    };
    const base = commit([
      ['a', '1'],
      ['b', '2'],
    ]);
    expect(
      commit([
        ['a', '1'],
        ['b', '3'],
      ]),
    ).not.toBe(base);
    expect(
      commit([
        ['a', '1'],
        ['c', '2'],
      ]),
    ).not.toBe(base);
    expect(
      commit([
        ['b', '2'],
        ['a', '1'],
      ]),
    ).not.toBe(base);
    expect(
      commit([
        ['a', '1'],
        ['b', '2'],
      ]),
    ).toBe(base);
  });
});
