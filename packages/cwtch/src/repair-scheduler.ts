import { codeOf, type PeerEvents, type PeerLifecycle } from './peer-context.js';
import type { RepairEngine } from './repair.js';

/**
 * When to run gap repair. A gap seen in live traffic waits a little first: a relay that merely
 * reordered its pushes fills most gaps by itself, and asking members for those would be wasted
 * traffic. At most one repair is pending per group; a run already in progress is the engine's
 * concern (it queues one more run after it).
 */
export class RepairScheduler {
  readonly #repair: RepairEngine;
  readonly #events: PeerEvents;
  readonly #lifecycle: PeerLifecycle;
  readonly #delayMs: number;
  readonly #timers = new Map<string, NodeJS.Timeout>();

  public constructor(options: { repair: RepairEngine; events: PeerEvents; lifecycle: PeerLifecycle; delayMs: number }) {
    this.#repair = options.repair;
    this.#events = options.events;
    this.#lifecycle = options.lifecycle;
    this.#delayMs = options.delayMs;
  }

  public schedule(groupId: string, delayMs: number = this.#delayMs): void {
    if (this.#lifecycle.stopped || this.#timers.has(groupId)) return;
    const timer = setTimeout(() => {
      this.#timers.delete(groupId);
      if (!this.#lifecycle.stopped)
        void this.#repair.repair(groupId).catch((err: unknown) => this.#events.emit('warning', { code: codeOf(err), where: 'repair' }));
    }, delayMs);
    this.#timers.set(groupId, timer);
  }

  public stop(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }
}
