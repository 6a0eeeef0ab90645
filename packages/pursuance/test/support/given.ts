/**
 * Given/when/then for the fold (emmett's shape): given a history, when one more event (or some
 * bytes) arrives, then the log rejects it with a code, refuses the bytes outright, or accepts it.
 *
 *   given(ada.log).when(forged).thenRejected(RejectionCode.DENIED, 'no rule grants …');
 *   given(ada.log.events()).when(leak).thenRejected(RejectionCode.LOCKBOX_INVALID);
 *
 * A log is judged in place (later assertions read the same log); events are first copied into a
 * fresh log, so several forged events that share their author's next sequence number can each
 * be judged on the same history.
 */
import { expect } from 'vitest';
import { PursuanceLog, type Rejection, type RejectionCode, type SignedEvent } from '../../src/index.js';

export interface When {
  /** The log that judged the event. */
  readonly log: PursuanceLog;
  /** The fold rejected the event with `code`; its reason contains `reason`, and the deciding rule is `rule`. */
  thenRejected(code: RejectionCode, reason?: string, rule?: string): Rejection;
  /** The fold accepted the event. */
  thenAccepted(): void;
}

export interface WhenBytes {
  readonly log: PursuanceLog;
  /** The bytes never became an event: reported invalid with `code`, not stored, the state unchanged. */
  thenInvalid(code: RejectionCode): void;
}

export interface Given {
  readonly log: PursuanceLog;
  when(event: SignedEvent): When;
  whenBytes(bytes: Uint8Array): WhenBytes;
}

export function given(history: PursuanceLog | Iterable<SignedEvent>): Given {
  const log = history instanceof PursuanceLog ? history : copyOf([...history]);
  return {
    log,
    when: (e) => {
      log.add(e.bytes);
      return {
        log,
        thenRejected: (code, reason, rule) => {
          const r = log.rejectionOf(e.id);
          expect(r, `${e.header.kind} should be rejected with ${code}`).toBeDefined();
          expect(r!.code, r!.reason).toBe(code);
          if (reason !== undefined) expect(r!.reason).toContain(reason);
          if (rule !== undefined) expect(r!.rule).toBe(rule);
          expect(log.isAccepted(e.id)).toBe(false);
          return r!;
        },
        thenAccepted: () => {
          expect(log.isAccepted(e.id), JSON.stringify(log.rejectionOf(e.id))).toBe(true);
        },
      };
    },
    whenBytes: (bytes) => {
      const size = log.size;
      const hash = log.stateHash();
      const result = log.add(bytes);
      return {
        log,
        thenInvalid: (code) => {
          expect(result.status).toBe('invalid');
          expect(result.rejection?.code, result.rejection?.reason).toBe(code);
          expect(log.rejectionOf(result.id!)?.code).toBe(code);
          expect(log.size, 'invalid bytes are never stored').toBe(size);
          // Bytes that never parse are reported but are not part of the shared state.
          expect(log.stateHash()).toBe(hash);
        },
      };
    },
  };
}

/** A fresh log holding `events` (the genesis among them, anywhere). */
function copyOf(events: readonly SignedEvent[]): PursuanceLog {
  const genesis = events.find((e) => e.pursuanceId === null);
  if (!genesis) throw new Error('given(events): the events include no genesis');
  const log = new PursuanceLog(genesis.bytes);
  log.addAll(events.map((e) => e.bytes));
  return log;
}
