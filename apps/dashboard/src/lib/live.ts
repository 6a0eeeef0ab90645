import { reactive, ref, type Ref } from 'vue';
import { DEFAULT_LOADING_RETRY, isLoadingCode, retryDelay, type Fetch, type LoadingRetry } from './api.js';
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

/** Why the node refused the stream, as far as the dashboard cares: still starting or loading (with its `Retry-After`), or not. */
export type StreamRefusal = { readonly loading: true; readonly retryAfter: string | null } | { readonly loading: false };
export type StreamProbe = (url: string) => Promise<StreamRefusal>;

/**
 * Ask the stream's URL once with fetch, to read what EventSource hides: its status and body.
 * A stream that does open is dropped at once (the EventSource made next is the one kept).
 */
export function fetchProbe(fetchImpl: Fetch = (input, init) => fetch(input, init)): StreamProbe {
  return async (url) => {
    const abort = new AbortController();
    try {
      const res = await fetchImpl(url, { headers: { accept: 'text/event-stream' }, signal: abort.signal });
      if (res.status !== 503) return { loading: false };
      const body = (await res.json().catch(() => null)) as { code?: unknown } | null;
      return isLoadingCode(body?.code) ? { loading: true, retryAfter: res.headers.get('retry-after') } : { loading: false };
    } catch {
      return { loading: false };
    } finally {
      abort.abort();
    }
  };
}

export interface LiveOptions {
  /** How to learn why the node refused the stream (a fetch of its URL by default). */
  readonly probe?: StreamProbe;
  /** How long to wait for a loading pursuance before reconnecting, and when to give up (the API client's). */
  readonly retry?: LoadingRetry;
}

export function createLive(factory: EventSourceFactory = (url) => new EventSource(url), clock: () => number = Date.now, options: LiveOptions = {}): Live {
  const probe = options.probe ?? fetchProbe();
  const retry = options.retry ?? DEFAULT_LOADING_RETRY;
  const status = ref<LiveStatus>('closed');
  const progress = reactive<Record<string, ProgressEvent>>({});
  const lastRemote = reactive<Record<string, number>>({});
  const lastEventAt = ref<number | null>(null);
  const network = ref<NetworkStatus | null>(null);
  const listeners = new Set<(e: ChangedEvent) => void>();
  const syncListeners = new Set<(e: SyncHealthEvent) => void>();
  const inviteListeners = new Set<(e: InvitesEvent) => void>();
  let source: EventSourceLike | null = null;
  /** Since when the node has refused the stream because a pursuance is loading (null: it has not). */
  let loadingSince: number | null = null;

  const parse = <T>(e: MessageEvent<string>): T | null => {
    try {
      return JSON.parse(e.data) as T;
    } catch {
      return null;
    }
  };

  /**
   * A stream the node refused outright (EventSource then stops for good): if only because a
   * pursuance is still loading, open it again after the node's `Retry-After`, up to the retry
   * limit; anything else leaves it closed, as before.
   */
  const retryIfLoading = async (s: EventSourceLike, url: string, token: string): Promise<void> => {
    const refusal = await probe(url);
    if (source !== s || !refusal.loading) return;
    const now = retry.now();
    loadingSince ??= now;
    const wait = retryDelay(refusal.retryAfter, retry);
    if (now - loadingSince + wait > retry.giveUpAfterMs) return;
    status.value = 'reconnecting';
    await retry.sleep(wait);
    // Still the stream given up on (not disconnected or replaced meanwhile): open a new one.
    if (source === s) open(token, 'reconnecting');
  };

  const open = (token: string, initial: LiveStatus): void => {
    source?.close();
    status.value = initial;
    const url = `/api/stream?token=${encodeURIComponent(token)}`;
    const s = factory(url);
    source = s;
    s.onopen = () => {
      if (source !== s) return;
      loadingSince = null;
      status.value = 'open';
    };
    s.onerror = () => {
      if (source !== s) return;
      // EventSource retries by itself unless the server refused the stream outright.
      if (s.readyState !== EVENT_SOURCE_CLOSED) {
        status.value = 'reconnecting';
        return;
      }
      status.value = 'closed';
      void retryIfLoading(s, url, token);
    };
    listen(s);
  };

  const listen = (s: EventSourceLike): void => {
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
  };

  return {
    status,
    progress,
    lastRemote,
    lastEventAt,
    network,
    connect(token: string) {
      loadingSince = null;
      open(token, 'connecting');
    },
    disconnect() {
      source?.close();
      source = null;
      loadingSince = null;
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
