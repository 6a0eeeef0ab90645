import { shallowRef, type ShallowRef } from 'vue';
import { ApiError, type ApiClient } from './api.js';
import { parseInvite } from './invite.js';
import type { Live } from './live.js';
import type { PursuanceSummary } from './types.js';

/**
 * Joining by a group invite: the node joins the pursuance's Cwtch group on its relay
 * (POST /api/invites/accept), then the relay replays the history into the node. That arrives
 * asynchronously, so after the node has accepted we wait, on the live stream's `changed` events
 * (with a slow poll as a fallback while the stream reconnects), until the pursuance is listed.
 */
const GROUP_INVITE = /^tofubundle:[^\s|]+\|\|torv3\S+$/;

/** What was pasted: a group invite, the older invite string (which needs an event bundle), or neither. */
export type InviteKind = 'group' | 'legacy' | 'unknown';

export function inviteKind(text: string): InviteKind {
  const s = text.trim();
  if (GROUP_INVITE.test(s)) return 'group';
  if (parseInvite(s)) return 'legacy';
  return 'unknown';
}

export type JoinState =
  | { readonly phase: 'idle' }
  | { readonly phase: 'accepting' }
  | { readonly phase: 'waiting'; readonly pursuanceId: string }
  | { readonly phase: 'joined'; readonly pursuanceId: string; readonly pursuance: PursuanceSummary }
  | { readonly phase: 'failed'; readonly error: ApiError };

export interface JoinDeps {
  readonly api: Pick<ApiClient, 'acceptInvite'>;
  readonly live: Pick<Live, 'onChanged'>;
  readonly pursuances: ShallowRef<readonly PursuanceSummary[]>;
  refreshPursuances(): Promise<void>;
}

export interface Join {
  readonly state: ShallowRef<JoinState>;
  /** Accept the invite and resolve once the pursuance is on this node (or the node refused). */
  accept(invite: string): Promise<void>;
  /** Stop waiting (the view unmounts). */
  cancel(): void;
}

export function createJoin(deps: JoinDeps, options: { pollMs?: number } = {}): Join {
  const pollMs = options.pollMs ?? 3_000;
  const state = shallowRef<JoinState>({ phase: 'idle' });
  let stop: (() => void) | null = null;

  const cancel = (): void => {
    stop?.();
    stop = null;
  };

  const waitFor = (pursuanceId: string): Promise<void> =>
    new Promise<void>((resolve) => {
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        off();
        clearInterval(timer);
        resolve();
      };
      const check = async (refresh: boolean): Promise<void> => {
        if (refresh) await deps.refreshPursuances();
        if (done) return;
        const found = deps.pursuances.value.find((p) => p.id === pursuanceId);
        if (!found) return;
        state.value = { phase: 'joined', pursuanceId, pursuance: found };
        finish();
      };
      const off = deps.live.onChanged((e) => {
        if (e.pursuanceId === pursuanceId) void check(true);
      });
      const timer = setInterval(() => void check(true), pollMs);
      stop = finish;
      void check(true);
    });

  return {
    state,
    cancel,
    async accept(invite: string) {
      cancel();
      state.value = { phase: 'accepting' };
      let pursuanceId: string;
      try {
        ({ pursuanceId } = await deps.api.acceptInvite(invite.trim()));
      } catch (err) {
        state.value = { phase: 'failed', error: ApiError.from(err) };
        return;
      }
      state.value = { phase: 'waiting', pursuanceId };
      await waitFor(pursuanceId);
    },
  };
}
