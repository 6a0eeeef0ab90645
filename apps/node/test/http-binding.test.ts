import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { HttpBinding } from '../src/http/binding.js';
import { settled } from './support/settled.js';

/** A response that closes when told to. */
const response = (): EventEmitter & { close(): void } =>
  Object.assign(new EventEmitter(), {
    close(this: EventEmitter) {
      this.emit('close');
    },
  });

describe('HttpBinding: responses in flight', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('is quiet at once when nothing is being sent', async () => {
    expect(await settled(new HttpBinding('t').untilQuiet(1_000_000))).toBe(true);
  });

  it('waits until every response being sent has closed', async () => {
    const binding = new HttpBinding('t');
    const [a, b] = [response(), response()];
    binding.serving(a);
    binding.serving(b);
    const quiet = binding.untilQuiet(1_000_000);
    a.close();
    expect(await settled(quiet)).toBe(false);
    // A second close of the same response counts once.
    a.close();
    expect(await settled(quiet)).toBe(false);
    b.close();
    expect(await settled(quiet)).toBe(true);
    expect(await settled(binding.untilQuiet(1_000_000))).toBe(true);
  });

  it('waits no longer than its limit for a response that never ends', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const binding = new HttpBinding('t');
    binding.serving(response());
    const quiet = binding.untilQuiet(100);
    vi.advanceTimersByTime(99);
    expect(await settled(quiet)).toBe(false);
    vi.advanceTimersByTime(1);
    expect(await settled(quiet)).toBe(true);
  });
});
