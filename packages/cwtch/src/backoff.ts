import type { RetryPolicy } from './protocol-profile.js';

/**
 * Delay before retry number `attempt` (1 = after the first failure): exponential from
 * `baseMs`, capped at `maxMs`, with ±jitter so many peers queued on one contact (or one relay)
 * do not retry in lockstep. `random` is injectable so tests are deterministic.
 */
export function retryDelay(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(attempt, 1) - 1, 52);
  const raw = Math.min(policy.maxMs, policy.baseMs * 2 ** exponent);
  const jittered = raw * (1 + policy.jitter * (2 * random() - 1));
  return Math.max(0, Math.min(policy.maxMs, Math.round(jittered)));
}

/** A setTimeout that a stop can cancel early (resolves either way). */
export class Sleeper {
  readonly #timers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();

  public sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        resolve,
        timer: setTimeout(() => {
          this.#timers.delete(entry);
          resolve();
        }, ms),
      };
      this.#timers.add(entry);
    });
  }

  /** Wake every sleeper now. */
  public wakeAll(): void {
    for (const entry of this.#timers) {
      clearTimeout(entry.timer);
      entry.resolve();
    }
    this.#timers.clear();
  }
}
