import type { OnionName } from '@pursuance/crypto';
import type { EventBody, EventKind } from './bodies.js';
import { EventRejectedError, RejectionCode } from './errors.js';
import { EVENT_FORMAT_VERSION, headerOfVerified, type EventHeader, type EventId, type PursuanceId, type SignedEvent } from './envelope.js';

/**
 * How events a log holds are kept. A decoded event is an object graph: the header, the body,
 * a view per byte string (keys, ids, ciphertexts), arrays for parents and audience — about 2.8
 * KB beyond its encoding, and two dozen heap objects the collector walks at every full mark. A
 * log holds every event it has, but reads a whole header only while it folds or shows the event.
 *
 * So a held event keeps its encoding (in its log's EncodingArena), its id, author and parents,
 * what scans of a whole log test (kind, sequence number, time, audience), and decodes the rest
 * of its header again when asked. The decoded headers of the last RECENT_HEADERS events asked
 * stay: a fold reads one event's header several times in a row, then moves on. Decoding again
 * costs the encoding's parse and the schema checks without the signature (~11 µs), and only
 * bytes decodeEvent verified are ever held.
 */
export const RECENT_HEADERS = 4096;

class RecentHeaders {
  readonly #ring: (HeldEvent | undefined)[] = new Array<HeldEvent | undefined>(RECENT_HEADERS);
  #next = 0;

  /** `e` now keeps its header; whichever event kept one longest forgets its own. */
  public keep(e: HeldEvent): void {
    this.#ring[this.#next]?.forgetHeader();
    this.#ring[this.#next] = e;
    this.#next = (this.#next + 1) % RECENT_HEADERS;
  }
}

// One ring for every log in the process: what bounds the decoded headers kept is the process's memory.
const recent = new RecentHeaders();
let decodes = 0;

/** How many headers held events have decoded again since the process started (for tests and benchmarks). */
export function heldHeaderDecodes(): number {
  return decodes;
}

/**
 * Where a log may put the chunks of encodings it has filled, to read them back when asked
 * (the node: a sealed file that dies with the process). Returning false from put keeps the
 * chunk in memory, as a log without a shelf does.
 */
export interface EncodingShelf {
  put(index: number, chunk: Uint8Array): boolean;
  /** The bytes put under `index`; throws if it cannot give them back (a bug or a damaged disk). */
  get(index: number): Uint8Array;
}

/**
 * The encodings of one log's events, copied into shared chunks: a Uint8Array and an
 * ArrayBuffer are ~200 bytes of heap and a native allocation each, a quarter of an event's
 * encoding. A held event keeps its chunk's number and its place, and asks for a view when read.
 * Chunks grow from small (a log of a few events stays small) to MAX_CHUNK; an encoding larger
 * than that gets a chunk of its own. With a shelf, every filled chunk goes there and the
 * arena keeps only the one it fills and the LOADED_CHUNKS last read back: a log's memory no
 * longer holds its history's bytes. Readers go through the log in about the order it was
 * written (a fold, a view), so a chunk read back serves many events in a row.
 * Nothing is freed until the log is: a log drops events only for its own author's refused
 * event (log.addOwn), rare and small.
 */
export class EncodingArena {
  readonly #shelf: EncodingShelf | undefined;
  /** Chunks in memory by number; a chunk on the shelf is undefined here. */
  readonly #chunks: (Uint8Array | undefined)[] = [];
  #used = 0;
  #next = FIRST_CHUNK;
  /** Chunks read back from the shelf, least recently read first. */
  readonly #loaded = new Map<number, Uint8Array>();

  public constructor(shelf?: EncodingShelf) {
    this.#shelf = shelf;
  }

  /** Copy `bytes` in; returns where they are. */
  public put(bytes: Uint8Array): { chunk: number; offset: number } {
    let index = this.#chunks.length - 1;
    let chunk = this.#chunks[index];
    // A chunk past MAX_CHUNK holds one encoding only: every offset stays below MAX_CHUNK (HeldEvent packs it with the chunk's number).
    if (chunk === undefined || this.#used + bytes.length > chunk.length || this.#used >= MAX_CHUNK) {
      if (chunk !== undefined) this.#shelve(index, chunk);
      chunk = new Uint8Array(Math.max(this.#next, bytes.length));
      this.#chunks.push(chunk);
      index += 1;
      this.#used = 0;
      this.#next = Math.min(this.#next * 2, MAX_CHUNK);
    }
    const offset = this.#used;
    chunk.set(bytes, offset);
    this.#used += bytes.length;
    return { chunk: index, offset };
  }

  /** A view of `length` bytes at `offset` in chunk `index`. */
  public view(index: number, offset: number, length: number): Uint8Array {
    const chunk = this.#chunks[index] ?? this.#readBack(index);
    return chunk.subarray(offset, offset + length);
  }

  /** How many chunks the arena holds in memory (filled, being filled, read back): for tests and benchmarks. */
  public chunksInMemory(): number {
    let n = this.#loaded.size;
    for (const c of this.#chunks) if (c !== undefined) n += 1;
    return n;
  }

  #shelve(index: number, chunk: Uint8Array): void {
    if (this.#shelf?.put(index, chunk.subarray(0, this.#used))) this.#chunks[index] = undefined;
  }

  #readBack(index: number): Uint8Array {
    let chunk = this.#loaded.get(index);
    if (chunk !== undefined) {
      this.#loaded.delete(index);
    } else {
      chunk = this.#shelf!.get(index);
      if (this.#loaded.size >= LOADED_CHUNKS) this.#loaded.delete(this.#loaded.keys().next().value!);
    }
    this.#loaded.set(index, chunk);
    return chunk;
  }
}
/** Chunks read back from a shelf that an arena keeps: 8 MB at most. */
const LOADED_CHUNKS = 8;
const FIRST_CHUNK = 4096;
const MAX_CHUNK = 1 << 20;

/**
 * Audiences as one shared list each: every event names its audience (role ids), decoded as a
 * new array of new strings per event, and a log holds a handful of distinct ones.
 */
const audiences = new Map<string, readonly string[]>();
export const MAX_AUDIENCES = 4096;
export function sharedAudience(audience: readonly string[]): readonly string[] {
  // A role id is lowercase letters, digits and dashes (rules/schema.ts): the joined form names one list.
  const key = audience.join('\n');
  let shared = audiences.get(key);
  if (shared === undefined) {
    shared = Object.freeze([...audience]);
    if (audiences.size >= MAX_AUDIENCES) audiences.clear();
    audiences.set(key, shared);
  }
  return shared;
}

/**
 * What every event one log holds shares: where their encodings are, and the pursuance they
 * belong to (a log takes no event of another: only its genesis names none), so an event need
 * not keep either itself.
 */
export class EventKeeper {
  public constructor(
    public readonly arena: EncodingArena,
    public readonly pursuance: PursuanceId,
  ) {}

  /**
   * The form a log keeps `e` in. `known` gives the string a log already holds for an id, so
   * every event's parents share their ids' strings (64 characters each) instead of holding
   * copies of their own.
   */
  public keep(e: SignedEvent, known: (id: EventId) => EventId | undefined): SignedEvent {
    // The log refuses such events before keeping anything: reaching this is a bug, not a peer's doing.
    if (e.pursuanceId !== (e.id === this.pursuance ? null : this.pursuance)) {
      throw new EventRejectedError(RejectionCode.WRONG_PURSUANCE, `event ${e.id} is not of pursuance ${this.pursuance}`);
    }
    if (e instanceof HeldEvent) return e;
    const parents = e.parentIds.map((p) => known(p) ?? p);
    return new HeldEvent(e, parents.length === 1 ? parents[0]! : parents, this);
  }
}

class HeldEvent implements SignedEvent {
  public readonly id: EventId;
  public readonly author: OnionName;
  // What scans of a whole log test (which kind, whose sequence number, for whom) without the rest.
  public readonly kind: EventKind;
  public readonly seq: number;
  public readonly time: number;
  public readonly audience: readonly string[];
  readonly #keeper: EventKeeper;
  /**
   * The parent's id when there is one (nearly every event: its author had seen everything), else
   * the list: an array of one costs 56 bytes an event.
   */
  readonly #parents: EventId | readonly EventId[];
  /** Where the encoding is: chunk × MAX_CHUNK + offset (an offset is always below MAX_CHUNK), one number instead of two. */
  readonly #place: number;
  readonly #length: number;
  #full: EventHeader | undefined;

  public constructor(e: SignedEvent, parents: EventId | readonly EventId[], keeper: EventKeeper) {
    this.id = e.id;
    // A copy: a decoded event's bytes are a view into one buffer with its byte strings.
    const { chunk, offset } = keeper.arena.put(e.bytes);
    this.#keeper = keeper;
    this.#place = chunk * MAX_CHUNK + offset;
    this.#length = e.bytes.length;
    this.author = e.author;
    this.#parents = parents;
    this.kind = e.header.kind;
    this.seq = e.header.seq;
    this.time = e.header.time;
    this.audience = sharedAudience(e.header.audience);
    this.#full = e.header;
    recent.keep(this);
  }

  /** The parents' ids: a new array at every call when there is one parent (as cheap as a read, and nobody may keep it changed). */
  public get parentIds(): readonly EventId[] {
    const p = this.#parents;
    return typeof p === 'string' ? [p] : p;
  }

  public get pursuanceId(): PursuanceId | null {
    return this.id === this.#keeper.pursuance ? null : this.#keeper.pursuance;
  }

  /** A view of the encoding: a new one at every call, over bytes nobody may write. */
  public get bytes(): Uint8Array {
    const place = this.#place;
    return this.#keeper.arena.view(Math.floor(place / MAX_CHUNK), place % MAX_CHUNK, this.#length);
  }

  /** The whole header while it is kept; else one that decodes the rest only if asked. */
  public get header(): EventHeader {
    return this.#full ?? new HeldHeader(this);
  }

  public full(): EventHeader {
    let header = this.#full;
    if (header === undefined) {
      header = headerOfVerified(this.bytes);
      decodes += 1;
      this.#full = header;
      recent.keep(this);
    }
    return header;
  }

  public forgetHeader(): void {
    this.#full = undefined;
  }
}

/** What a log keeps of every event as plain fields (see HeldEvent). */
export interface HeldFields {
  readonly id: EventId;
  readonly author: OnionName;
  readonly kind: EventKind;
  readonly seq: number;
  readonly time: number;
  readonly audience: readonly string[];
}

/** `e` as those fields, if a log holds it compactly: a record of it (a history entry) then needs no object of its own. */
export function heldFields(e: SignedEvent): HeldFields | undefined {
  return e instanceof HeldEvent ? e : undefined;
}

/** A held event's header: what the event keeps answered at once, the rest decoded when read. */
class HeldHeader implements EventHeader {
  public readonly v = EVENT_FORMAT_VERSION;
  public readonly kind: EventKind;
  public readonly seq: number;
  public readonly time: number;
  public readonly audience: readonly string[];
  readonly #event: HeldEvent;

  public constructor(event: HeldEvent) {
    this.#event = event;
    this.kind = event.kind;
    this.seq = event.seq;
    this.time = event.time;
    this.audience = event.audience;
  }

  public get pursuance(): Uint8Array | null {
    return this.#event.full().pursuance;
  }

  public get author(): Uint8Array {
    return this.#event.full().author;
  }

  public get parents(): readonly Uint8Array[] {
    return this.#event.full().parents;
  }

  public get body(): EventBody {
    return this.#event.full().body;
  }
}
