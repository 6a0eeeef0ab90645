import type { OnionName } from '@pursuance/crypto';
import type { EventId } from './envelope.js';

/**
 * How far past an author's dense run of sequence numbers a new one may land and still join it.
 * Small, so the run's array never holds a long stretch of holes (nor leaves V8's fast elements).
 */
const DENSE_SLACK = 64;

/** One author's sequence numbers: a dense run from the first one seen, the rest in a map. */
interface AuthorSeqs {
  readonly from: number;
  readonly ids: (EventId | undefined)[];
  far: Map<number, EventId> | undefined;
}

/**
 * Which event an author signed with each sequence number, as a log holds it for good. An
 * honest author's numbers run 1, 2, 3…, so each author's are kept in an array from the first
 * number seen (8 bytes an event, where a map of numbers held ~40); a number far from that run
 * (an absurd 2^40, or one below the first) goes to a map of its own. A hostile author who
 * signs numbers spaced just within the slack (1, 66, 131…) makes their own array sparse, at
 * most DENSE_SLACK + 1 slots (520 bytes) an event they sent, and nobody else's. An author
 * whose first event seen is a late one keeps the numbers below it in the map: the same answers,
 * at the map's cost. Setting a number already set replaces its event.
 */
export class SeqIndex {
  readonly #byAuthor = new Map<OnionName, AuthorSeqs>();

  public get(author: OnionName, seq: number): EventId | undefined {
    const a = this.#byAuthor.get(author);
    if (!a) return undefined;
    const i = seq - a.from;
    return (i >= 0 && i < a.ids.length ? a.ids[i] : undefined) ?? a.far?.get(seq);
  }

  public set(author: OnionName, seq: number, id: EventId): void {
    let a = this.#byAuthor.get(author);
    if (!a) this.#byAuthor.set(author, (a = { from: seq, ids: [], far: undefined }));
    const i = seq - a.from;
    if (i >= 0 && i <= a.ids.length + DENSE_SLACK) {
      a.far?.delete(seq);
      a.ids[i] = id;
    } else {
      (a.far ??= new Map()).set(seq, id);
    }
  }

  /** How one author's numbers are held: slots in the dense run (holes included), entries apart. */
  public layout(author: OnionName): { dense: number; far: number } {
    const a = this.#byAuthor.get(author);
    return { dense: a?.ids.length ?? 0, far: a?.far?.size ?? 0 };
  }

  public delete(author: OnionName, seq: number): void {
    const a = this.#byAuthor.get(author);
    if (!a) return;
    const i = seq - a.from;
    if (i >= 0 && i < a.ids.length) a.ids[i] = undefined;
    a.far?.delete(seq);
  }
}
