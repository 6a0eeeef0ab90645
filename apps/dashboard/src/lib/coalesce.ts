/**
 * `run` wrapped so that calls never overlap: a call while one is under way makes one more run
 * after it (however many calls came meanwhile), and every caller gets the promise of the run
 * that will see its call. For reloads triggered by live notices, which come in bursts.
 */
export function coalesced(run: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null;
  let again = false;
  return () => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await run();
        } while (again);
      } finally {
        running = null;
      }
    })();
    return running;
  };
}
