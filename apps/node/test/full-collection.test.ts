import { describe, expect, it, vi } from 'vitest';
import { collectFully } from '../src/full-collection.js';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('collectFully', () => {
  it('frees what nothing reaches any more, young or old, before it returns, and again on a second call', async () => {
    for (let round = 0; round < 2; round++) {
      // Nothing but the WeakRef reaches the array once this line is done.
      const ref = new WeakRef(Array.from({ length: 1_000 }, (_, i) => ({ i })));
      // A WeakRef's target stays alive until the turn that made it ends.
      await nextTurn();
      expect(typeof (await collectFully(nextTurn))).toBe('number');
      expect(ref.deref(), `round ${round}`).toBeUndefined();
    }
  });

  it('lets other work run once, between its two passes, after the first has freed what nothing reaches', async () => {
    const ref = new WeakRef(Array.from({ length: 1_000 }, (_, i) => ({ i })));
    await nextTurn();
    const seen: (object | undefined)[] = [];
    await collectFully(async () => {
      seen.push(ref.deref());
      await nextTurn();
    });
    expect(seen).toEqual([undefined]);
  });

  it('lets `between` run once, between its two passes, never before the first or after the second', async () => {
    // A module of its own, which takes the `gc` put here (the one above keeps the first it found).
    vi.resetModules();
    const calls: string[] = [];
    const had = Object.getOwnPropertyDescriptor(globalThis, 'gc');
    Object.defineProperty(globalThis, 'gc', { value: () => void calls.push('pass'), configurable: true, writable: true });
    try {
      const fresh = await import('../src/full-collection.js');
      await fresh.collectFully(() => {
        calls.push('between');
        return Promise.resolve();
      });
    } finally {
      if (had) Object.defineProperty(globalThis, 'gc', had);
      else delete (globalThis as { gc?: unknown }).gc;
    }
    expect(calls).toEqual(['pass', 'between', 'pass']);
  });

  it('without a global gc (a node started without --expose-gc) takes one from a fresh context, and it frees as well', async () => {
    vi.resetModules();
    const had = Object.getOwnPropertyDescriptor(globalThis, 'gc');
    delete (globalThis as { gc?: unknown }).gc;
    try {
      const fresh = await import('../src/full-collection.js');
      const ref = new WeakRef(Array.from({ length: 1_000 }, (_, i) => ({ i })));
      await nextTurn();
      await fresh.collectFully(nextTurn);
      expect(ref.deref()).toBeUndefined();
      expect((globalThis as { gc?: unknown }).gc, 'nothing is put back on the global').toBeUndefined();
    } finally {
      if (had) Object.defineProperty(globalThis, 'gc', had);
    }
  });

  it('leaves what is still reached', async () => {
    const kept = { name: 'kept' };
    const ref = new WeakRef(kept);
    await nextTurn();
    await collectFully(nextTurn);
    expect(ref.deref()).toBe(kept);
  });
});
