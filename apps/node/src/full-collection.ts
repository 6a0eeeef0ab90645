import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let collect: (() => void) | undefined;

/**
 * Run a full garbage collection, and resolve to how long the collector held the thread (ms).
 * A node's load reads, decodes and folds every stored event, and leaves hundreds of megabytes
 * of garbage behind: V8 collects it only when the heap grows again, and a node that then sits
 * idle keeps it resident (measured: 1.4 GB resident at a million events where 1.05 GB are left
 * after a full collection). Asked for once, when the load is done, the pages go back to the
 * system.
 *
 * V8 hands its `gc` function only to a context created after `--expose-gc` is set; the
 * function is taken from such a context once and nothing else of it is kept. A process
 * started with --expose-gc already has one.
 */
export async function collectFully(between: () => Promise<void>): Promise<number> {
  if (collect === undefined) {
    const own = (globalThis as { gc?: () => void }).gc;
    if (typeof own === 'function') collect = own;
    else {
      setFlagsFromString('--expose-gc');
      collect = runInNewContext('gc') as () => void;
    }
  }
  // Twice: the second pass frees what the first let go of only through weak references and
  // finalizers (measured at 100,000 events: 25 MB back after one pass, 56 MB after two). Each
  // pass stops everything (0.4–0.5 s at a million events): `between` lets waiting requests
  // through, so none waits for both.
  const t0 = performance.now();
  collect();
  const first = performance.now() - t0;
  await between();
  const t1 = performance.now();
  collect();
  return first + performance.now() - t1;
}
