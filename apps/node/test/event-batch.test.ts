import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_GROUP_PAYLOAD_PER_MESSAGE } from '@pursuance/cwtch';
import { Identity } from '@pursuance/crypto';
import { PursuanceAuthor, RulesSchema } from '@pursuance/pursuance';
import { BATCH_MAGIC, BatchInvalidError, decodeBatch, encodeBatch, eventsOfPayload, isBatch, packEvents } from '../src/sync/event-batch.js';

const event = fc.uint8Array({ minLength: 1, maxLength: 5000 });
const limit = MAX_GROUP_PAYLOAD_PER_MESSAGE;

function realEvents(count: number): Uint8Array[] {
  const json = JSON.parse(readFileSync(new URL('../../../rules/templates/activist-cell.json', import.meta.url), 'utf8')) as Record<string, unknown>;
  delete json.$schema;
  let t = 1_800_000_000_000;
  const author = PursuanceAuthor.create(Identity.generate(), { name: 'batched', rules: RulesSchema.parse(json) }, () => (t += 1000));
  const task = author.createTask({ audience: ['member'], title: 'flyers' });
  for (let i = 2; i < count; i++) author.comment(task.id, `note ${i}`);
  return [...author.log.events()].map((e) => e.bytes);
}

describe('event batches in group messages', () => {
  it('no event starts like a batch: a payload is one or the other', () => {
    for (const bytes of realEvents(20)) {
      expect(isBatch(bytes)).toBe(false);
      expect(eventsOfPayload(bytes)).toEqual([bytes]);
    }
  });

  it('packs real events into fewer messages, each within one group message, in log order', () => {
    const events = realEvents(200);
    const payloads = packEvents(events, limit);
    expect(payloads.flatMap(eventsOfPayload)).toEqual(events);
    for (const p of payloads) if (isBatch(p)) expect(p.length).toBeLessThanOrEqual(limit);
    // Comments are a few hundred bytes: several share each message.
    expect(payloads.length).toBeLessThan(events.length / 3);
  });

  it('any events, any limit: packing then reading gives them back in order; batches fit the limit; a lone event is posted as it is', () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 40 }), fc.integer({ min: BATCH_MAGIC.length + 3, max: 20_000 }), (events, max) => {
        const payloads = packEvents(events, max);
        expect(payloads.flatMap(eventsOfPayload)).toEqual(events);
        for (const p of payloads) {
          if (isBatch(p)) {
            expect(p.length).toBeLessThanOrEqual(max);
            expect(decodeBatch(p).length).toBeGreaterThan(1);
          } else expect(events.some((e) => e === p)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('the largest length prefix is accepted; an event too big to prefix goes alone', () => {
    const big = new Uint8Array(0xffff).fill(7);
    expect(decodeBatch(encodeBatch([big, Uint8Array.of(1)]))).toEqual([big, Uint8Array.of(1)]);
    const huge = new Uint8Array(0x10000).fill(8);
    expect(() => encodeBatch([huge])).toThrow(BatchInvalidError);
    expect(packEvents([Uint8Array.of(1), huge, Uint8Array.of(2)], 1_000_000)).toEqual([Uint8Array.of(1), huge, Uint8Array.of(2)]);
  });

  it('refuses with a typed error: no magic, no events, an empty event, a cut length, a cut event', () => {
    const cases: [string, Uint8Array][] = [
      ['no magic', Uint8Array.of(0x00, 0x50, 0x42, 0x02, 0, 1, 9)],
      ['no events', BATCH_MAGIC],
      ['an empty event', Uint8Array.of(...BATCH_MAGIC, 0, 0)],
      ['a cut length', Uint8Array.of(...BATCH_MAGIC, 0, 1, 9, 0)],
      ['a cut event', Uint8Array.of(...BATCH_MAGIC, 0, 3, 9, 9)],
    ];
    for (const [what, bytes] of cases) {
      expect(() => decodeBatch(bytes), what).toThrow(BatchInvalidError);
      // Handed on whole: the ingest keeps it as an invalid input with its reason.
      expect(eventsOfPayload(bytes), what).toEqual([bytes]);
    }
    expect(() => encodeBatch([])).toThrow(BatchInvalidError);
    expect(() => encodeBatch([new Uint8Array(0)])).toThrow(BatchInvalidError);
  });

  it('fuzz: arbitrary bytes, and batches cut or bit-flipped, give events or a BatchInvalidError, never anything else', () => {
    const decodeOrTyped = (bytes: Uint8Array): void => {
      try {
        const events = decodeBatch(bytes);
        // Whatever decodes is exactly what it re-encodes to.
        expect(encodeBatch(events)).toEqual(bytes);
      } catch (err) {
        expect(err).toBeInstanceOf(BatchInvalidError);
      }
      expect(eventsOfPayload(bytes).length).toBeGreaterThan(0);
    };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => decodeOrTyped(Uint8Array.of(...BATCH_MAGIC, ...bytes))),
      { numRuns: 3000 },
    );
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), decodeOrTyped), { numRuns: 2000 });
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 8 }), fc.nat(), fc.nat(7), (events, at, bit) => {
        const bytes = encodeBatch(events);
        decodeOrTyped(bytes.subarray(0, at % bytes.length));
        const flipped = bytes.slice();
        flipped[at % bytes.length]! ^= 1 << bit;
        decodeOrTyped(flipped);
      }),
      { numRuns: 2000 },
    );
  });
});
