/**
 * Several pursuance events in one group message. Every group message costs one relay token and
 * is padded to the same size, so posting one event per message (what a relay move or a
 * reconcile did) paid a full message for a few hundred bytes. Packing events into batches that
 * fill a message makes a move cost about its bytes, not its event count.
 *
 * A batch is `BATCH_MAGIC`, then per event a 2-byte big-endian length and the event's bytes.
 * The magic starts with 0x00, which no event starts with (an event is a canonical CBOR array),
 * so a payload is a batch or a single event, never ambiguous; a lone event is posted as it is.
 * Hand-written: the layout is four lines of length-prefixing, no library fits it better.
 */
export const BATCH_MAGIC: Uint8Array = Uint8Array.of(0x00, 0x50, 0x42, 0x01);
const LENGTH_SIZE = 2;
const MAX_EVENT_IN_BATCH = 0xffff;

export class BatchInvalidError extends Error {
  public readonly code = 'BATCH_INVALID';
  public constructor(message: string) {
    super(message);
    this.name = 'BatchInvalidError';
  }
}

export function isBatch(payload: Uint8Array): boolean {
  if (payload.length < BATCH_MAGIC.length) return false;
  for (let i = 0; i < BATCH_MAGIC.length; i++) if (payload[i] !== BATCH_MAGIC[i]) return false;
  return true;
}

/** The events of a batch, in order; BatchInvalidError for anything not exactly a batch of non-empty events. */
export function decodeBatch(payload: Uint8Array): Uint8Array[] {
  if (!isBatch(payload)) throw new BatchInvalidError('not a batch: the magic bytes are missing');
  const out: Uint8Array[] = [];
  let at = BATCH_MAGIC.length;
  while (at < payload.length) {
    if (payload.length - at < LENGTH_SIZE) throw new BatchInvalidError(`a length is cut off at byte ${at}`);
    const length = (payload[at]! << 8) | payload[at + 1]!;
    at += LENGTH_SIZE;
    if (length === 0) throw new BatchInvalidError(`an empty event at byte ${at - LENGTH_SIZE}`);
    if (payload.length - at < length) throw new BatchInvalidError(`an event of ${length} bytes is cut off at byte ${at}`);
    out.push(payload.slice(at, at + length));
    at += length;
  }
  if (out.length === 0) throw new BatchInvalidError('a batch without events');
  return out;
}

export function encodeBatch(events: readonly Uint8Array[]): Uint8Array {
  if (events.length === 0) throw new BatchInvalidError('a batch without events');
  let size = BATCH_MAGIC.length;
  for (const e of events) {
    if (e.length === 0 || e.length > MAX_EVENT_IN_BATCH) throw new BatchInvalidError(`an event of ${e.length} bytes cannot be batched`);
    size += LENGTH_SIZE + e.length;
  }
  const out = new Uint8Array(size);
  out.set(BATCH_MAGIC, 0);
  let at = BATCH_MAGIC.length;
  for (const e of events) {
    out[at] = e.length >> 8;
    out[at + 1] = e.length & 0xff;
    out.set(e, at + LENGTH_SIZE);
    at += LENGTH_SIZE + e.length;
  }
  return out;
}

/**
 * Group payloads carrying `events` in order: consecutive events packed into batches of at most
 * `limit` bytes (one group message), an event that fits no batch with others posted alone.
 */
export function packEvents(events: readonly Uint8Array[], limit: number): Uint8Array[] {
  const payloads: Uint8Array[] = [];
  let run: Uint8Array[] = [];
  let size = BATCH_MAGIC.length;
  const flush = (): void => {
    if (run.length === 1) payloads.push(run[0]!);
    else if (run.length > 1) payloads.push(encodeBatch(run));
    run = [];
    size = BATCH_MAGIC.length;
  };
  for (const e of events) {
    const cost = LENGTH_SIZE + e.length;
    // Too big to share a message (or to be length-prefixed): it goes alone, fragmented if need be.
    const alone = BATCH_MAGIC.length + cost > limit || e.length > MAX_EVENT_IN_BATCH;
    if (run.length > 0 && (alone || size + cost > limit)) flush();
    run.push(e);
    size += cost;
    if (alone) flush();
  }
  flush();
  return payloads;
}

/**
 * The events a group payload carries: a batch's events, or the payload itself. A malformed batch
 * is handed on whole, so the ingest records it as an invalid input with its reason (nothing a
 * relay or member sends is dropped unseen).
 */
export function eventsOfPayload(payload: Uint8Array): Uint8Array[] {
  if (!isBatch(payload)) return [payload];
  try {
    return decodeBatch(payload);
  } catch (err) {
    if (err instanceof BatchInvalidError) return [payload];
    throw err;
  }
}
