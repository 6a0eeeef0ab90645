import { readFile } from 'node:fs/promises';
import { openNodeStore } from '@pursuance/node';
import { decodeEvent } from '@pursuance/pursuance';

/**
 * Write signed events straight into a node's event store (as a long-running node would hold
 * them), 5,000 per transaction. The store is sealed under the profile's identity: this creates
 * the profile the node then unlocks. No read models are written: the node's first start builds them.
 * `events` may be chunks taken one at a time (backlogChunks), so the history is never all in memory.
 */
export async function writeNodeStore(dataDir: string, password: string, events: readonly Uint8Array[] | Iterable<readonly Uint8Array[]>): Promise<number> {
  const chunks: Iterable<readonly Uint8Array[]> = isFlat(events) ? [events] : events;
  const opened = await openNodeStore({ dataDir, password });
  let written = 0;
  try {
    for (const chunk of chunks) {
      for (let i = 0; i < chunk.length; i += 5_000) {
        await opened.store.append(
          chunk.slice(i, i + 5_000).map((x) => decodeEvent(x)),
          'import',
        );
      }
      written += chunk.length;
    }
  } finally {
    await opened.close();
  }
  return written;
}

function isFlat(events: readonly Uint8Array[] | Iterable<readonly Uint8Array[]>): events is readonly Uint8Array[] {
  return Array.isArray(events) && (events.length === 0 || events[0] instanceof Uint8Array);
}

/** A process's resident and peak resident memory (VmRSS, VmHWM), in bytes. */
export async function vm(pid: number): Promise<{ hwm: number; rss: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { hwm: kb('VmHWM'), rss: kb('VmRSS') };
}
