import { ConnectionClosedError, type Application, type Connection } from '@pursuance/tapir';
import { OperationAbortedError } from './errors.js';

/**
 * Settle with `work`, or reject with OperationAbortedError as soon as `signal` fires, whichever
 * comes first. The work itself cannot always be cancelled (an ACN may ignore the signal): a
 * value it produces after the abort goes to `onLate` (to close a connection nobody will use),
 * and a late failure is swallowed rather than left unhandled.
 */
export function raceAbort<T>(work: Promise<T>, signal: AbortSignal | undefined, onLate?: (value: T) => void): Promise<T> {
  if (signal === undefined) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new OperationAbortedError(undefined, { cause: signal.reason }));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) onLate?.(value);
        else resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

/**
 * One signal that fires when either does, with `dispose` to detach it again. (Not
 * AbortSignal.any: a composite per post, hung on a client's long-lived signal, must not
 * outlive the post.)
 */
export function eitherSignal(a: AbortSignal, b: AbortSignal | undefined): { signal: AbortSignal; dispose: () => void } {
  if (b === undefined) return { signal: a, dispose: () => undefined };
  const both = new AbortController();
  const fire = (): void => both.abort();
  if (a.aborted || b.aborted) fire();
  a.addEventListener('abort', fire, { once: true });
  b.addEventListener('abort', fire, { once: true });
  return {
    signal: both.signal,
    dispose: () => {
      a.removeEventListener('abort', fire);
      b.removeEventListener('abort', fire);
    },
  };
}

/** Reject at once when `signal` has already fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw new OperationAbortedError(undefined, { cause: signal.reason });
}

/**
 * `app` (a setup chain), closed the moment `signal` fires: a handshake stuck on a silent peer
 * ends at once instead of at the handshake timeout. Once setup is done the signal no longer
 * applies; the connection's owner closes it from then on.
 */
export function abortableSetup(app: Application, signal: AbortSignal): Application {
  return {
    name: app.name,
    ...(app.capability === undefined ? {} : { capability: app.capability }),
    async run(conn: Connection): Promise<void> {
      const onAbort = (): void => conn.close(new ConnectionClosedError('connection setup aborted'));
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
      try {
        await app.run(conn);
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    },
  };
}
