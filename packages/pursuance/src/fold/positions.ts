import type { EventId } from '../envelope.js';

/** A number per slot (0 until set), in an Int32Array that doubles as slots come. */
export function slotTable(): { get(slot: number): number; set(slot: number, value: number): void } {
  let at = new Int32Array(1024);
  return {
    get: (slot) => (slot < at.length ? at[slot]! : 0),
    set: (slot, value) => {
      if (slot >= at.length) {
        let length = at.length * 2;
        while (length <= slot) length *= 2;
        const grown = new Int32Array(length);
        grown.set(at);
        at = grown;
      }
      at[slot] = value;
    },
  };
}

/**
 * Each processed event's index in a fold's order, kept by the event's slot in its log
 * (held-set.ts): an Int32Array where a map keyed by ids cost ~36 bytes an event, for a fold the
 * log keeps as long as it runs. Answers as a map would: `get` undefined for an event not
 * processed, or one the log does not hold.
 */
export class Positions {
  /** Index + 1 by slot; 0: not processed. */
  readonly #at = slotTable();
  #size = 0;

  public constructor(private readonly slotOf: (id: EventId) => number | undefined) {}

  public get(id: EventId): number | undefined {
    const slot = this.slotOf(id);
    const v = slot === undefined ? 0 : this.#at.get(slot);
    return v === 0 ? undefined : v - 1;
  }

  public has(id: EventId): boolean {
    return this.get(id) !== undefined;
  }

  /** `id` is processed at `index`; its log must hold it (a fold processes only events it read from there). */
  public set(id: EventId, index: number): void {
    const slot = this.slotOf(id);
    if (slot === undefined) throw new Error(`event ${id} has no slot in its log: a fold processes only events the log holds`);
    if (this.#at.get(slot) === 0) this.#size += 1;
    this.#at.set(slot, index + 1);
  }

  /** How many events are processed. */
  public get size(): number {
    return this.#size;
  }
}
