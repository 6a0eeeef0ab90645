/**
 * The control-port reply parser: examples and fast-check fuzzing (never anything but
 * AcnControlError, never past its limits).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ControlReply, ControlReplyParser } from '../src/acn/tor-control-reply.js';
import { AcnControlError } from '../src/errors.js';
import { parseAll, expectControlError, serialize } from './support/fake-tor.js';

describe('ControlReplyParser', () => {
  it('parses a single-line reply', () => {
    expect(parseAll('250 OK\r\n')).toEqual([{ status: 250, lines: [{ status: 250, text: 'OK' }] }]);
  });

  it('parses mid-reply lines, data blocks with dot-stuffing, and async events', () => {
    const input =
      '250-PROTOCOLINFO 1\r\n250-AUTH METHODS=NULL\r\n250 OK\r\n' +
      '250+config-text=\r\nControlPort 1\r\n..hidden\r\n\r\n.\r\n250 OK\r\n' +
      '650 HS_DESC UPLOADED abc UNKNOWN $X~y\r\n';
    const replies = parseAll(input);
    expect(replies).toHaveLength(3);
    expect(replies[0]!.lines.map((l) => l.text)).toEqual(['PROTOCOLINFO 1', 'AUTH METHODS=NULL', 'OK']);
    expect(replies[1]!.lines[0]).toEqual({ status: 250, text: 'config-text=', data: 'ControlPort 1\n.hidden\n' });
    expect(replies[1]!.lines[1]).toEqual({ status: 250, text: 'OK' });
    expect(replies[2]).toEqual({ status: 650, lines: [{ status: 650, text: 'HS_DESC UPLOADED abc UNKNOWN $X~y' }] });
  });

  it('gives the same result however the stream is chunked, and accepts bare LF', () => {
    const input = Buffer.from('250-a=1\r\n250+b=\r\nx\r\n.\r\n250 OK\n552 Unrecognized key "c"\r\n');
    const whole = parseAll(input);
    const replies: ControlReply[] = [];
    const parser = new ControlReplyParser((r) => replies.push(r));
    for (const byte of input) parser.push(Uint8Array.of(byte));
    expect(replies).toEqual(whole);
    expect(whole.map((r) => r.status)).toEqual([250, 552]);
    expect(parser.idle).toBe(true);
  });

  it('rejects malformed lines with AcnControlError and stays failed', () => {
    expectControlError(() => parseAll('hello\r\n'), /status code/);
    expectControlError(() => parseAll('25 OK\r\n'), /status code/);
    expectControlError(() => parseAll('250\r\n'), /status code/);
    expectControlError(() => parseAll('250*OK\r\n'), /status code/);
    expectControlError(() => parseAll('250-a\r\n550 b\r\n'), /status code changed/);
    const parser = new ControlReplyParser(() => undefined);
    expectControlError(() => parser.push(Buffer.from('x\r\n')));
    expectControlError(() => parser.push(Buffer.from('250 OK\r\n')));
  });

  it('bounds line length, reply size and line count', () => {
    const limits = { maxLineBytes: 32, maxReplyBytes: 256, maxReplyLines: 8 };
    // An endless line without a newline: fails once past the limit, buffering no more than it.
    const parser = new ControlReplyParser(() => undefined, limits);
    parser.push(Buffer.from('250-' + 'a'.repeat(28)));
    expect(parser.bufferedLineBytes).toBe(32);
    expectControlError(() => parser.push(Buffer.from('aa')), /longer than 32/);
    expect(parser.bufferedLineBytes).toBe(0);
    expect(parseAll(`250 ${'a'.repeat(28)}\r\n`, limits)).toHaveLength(1);
    expectControlError(() => parseAll(`250 ${'a'.repeat(29)}\r\n`, limits), /longer/);
    expectControlError(() => parseAll(`250+x=\r\n${`${'d'.repeat(30)}\r\n`.repeat(8)}.\r\n250 OK\r\n`, limits), /larger than 256/);
    expectControlError(() => parseAll(`${'250-a\r\n'.repeat(9)}250 OK\r\n`, limits), /more than 8 lines/);
    expectControlError(() => parseAll(`250+x=\r\n${'d\r\n'.repeat(9)}.\r\n250 OK\r\n`, limits), /more than 8 lines/);
  });

  it('reports a stream that ends in the middle of a reply', () => {
    const parser = new ControlReplyParser(() => undefined);
    parser.push(Buffer.from('250-a\r\n'));
    expectControlError(() => parser.end(), /ended in the middle/);
    const clean = new ControlReplyParser(() => undefined);
    clean.push(Buffer.from('250 OK\r\n'));
    expect(() => clean.end()).not.toThrow();
  });

  it('fuzz: arbitrary bytes in arbitrary chunks only ever raise AcnControlError, within limits', () => {
    const limits = { maxLineBytes: 64, maxReplyBytes: 512, maxReplyLines: 16 };
    // Bytes biased towards what the grammar cares about, so deep states are actually reached.
    const interesting = fc.oneof(fc.constantFrom(...Buffer.from('0123456789 +-.\r\n\r\n250 OK\r\n650 ')), fc.integer({ min: 0, max: 255 }));
    const token = fc.oneof(fc.constantFrom('250 OK\r\n', '250-', '250+', '.\r\n', '..', '650 ', '\r\n', '\n', '550 ', 'X=', '"'), fc.string({ maxLength: 80 }));
    const streams = fc.oneof(
      fc.uint8Array({ maxLength: 600 }),
      fc.array(interesting, { maxLength: 600 }).map((a) => Uint8Array.from(a)),
      fc.array(token, { maxLength: 60 }).map((t) => Buffer.from(t.join(''), 'utf8')),
    );
    fc.assert(
      fc.property(streams, fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 40 }), (bytes, cuts) => {
        let replies = 0;
        const parser = new ControlReplyParser(() => replies++, limits);
        let offset = 0;
        let i = 0;
        try {
          while (offset < bytes.length) {
            const n = cuts.length > 0 ? cuts[i++ % cuts.length]! : bytes.length;
            parser.push(bytes.subarray(offset, offset + n));
            offset += n;
            expect(parser.bufferedLineBytes).toBeLessThanOrEqual(limits.maxLineBytes + 1);
          }
          parser.end();
        } catch (err) {
          if (!(err instanceof AcnControlError)) throw err;
        }
        expect(replies).toBeLessThanOrEqual(bytes.length / 5);
      }),
      { numRuns: 20_000 },
    );
  });

  it('fuzz: well-formed replies round-trip through serialization and random chunking', () => {
    const text = fc.string({ unit: fc.constantFrom(...'abcXYZ019 =."-+$~'), maxLength: 30 });
    const line = (status: number): fc.Arbitrary<{ status: number; text: string; data?: string }> =>
      fc.oneof(
        text.map((t) => ({ status, text: t })),
        fc
          .tuple(text, fc.array(fc.string({ unit: fc.constantFrom(...'ab.. =+-'), maxLength: 12 }), { minLength: 1, maxLength: 5 }))
          .map(([t, d]) => ({ status, text: t, data: d.join('\n') })),
      );
    const reply = fc.constantFrom(250, 251, 451, 510, 552, 650).chain((status) =>
      fc.tuple(fc.array(line(status), { maxLength: 4 }), text).map(([mid, end]) => ({
        status,
        lines: [...mid, { status, text: end }],
      })),
    );
    fc.assert(
      fc.property(fc.array(reply, { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 17 }), (replies, cut) => {
        const bytes = Buffer.from(serialize(replies), 'utf8');
        const got: ControlReply[] = [];
        const parser = new ControlReplyParser((r) => got.push(r));
        for (let o = 0; o < bytes.length; o += cut) parser.push(bytes.subarray(o, o + cut));
        expect(got).toEqual(replies);
        expect(parser.idle).toBe(true);
      }),
      { numRuns: 5_000 },
    );
  });
});
