/** Anything with a registry that reports changes (a running node, from source or from dist). */
export interface ChangeSource {
  readonly registry: { onChange(listener: () => void): () => void };
}

/**
 * Resolve once `predicate` holds, re-checking after every change the node (or any of the nodes)
 * takes in (no polling, no sleeps); reject after `timeoutMs` naming `what`. A throwing predicate
 * counts as "not yet". A predicate comparing two nodes must be given both: the last change that
 * makes it true may happen on either (e.g. a joiner's own rename reaching the founder).
 */
export function untilChange(nodes: ChangeSource | readonly ChangeSource[], predicate: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const sources: readonly ChangeSource[] = Array.isArray(nodes) ? nodes : [nodes as ChangeSource];
  return new Promise((resolve, reject) => {
    const check = (): boolean => {
      try {
        return predicate();
      } catch {
        return false;
      }
    };
    if (check()) return resolve();
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for ${what}`));
    }, timeoutMs);
    const offs = sources.map((source) =>
      source.registry.onChange(() => {
        if (check()) {
          clearTimeout(timer);
          off();
          resolve();
        }
      }),
    );
    const off = (): void => {
      for (const o of offs) o();
    };
  });
}

/**
 * Like untilChange, for a predicate that must read asynchronously (a sealed store): re-checked
 * after every notice of the sources, one check at a time; rejects after `timeoutMs` naming `what`.
 */
export function untilAsync(
  sources: readonly { onChange(listener: () => void): () => void }[],
  predicate: () => Promise<boolean>,
  what: string,
  timeoutMs = 60_000,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let done = false;
    let checking = false;
    let again = false;
    const offs: (() => void)[] = [];
    const finish = (err?: Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      for (const o of offs) o();
      if (err) reject(err);
      else resolve();
    };
    const check = async (): Promise<void> => {
      if (checking) {
        again = true;
        return;
      }
      checking = true;
      do {
        again = false;
        const ok = await predicate().catch(() => false);
        if (ok) return finish();
      } while (again && !done);
      checking = false;
    };
    const timer = setTimeout(() => finish(new Error(`timed out waiting for ${what}`)), timeoutMs);
    for (const s of sources) offs.push(s.onChange(() => void check()));
    void check();
  });
}
