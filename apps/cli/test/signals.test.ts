import { afterEach, describe, expect, it, vi } from 'vitest';
import { stopWithin } from '../src/signals.js';

/** process.exit replaced by a recorder, so the budget's way out can be observed. */
function recordExits(): number[] {
  const codes: number[] = [];
  vi.spyOn(process, 'exit').mockImplementation(((code?: number) => {
    codes.push(code ?? 0);
    return undefined as never;
  }) as typeof process.exit);
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  return codes;
}

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('stopWithin (a stop has a budget)', () => {
  it('exits with code 1 when the stop hangs past the budget (a network that will not let go)', async () => {
    vi.useFakeTimers();
    const codes = recordExits();
    void stopWithin(4_000, () => new Promise<void>(() => undefined));
    await vi.advanceTimersByTimeAsync(3_999);
    expect(codes).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(codes).toEqual([1]);
  });

  it('exits at once on a second signal, and leaves no listener or timer behind after a clean stop', async () => {
    vi.useFakeTimers();
    const codes = recordExits();
    const before = process.listenerCount('SIGTERM');
    void stopWithin(4_000, () => new Promise<void>(() => undefined));
    process.emit('SIGTERM', 'SIGTERM');
    expect(codes).toEqual([1]);

    codes.length = 0;
    await stopWithin(4_000, () => Promise.resolve());
    expect(process.listenerCount('SIGTERM')).toBe(before);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(codes).toEqual([]);
  });
});
