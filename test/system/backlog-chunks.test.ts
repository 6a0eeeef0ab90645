import { PursuanceLog } from '@pursuance/pursuance';
import { describe, expect, it } from 'vitest';
import { backlogChunks } from '../support/backlog.js';

/**
 * The benchmarks' million-event store is generated in chunks, the authors moving on from a base
 * after each (test/support/backlog.ts). The figures mean something only if that history is one a
 * member holding all of it folds to the same state as the generator's last, chained log.
 */
describe('the chunked backlog generator', () => {
  it('yields chunks of the asked size, genesis first, that a full log folds to the chained log’s state, nothing left waiting', () => {
    const chunks: Uint8Array[][] = [];
    const generator = backlogChunks(3_000, { members: 6, rotations: 2, seed: 3 }, 1_000);
    let next = generator.next();
    for (; !next.done; next = generator.next()) chunks.push(next.value);
    const made = next.value;
    expect(chunks.length).toBeGreaterThanOrEqual(3);
    // The log moves on once a chunk is full, so each but the last holds at least `chunk` events.
    for (const chunk of chunks.slice(0, -1)) expect(chunk.length).toBeGreaterThanOrEqual(1_000);
    const all = chunks.flat();
    expect(all.length).toBeGreaterThanOrEqual(3_000);
    expect(made.log.base, 'the last log starts from a base').toBeDefined();

    const full = new PursuanceLog(all[0]!);
    const results = full.addAll(all.slice(1));
    expect(results.filter((r) => r.status === 'invalid' || r.status === 'pending' || r.status === 'duplicate')).toEqual([]);
    expect(full.size).toBe(all.length);
    expect(full.stateHash()).toBe(made.log.stateHash());
    expect(full.state().tasks.size).toBe(made.tasks);
  });
});
