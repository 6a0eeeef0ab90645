import type { OnionName } from '@pursuance/crypto';
import type { EventId, PursuanceLog, Rejection, SignedEvent } from '@pursuance/pursuance';

/** What this node did about one of its own events that the fold refused after the fact. */
export type OwnRejectionOutcome =
  | { readonly status: 'resent'; readonly eventId: string; readonly kind: string }
  | { readonly status: 'not-resent'; readonly reason: string }
  /** Already refused when this node started: reported, never re-sent (it may have been before). */
  | { readonly status: 'earlier'; readonly reason: string };

/**
 * One of this member's own events that every replica refuses — a lost race: the event was
 * acknowledged when it was made, then a concurrent event (a rotation, a removal…) ordered
 * before it made it invalid.
 */
export interface OwnRejection {
  readonly eventId: string;
  readonly kind: string;
  readonly code: string;
  readonly reason: string;
  readonly rule: string | null;
  /** When the event was signed (its own time) and when this node saw it refused. */
  readonly signedAt: number;
  readonly seenAt: number;
  /** The refused event this one re-sent, when it was itself a re-send. */
  readonly retryOf: string | null;
  readonly outcome: OwnRejectionOutcome;
}

/** A loss seen for the first time, to be recorded once the node has decided what to do. */
export interface NewLoss {
  readonly event: SignedEvent;
  readonly rejection: Rejection;
  /** The original event when this one was a re-send (a re-send is never re-sent again). */
  readonly retryOf: EventId | null;
  /** False when the original was already re-sent once (each event is re-sent at most once). */
  readonly mayRetry: boolean;
}

/**
 * Per pursuance: which of our own events the fold refuses, so each loss is reported once and
 * re-sent at most once. Kept in memory only: on start the losses already in the log form the
 * baseline (listed, never re-sent), so a restart does not report old losses as new.
 */
export class OwnRaceTracker {
  readonly #seen = new Set<EventId>();
  readonly #retried = new Set<EventId>();
  readonly #retryOf = new Map<EventId, EventId>();
  readonly #list: OwnRejection[] = [];

  /** Losses handed to (and answered by) the sync service: see resendableElsewhere. */
  readonly #elsewhere = new Set<EventId>();
  /** `role|departure` pairs this node already rotated keys for (see PursuanceAuthor.dueRotations). */
  readonly #rotatedFor = new Set<string>();

  public constructor(private readonly me: OnionName) {}

  public rotatedFor(role: string, dueSince: EventId): boolean {
    return this.#rotatedFor.has(`${role}|${dueSince}`);
  }

  public noteRotatedFor(role: string, dueSince: EventId): void {
    this.#rotatedFor.add(`${role}|${dueSince}`);
  }

  /** Our events the log refuses now that were not refused at the last look. */
  public newLosses(log: PursuanceLog): NewLoss[] {
    const out: NewLoss[] = [];
    for (const rejection of log.rejections()) {
      const id = rejection.eventId as EventId;
      if (this.#seen.has(id)) continue;
      const event = log.event(id);
      // Invalid inputs (never stored) have no event here; only stored, folded events count.
      if (!event || event.author !== this.me) continue;
      this.#seen.add(id);
      const retryOf = this.#retryOf.get(id) ?? null;
      out.push({ event, rejection, retryOf, mayRetry: retryOf === null && !this.#retried.has(id) });
    }
    return out;
  }

  /** Take the losses already in the log as known (start-up), listing them without re-sending. */
  public baseline(log: PursuanceLog, now: number): void {
    for (const loss of this.newLosses(log)) {
      this.record(loss, now, { status: 'earlier', reason: 'already refused when this node started; only losses seen while it runs are re-sent' });
    }
  }

  public record(loss: NewLoss, now: number, outcome: OwnRejectionOutcome): OwnRejection {
    const r = loss.rejection;
    const entry: OwnRejection = {
      eventId: loss.event.id,
      kind: loss.event.header.kind,
      code: r.code,
      reason: r.reason,
      rule: r.rule ?? null,
      signedAt: loss.event.header.time,
      seenAt: now,
      retryOf: loss.retryOf,
      outcome,
    };
    this.#list.push(entry);
    return entry;
  }

  /** Mark `original` as re-sent (or tried): it is never re-sent again, nor is its re-send. */
  public noteRetry(original: EventId, retry: EventId | null): void {
    this.#retried.add(original);
    if (retry !== null) this.#retryOf.set(retry, original);
  }

  /**
   * Our lost events the author cannot re-sign here but the sync service can (a removal needs a
   * new group invite): listed not re-sent, never a re-send themselves, not handed out before.
   */
  public resendableElsewhere(kind: string): OwnRejection[] {
    return this.#list.filter((r) => r.kind === kind && r.retryOf === null && r.outcome.status === 'not-resent' && !this.#elsewhere.has(r.eventId as EventId));
  }

  /** Record that `original` was re-sent elsewhere as `retry` (null: tried, nothing signed); its entry says so. */
  public noteResentElsewhere(original: EventId, retry: SignedEvent | null, reason: string): void {
    this.#elsewhere.add(original);
    this.noteRetry(original, retry?.id ?? null);
    const i = this.#list.findIndex((r) => r.eventId === original);
    if (i < 0) return;
    const outcome: OwnRejectionOutcome = retry ? { status: 'resent', eventId: retry.id, kind: retry.header.kind } : { status: 'not-resent', reason };
    this.#list[i] = { ...this.#list[i]!, outcome };
  }

  /** Newest first. */
  public list(): OwnRejection[] {
    return [...this.#list].reverse();
  }
}
