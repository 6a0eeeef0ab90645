import { concatBytes, toHex, type OnionName } from '@pursuance/crypto';
import type { FragmentHeader } from './fragments.js';

/**
 * One group's verified messages as a set keyed by signature, with what can be derived from
 * that set alone — so it is the same whatever order (and however often) messages arrived:
 *
 *  - gaps: signatures referenced as "previous" by some message but never seen (and not the
 *    group's genesis value). Each is a message the relay did not give us — or has not yet;
 *  - fragment sets: complete ones are delivered once, exactly when their last part arrives;
 *    incomplete ones (a part missing) and corrupt ones (parts that disagree) are reported and
 *    never delivered, not even in part.
 *
 * Pure data structure: no I/O, no crypto checks (entries come here already verified).
 */
export interface LogEntry {
  readonly signature: Uint8Array;
  readonly previous: Uint8Array;
  readonly sender: OnionName;
  readonly timestamp: number;
  readonly payload: Uint8Array;
  readonly fragment: FragmentHeader | undefined;
  readonly own: boolean;
  acked: boolean;
  readonly source: 'relay' | 'peer' | 'self';
}

/** A complete logical message (one group message, or a whole reassembled fragment set). */
export interface DeliveredGroupMessage {
  readonly groupId: string;
  /** Signature of the message, or of fragment 0 for a reassembled payload. */
  readonly signature: string;
  /** Signatures of every part, in order. */
  readonly parts: readonly string[];
  readonly sender: OnionName;
  readonly timestamp: number;
  readonly payload: Uint8Array;
  readonly own: boolean;
}

export interface GapReport {
  /** Referenced previous signatures never seen (hex, sorted). */
  readonly missing: readonly string[];
  /** Fragment sets with parts missing: `sender:fragment-id` (sorted). */
  readonly incompleteFragments: readonly string[];
  /** Fragment sets whose parts disagree (count, length, or two parts for one index) (sorted). */
  readonly corruptFragments: readonly string[];
}

interface FragmentSet {
  readonly key: string;
  count: number;
  length: number;
  readonly parts: Map<number, string>;
  corrupt: boolean;
  delivered: boolean;
}

export type AddResult =
  | { readonly added: false; readonly entry: LogEntry }
  | {
      readonly added: true;
      readonly entry: LogEntry;
      readonly delivered: DeliveredGroupMessage | undefined;
      /** The previous signature this entry references, if it is not known: a new gap. */
      readonly newGap: string | undefined;
    };

export class GroupLog {
  public readonly groupId: string;
  readonly #genesis: string;
  readonly #entries = new Map<string, LogEntry>();
  readonly #missing = new Set<string>();
  readonly #fragments = new Map<string, FragmentSet>();
  readonly #delivered: DeliveredGroupMessage[] = [];
  #head: string;

  public constructor(groupId: string, genesis: Uint8Array) {
    this.groupId = groupId;
    this.#genesis = toHex(genesis);
    this.#head = this.#genesis;
  }

  public get size(): number {
    return this.#entries.size;
  }

  public has(signatureHex: string): boolean {
    return this.#entries.has(signatureHex);
  }

  public get(signatureHex: string): LogEntry | undefined {
    return this.#entries.get(signatureHex);
  }

  /** Entries in the order this log received them. */
  public entries(): IterableIterator<LogEntry> {
    return this.#entries.values();
  }

  /** What our next message points at: the latest message received in relay order (or our own). */
  public head(): string {
    return this.#head;
  }

  public get genesis(): string {
    return this.#genesis;
  }

  /** Senders seen in this group (for finding members to ask during repair). */
  public senders(): Set<OnionName> {
    const out = new Set<OnionName>();
    for (const e of this.#entries.values()) out.add(e.sender);
    return out;
  }

  /**
   * Add a verified entry. A signature already present is a duplicate (returned with
   * `added: false`). `advanceHead` is false for messages inserted out of band (gap repair),
   * which must not become what our next message points at.
   */
  public add(entry: LogEntry, options: { advanceHead?: boolean } = {}): AddResult {
    const id = toHex(entry.signature);
    const existing = this.#entries.get(id);
    if (existing !== undefined) return { added: false, entry: existing };
    this.#entries.set(id, entry);
    this.#missing.delete(id);
    const previous = toHex(entry.previous);
    let newGap: string | undefined;
    if (previous !== this.#genesis && !this.#entries.has(previous) && !this.#missing.has(previous)) {
      this.#missing.add(previous);
      newGap = previous;
    }
    if (options.advanceHead ?? true) this.#head = id;
    const delivered = entry.fragment === undefined ? this.#single(id, entry) : this.#fragmentArrived(id, entry, entry.fragment);
    if (delivered !== undefined) this.#delivered.push(delivered);
    return { added: true, entry, delivered, newGap };
  }

  #single(id: string, entry: LogEntry): DeliveredGroupMessage {
    return { groupId: this.groupId, signature: id, parts: [id], sender: entry.sender, timestamp: entry.timestamp, payload: entry.payload, own: entry.own };
  }

  #fragmentArrived(id: string, entry: LogEntry, header: FragmentHeader): DeliveredGroupMessage | undefined {
    const key = `${entry.sender}:${toHex(header.id)}`;
    let set = this.#fragments.get(key);
    if (set === undefined) {
      set = { key, count: header.count, length: header.length, parts: new Map(), corrupt: false, delivered: false };
      this.#fragments.set(key, set);
    }
    // Any disagreement makes the whole set corrupt, whatever order the parts came in.
    if (set.count !== header.count || set.length !== header.length || set.parts.has(header.index)) set.corrupt = true;
    else set.parts.set(header.index, id);
    if (set.corrupt || set.delivered || set.parts.size !== set.count) return undefined;
    const parts = Array.from({ length: set.count }, (_, i) => set.parts.get(i)!);
    const payload = concatBytes(...parts.map((p) => this.#entries.get(p)!.payload));
    if (payload.length !== set.length) {
      set.corrupt = true;
      return undefined;
    }
    set.delivered = true;
    const first = this.#entries.get(parts[0]!)!;
    return { groupId: this.groupId, signature: parts[0]!, parts, sender: entry.sender, timestamp: first.timestamp, payload, own: first.own };
  }

  public gapReport(): GapReport {
    const incomplete: string[] = [];
    const corrupt: string[] = [];
    for (const set of this.#fragments.values()) {
      if (set.corrupt) corrupt.push(set.key);
      else if (!set.delivered) incomplete.push(set.key);
    }
    return { missing: [...this.#missing].sort(), incompleteFragments: incomplete.sort(), corruptFragments: corrupt.sort() };
  }

  /** Complete logical messages in the order they became complete. */
  public delivered(): readonly DeliveredGroupMessage[] {
    return this.#delivered;
  }

  public missing(): string[] {
    return [...this.#missing];
  }
}
