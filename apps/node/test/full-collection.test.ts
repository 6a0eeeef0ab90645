import { describe, expect, it } from 'vitest';
import { collectFully } from '../src/full-collection.js';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('collectFully', () => {
  it('frees what nothing reaches any more, young or old, before it returns, and again on a second call', async () => {
    for (let round = 0; round < 2; round++) {
      // Nothing but the WeakRef reaches the array once this line is done.
      const ref = new WeakRef(Array.from({ length: 1_000 }, (_, i) => ({ i })));
      // A WeakRef's target stays alive until the turn that made it ends.
      await nextTurn();
      expect(typeof collectFully()).toBe('number');
      expect(ref.deref(), `round ${round}`).toBeUndefined();
    }
  });

  it('leaves what is still reached', async () => {
    const kept = { name: 'kept' };
    const ref = new WeakRef(kept);
    await nextTurn();
    collectFully();
    expect(ref.deref()).toBe(kept);
  });
});
