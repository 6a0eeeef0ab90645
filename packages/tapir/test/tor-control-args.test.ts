/**
 * Reply arguments: KEYWORD=Value pairs with quoted values (control-spec §2.1.1).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseReplyArgs } from '../src/acn/tor-control-args.js';
import { AcnControlError } from '../src/errors.js';
import { expectControlError } from './support/fake-tor.js';

describe('parseReplyArgs', () => {
  it('splits words and KEY=value pairs, unescaping quoted values', () => {
    const args = parseReplyArgs(String.raw`AUTH METHODS=COOKIE,SAFECOOKIE COOKIEFILE="/tmp/a \"b\"\\c\n\101\303\251"  TAG=done`);
    expect(args.words).toEqual(['AUTH']);
    expect(args.values.get('METHODS')).toBe('COOKIE,SAFECOOKIE');
    expect(args.values.get('COOKIEFILE')).toBe('/tmp/a "b"\\c\nAé');
    expect(args.values.get('TAG')).toBe('done');
    const boot = parseReplyArgs('NOTICE BOOTSTRAP PROGRESS=85 TAG=ap_conn SUMMARY="Connecting to a relay to build circuits"');
    expect(boot.values.get('SUMMARY')).toBe('Connecting to a relay to build circuits');
  });

  it('rejects an unterminated quoted string', () => {
    expectControlError(() => parseReplyArgs('X="abc'), /unterminated/);
    expectControlError(() => parseReplyArgs('X="abc\\'), /unterminated/);
  });

  it('fuzz: any text parses or raises AcnControlError', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'AB= "\\017n\u00e9'), maxLength: 60 }), (s) => {
        try {
          parseReplyArgs(s);
        } catch (err) {
          if (!(err instanceof AcnControlError)) throw err;
        }
      }),
      { numRuns: 5_000 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Client over real sockets
// ---------------------------------------------------------------------------------------------
