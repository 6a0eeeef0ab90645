import { MemoryRelayStore } from '../memory-store.js';
import type { PostOutcome, PostRecord } from '../store.js';

/**
 * A memory store whose posts wait until the test releases them, oldest first: how a test holds
 * a window of posts in flight and watches how many the client keeps there.
 */
export class GatedStore extends MemoryRelayStore {
  public pending = 0;
  public maxPending = 0;
  /** Posts let through so far. */
  public released = 0;
  readonly #gates: (() => void)[] = [];

  public override async post(record: PostRecord): Promise<PostOutcome> {
    this.pending += 1;
    this.maxPending = Math.max(this.maxPending, this.pending);
    await new Promise<void>((resolve) => this.#gates.push(resolve));
    this.pending -= 1;
    this.released += 1;
    return super.post(record);
  }

  public releaseOldest(): void {
    this.#gates.shift()?.();
  }
}
