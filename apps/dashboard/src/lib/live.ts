import { reactive, ref, type Ref } from 'vue';
import type { ChangedEvent, NetworkStatus, ProgressEvent, SyncHealthEvent } from './types.js';

/**
 * The node's server-sent events (/api/stream): `changed` when a pursuance gained events,
 * `sync` when its sync health changed, `network` with the node's tor status when it changes,
 * `progress` for replay and resync, `ping` every 15 s. EventSource cannot send headers, so the
 * token goes in the query string (the node accepts that for GET /api/stream only).
 */
export type LiveStatus = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface EventSourceLike {
  addEventListener(type: string, listener: (e: MessageEvent<string>) => void): void;
  onopen: ((e: Event) => void) | null;
  onerror: ((e: Event) => void) | null;
  close(): void;
  readonly readyState: number;
}
export type EventSourceFactory = (url: string) => EventSourceLike;

export interface Live {
  readonly status: Ref<LiveStatus>;
  /** Latest progress per job and pursuance (`replay:<id>`). */
  readonly progress: Record<string, ProgressEvent>;
  /** When the last `changed` event arrived from outside this node (import, sync), per pursuance. */
  readonly lastRemote: Record<string, number>;
  readonly lastEventAt: Ref<number | null>;
  /** The node's latest network status as pushed (null until the first `network` event). */
  readonly network: Ref<NetworkStatus | null>;
  connect(token: string): void;
  disconnect(): void;
  onChanged(listener: (e: ChangedEvent) => void): () => void;
  onSync(listener: (e: SyncHealthEvent) => void): () => void;
  /** Join invites of a pursuance changed, or (pursuanceId null) this node's own join requests did. */
  onInvites(listener: (e: InvitesEvent) => void): () => void;
}

export interface InvitesEvent {
  readonly pursuanceId: string | null;
}

const EVENT_SOURCE_CLOSED = 2;

export function createLive(factory: EventSourceFactory = (url) => new EventSource(url), clock: () => number = Date.now): Live {
  const status = ref<LiveStatus>('closed');
  const progress = reactive<Record<string, ProgressEvent>>({});
  const lastRemote = reactive<Record<string, number>>({});
  const lastEventAt = ref<number | null>(null);
  const network = ref<NetworkStatus | null>(null);
  const listeners = new Set<(e: ChangedEvent) => void>();
  const syncListeners = new Set<(e: SyncHealthEvent) => void>();
  const inviteListeners = new Set<(e: InvitesEvent) => void>();
  let source: EventSourceLike | null = null;

  const parse = <T>(e: MessageEvent<string>): T | null => {
    try {
      return JSON.parse(e.data) as T;
    } catch {
      return null;
    }
  };

  return {
    status,
    progress,
    lastRemote,
    lastEventAt,
    network,
    connect(token: string) {
      source?.close();
      status.value = 'connecting';
      const s = factory(`/api/stream?token=${encodeURIComponent(token)}`);
      source = s;
      s.onopen = () => {
        if (source === s) status.value = 'open';
      };
      s.onerror = () => {
        if (source !== s) return;
        // EventSource retries by itself unless the server refused the stream outright.
        status.value = s.readyState === EVENT_SOURCE_CLOSED ? 'closed' : 'reconnecting';
      };
      s.addEventListener('changed', (e) => {
        const data = parse<ChangedEvent>(e);
        if (!data) return;
        lastEventAt.value = clock();
        if (data.origin !== 'local') lastRemote[data.pursuanceId] = clock();
        for (const l of listeners) l(data);
      });
      s.addEventListener('sync', (e) => {
        const data = parse<SyncHealthEvent>(e);
        if (!data) return;
        lastEventAt.value = clock();
        for (const l of syncListeners) l(data);
      });
      s.addEventListener('invites', (e) => {
        const data = parse<InvitesEvent>(e);
        if (!data) return;
        lastEventAt.value = clock();
        for (const l of inviteListeners) l(data);
      });
      s.addEventListener('progress', (e) => {
        const data = parse<ProgressEvent>(e);
        if (!data) return;
        progress[`${data.job}:${data.pursuanceId}`] = data;
      });
      s.addEventListener('network', (e) => {
        const data = parse<NetworkStatus>(e);
        if (!data) return;
        lastEventAt.value = clock();
        network.value = data;
      });
      s.addEventListener('ping', () => {
        lastEventAt.value = clock();
      });
    },
    disconnect() {
      source?.close();
      source = null;
      status.value = 'closed';
    },
    onChanged(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    onSync(listener) {
      syncListeners.add(listener);
      return () => syncListeners.delete(listener);
    },
    onInvites(listener) {
      inviteListeners.add(listener);
      return () => inviteListeners.delete(listener);
    },
  };
}
