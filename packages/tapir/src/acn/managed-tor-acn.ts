/**
 * A TorACN on a tor we launched: the same ACN (a subclass, so status and everything else TorACN
 * offers stays available), whose close() also stops that tor, after its onions are removed.
 *
 * It also keeps that tor alive: when tor exits without us stopping it (crashed, killed, OOM),
 * it is launched again with the same DataDirectory and torrc on the same control and SOCKS
 * ports (ManagedTor.relaunch), with capped exponential backoff between attempts. TorACN, which
 * meanwhile reports the outage in status() and retries its control port, then reconnects and
 * re-publishes every onion as after any tor restart. A port that something else took fails the
 * attempt (and the next ones, until it is free): moving ports would strand the TorACN.
 */
import { TapirError } from '../errors.js';
import type { ManagedTor, TorExit } from './managed-tor.js';
import { TorACN, type TorACNOptions } from './tor-acn.js';
import { reconnectDelay, type ReconnectPolicy } from './tor-control-backoff.js';

/** What ManagedTorACN tells its `onRelaunch` hook (for logs; no secrets). */
export type RelaunchEvent =
  /** tor exited by itself; the first attempt follows after `delayMs`. */
  | { readonly kind: 'exited'; readonly pid: number; readonly exit: TorExit; readonly delayMs: number }
  /** Attempt `attempt` (1-based, per outage) failed with `code`; the next follows after `delayMs`. */
  | { readonly kind: 'failed'; readonly attempt: number; readonly code: string; readonly delayMs: number }
  /** A new tor is up (bootstrapped) on the same ports. */
  | { readonly kind: 'relaunched'; readonly attempt: number; readonly pid: number; readonly downMs: number };

export interface ManagedTorACNOptions {
  /** Backoff between relaunch attempts (default 1 s doubling up to 30 s, with jitter). A tor that
   * dies within `maxDelayMs` of its launch does not reset it, so a crash loop slows down too. */
  readonly relaunch?: Partial<ReconnectPolicy>;
  /** Told about each exit, failed attempt and relaunch. A throwing hook is ignored. */
  readonly onRelaunch?: (event: RelaunchEvent) => void;
  /** Uniform [0, 1) source for the backoff jitter (default Math.random). */
  readonly random?: () => number;
}

export const DEFAULT_RELAUNCH_POLICY: ReconnectPolicy = { initialDelayMs: 1000, maxDelayMs: 30_000 };

export class ManagedTorACN extends TorACN {
  #tor: ManagedTor;
  #launchedAt = Date.now();
  /** Consecutive relaunches (attempts, and tors that died young): the backoff exponent. */
  #streak = 0;
  #stopped = false;
  readonly #lifetime = new AbortController();
  #relaunching: Promise<void> | undefined;
  readonly #policy: ReconnectPolicy;
  readonly #relaunchOptions: ManagedTorACNOptions;

  public constructor(managedTor: ManagedTor, extra: Partial<TorACNOptions> = {}, options: ManagedTorACNOptions = {}) {
    super(managedTor.torACNOptions(extra));
    this.#tor = managedTor;
    this.#policy = { ...DEFAULT_RELAUNCH_POLICY, ...options.relaunch };
    this.#relaunchOptions = options;
    this.#watch(managedTor);
  }

  /** The tor running now (a relaunch replaces it; the ports stay the same). */
  public get managedTor(): ManagedTor {
    return this.#tor;
  }

  public override async close(): Promise<void> {
    this.#stopped = true;
    this.#lifetime.abort();
    try {
      await super.close();
    } finally {
      // An attempt in progress stops the tor it started when aborted; wait for that.
      await this.#relaunching;
      await this.#tor.stop();
    }
  }

  #watch(tor: ManagedTor): void {
    void tor.exited.then((exit) => {
      if (exit.stopped || this.#stopped || tor !== this.#tor) return;
      this.#relaunching = this.#relaunch(tor, exit).finally(() => {
        this.#relaunching = undefined;
      });
    });
  }

  async #relaunch(dead: ManagedTor, exit: TorExit): Promise<void> {
    const downAt = Date.now();
    // Only a tor that lasted resets the backoff: one that keeps dying at once must not spin.
    if (downAt - this.#launchedAt >= this.#policy.maxDelayMs) this.#streak = 0;
    let delayMs = this.#nextDelay();
    this.#tell({ kind: 'exited', pid: dead.pid, exit, delayMs });
    for (let attempt = 1; ; attempt++) {
      if (!(await this.#sleep(delayMs))) return;
      try {
        const next = await dead.relaunch({ signal: this.#lifetime.signal });
        if (this.#stopped) {
          await next.stop();
          return;
        }
        this.#tor = next;
        this.#launchedAt = Date.now();
        this.#watch(next);
        this.#tell({ kind: 'relaunched', attempt, pid: next.pid, downMs: Date.now() - downAt });
        return;
      } catch (err) {
        if (this.#stopped) return;
        delayMs = this.#nextDelay();
        this.#tell({ kind: 'failed', attempt, code: err instanceof TapirError ? err.code : 'TOR_LAUNCH', delayMs });
      }
    }
  }

  #nextDelay(): number {
    this.#streak++;
    let r: number;
    try {
      r = (this.#relaunchOptions.random ?? Math.random)();
    } catch {
      r = 0.5;
    }
    return reconnectDelay(this.#streak, this.#policy, r);
  }

  /** false when close() ended the wait. */
  #sleep(ms: number): Promise<boolean> {
    const signal = this.#lifetime.signal;
    if (signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve(!signal.aborted);
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  #tell(event: RelaunchEvent): void {
    try {
      this.#relaunchOptions.onRelaunch?.(event);
    } catch {
      // a logging hook must not stop the relaunch
    }
  }
}
