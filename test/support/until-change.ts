/** Anything with a registry that reports changes (a running node, from source or from dist). */
export interface ChangeSource {
  readonly registry: { onChange(listener: () => void): () => void };
}

/**
 * Resolve once `predicate` holds, re-checking after every change the node takes in (no polling,
 * no sleeps); reject after `timeoutMs` naming `what`. A throwing predicate counts as "not yet".
 */
export function untilChange(node: ChangeSource, predicate: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
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
    const off = node.registry.onChange(() => {
      if (check()) {
        clearTimeout(timer);
        off();
        resolve();
      }
    });
  });
}
