import type { EventId, SignedEvent } from './envelope.js';

/**
 * The events a log holds, by id, each with a slot: its place in the order the log took them
 * (dense from 0, never reused). A fold keeps its per-event tables as arrays indexed by slot
 * (fold/positions.ts), 4 bytes an event where a map keyed by 64-character ids costs ~36, and a
 * log is held for as long as the node runs. The slot is the log's, not the event's: one held
 * event object may sit in two logs (a full replay built beside a log started from a snapshot).
 */
export class HeldSet {
  readonly #slots = new Map<EventId, number>();
  /** By slot; undefined where an event was taken out (log.addOwn's refused own event). */
  readonly #events: (SignedEvent | undefined)[] = [];

  public get(id: EventId): SignedEvent | undefined {
    const slot = this.#slots.get(id);
    return slot === undefined ? undefined : this.#events[slot];
  }

  public has(id: EventId): boolean {
    return this.#slots.has(id);
  }

  public slotOf(id: EventId): number | undefined {
    return this.#slots.get(id);
  }

  /** Hold `e` under a new slot; an id already held keeps its event and slot. */
  public add(e: SignedEvent): void {
    if (this.#slots.has(e.id)) return;
    this.#slots.set(e.id, this.#events.length);
    this.#events.push(e);
  }

  /** Take `id` out: its slot is left empty, never given to another event. */
  public delete(id: EventId): void {
    const slot = this.#slots.get(id);
    if (slot === undefined) return;
    this.#slots.delete(id);
    this.#events[slot] = undefined;
  }

  /** The events held, in the order they were taken. */
  public *values(): IterableIterator<SignedEvent> {
    for (const e of this.#events) if (e !== undefined) yield e;
  }

  public get size(): number {
    return this.#slots.size;
  }
}
