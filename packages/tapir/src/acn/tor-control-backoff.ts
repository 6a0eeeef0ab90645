/**
 * When TorACN retries its tor control connection: capped exponential backoff with jitter, and
 * the clock it runs on (injectable, so unit tests can see every delay without waiting for it).
 */

export interface ReconnectPolicy {
  /** Delay before the first retry (ms). */
  readonly initialDelayMs: number;
  /** No delay is ever longer than this (ms). */
  readonly maxDelayMs: number;
}

export const DEFAULT_RECONNECT_POLICY: ReconnectPolicy = { initialDelayMs: 250, maxDelayMs: 15_000 };

/**
 * Delay before the `n`-th consecutive retry (n ≥ 1): the step doubles from initialDelayMs up to
 * maxDelayMs, and the delay is half the step plus a random part of the other half ("equal
 * jitter"), so that several programs that lost the same tor do not all retry in lockstep while
 * no retry ever comes sooner than half its step. `random` is uniform in [0, 1).
 */
export function reconnectDelay(n: number, policy: ReconnectPolicy, random: number): number {
  const initial = Math.max(1, policy.initialDelayMs);
  const max = Math.max(initial, policy.maxDelayMs);
  const exponent = Math.min(Math.max(0, Math.floor(n) - 1), 40);
  const step = Math.min(max, initial * 2 ** exponent);
  const r = Number.isFinite(random) ? Math.min(1, Math.max(0, random)) : 0;
  return Math.round(step / 2 + (step / 2) * r);
}

/** Time and timers for reconnection and status timestamps. */
export interface TorACNClock {
  /** Epoch milliseconds. */
  now(): number;
  /** Run `fn` after `ms`; returns a function that cancels it. */
  setTimer(fn: () => void, ms: number): () => void;
}

export const systemClock: TorACNClock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    const timer = setTimeout(fn, ms);
    // A backoff alone must not keep a process alive that has nothing else left to do.
    timer.unref();
    return () => clearTimeout(timer);
  },
};
