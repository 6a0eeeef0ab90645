import type { EventId, PursuanceLog, SignedEvent } from '@pursuance/pursuance';

/** Which accepted events a scan keeps: one function per kind of scan, made once (it is the scan's key). */
export type EventPick = (e: SignedEvent) => boolean;

interface Scan {
  /** The fold order read, and how far. */
  readonly order: readonly EventId[];
  read: number;
  readonly found: SignedEvent[];
}

const scans = new WeakMap<PursuanceLog, Map<EventPick, Scan>>();

/**
 * The accepted events `pick` selects, in fold order: kept per log and per `pick`, and read on
 * from where the last call stopped while log.order() is the same array. A fold run only appends
 * to its order and judges each event as it appends it, so what was read stays as it was; a
 * refold hands out a new order, which is read from the start. Display names and the last
 * re-keying each read the whole order at every change before: on a 12,000-task board a third of
 * a command's time, growing with the log. The result is the scan's own list: read it before the
 * log changes again, and do not change it.
 */
export function acceptedInOrder(log: PursuanceLog, pick: EventPick): readonly SignedEvent[] {
  let byPick = scans.get(log);
  if (!byPick) {
    byPick = new Map();
    scans.set(log, byPick);
  }
  const order = log.order();
  let scan = byPick.get(pick);
  if (scan?.order !== order) {
    // A new order (a load, a refold) read id by id was two lookups an event, a second at a
    // million events in one stretch: the picked few are found by walking the log's events
    // instead, and put in fold order. Read on from its end from then on.
    const picked: SignedEvent[] = [];
    for (const e of log.events()) if (pick(e)) picked.push(e);
    scan = { order, read: order.length, found: log.acceptedInFoldOrder(picked) };
    byPick.set(pick, scan);
  }
  for (; scan.read < order.length; scan.read++) {
    const id = order[scan.read]!;
    if (!log.isAccepted(id)) continue;
    const e = log.event(id);
    if (e && pick(e)) scan.found.push(e);
  }
  return scan.found;
}
