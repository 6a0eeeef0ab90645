/**
 * The pieces of ACN status that need no tor: parsing tor's STATUS_CLIENT events (property
 * tested: hostile text never escapes as anything but AcnControlError) and LoopbackACN's status.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AcnStatus } from '../src/acn/acn.js';
import { LoopbackACN } from '../src/acn/loopback-acn.js';
import { parseClientStatusEvent } from '../src/acn/tor-control.js';
import { AcnControlError } from '../src/errors.js';

const event = (text: string) => ({ status: 650, lines: [{ status: 650, text }] });

describe('parseClientStatusEvent', () => {
  it('reads bootstrap progress and circuit events, and ignores other events', () => {
    expect(parseClientStatusEvent(event('STATUS_CLIENT NOTICE BOOTSTRAP PROGRESS=85 TAG=ap_conn_done SUMMARY="Connected to a relay"'))).toEqual({
      kind: 'bootstrap',
      phase: { progress: 85, tag: 'ap_conn_done', summary: 'Connected to a relay' },
    });
    expect(parseClientStatusEvent(event('STATUS_CLIENT NOTICE CIRCUIT_ESTABLISHED'))).toEqual({ kind: 'circuits', established: true });
    expect(parseClientStatusEvent(event('STATUS_CLIENT NOTICE CIRCUIT_NOT_ESTABLISHED REASON=CLOCK_JUMPED'))).toEqual({ kind: 'circuits', established: false });
    expect(parseClientStatusEvent(event('STATUS_CLIENT NOTICE ENOUGH_DIR_INFO'))).toBeUndefined();
    expect(parseClientStatusEvent(event('HS_DESC UPLOADED abc UNKNOWN $AAAA'))).toBeUndefined();
    for (const bad of ['PROGRESS=101', 'PROGRESS=-1', 'PROGRESS=', 'PROGRESS=1e2', 'PROGRESS=0x10', 'TAG=x']) {
      expect(() => parseClientStatusEvent(event(`STATUS_CLIENT NOTICE BOOTSTRAP ${bad}`))).toThrow(AcnControlError);
    }
  });

  it('never throws anything but AcnControlError, and keeps progress and summary bounded', () => {
    const words = fc.constantFrom('STATUS_CLIENT', 'NOTICE', 'WARN', 'BOOTSTRAP', 'CIRCUIT_ESTABLISHED', 'PROGRESS=', 'SUMMARY="', '"', '\\', '=', ' ');
    const text = fc.array(fc.oneof(words, fc.string({ unit: 'binary', maxLength: 400 })), { maxLength: 12 }).map((parts) => parts.join(''));
    fc.assert(
      fc.property(
        fc.oneof(
          text,
          text.map((t) => `STATUS_CLIENT NOTICE BOOTSTRAP ${t}`),
        ),
        (t) => {
          let parsed;
          try {
            parsed = parseClientStatusEvent(event(t));
          } catch (err) {
            expect(err).toBeInstanceOf(AcnControlError);
            return;
          }
          if (parsed?.kind !== 'bootstrap') return;
          expect(Number.isInteger(parsed.phase.progress)).toBe(true);
          expect(parsed.phase.progress).toBeGreaterThanOrEqual(0);
          expect(parsed.phase.progress).toBeLessThanOrEqual(100);
          expect(parsed.phase.summary.length).toBeLessThanOrEqual(201);
          for (const ch of parsed.phase.summary) {
            const code = ch.codePointAt(0)!;
            expect(code < 0x20 || (code >= 0x7f && code <= 0x9f)).toBe(false);
          }
        },
      ),
    );
  });
});

describe('LoopbackACN status', () => {
  it("is a constant 'up' until close(), which subscribers are told about", async () => {
    const acn = new LoopbackACN();
    const seen: AcnStatus[] = [];
    acn.onStatus((s) => seen.push(s));
    expect(acn.status()).toMatchObject({ state: 'up', outages: 0, lastError: null, bootstrap: { progress: 100 } });
    await acn.close();
    expect(acn.status().state).toBe('closed');
    expect(seen.map((s) => s.state)).toEqual(['closed']);
  });
});
