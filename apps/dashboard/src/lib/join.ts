import { shallowRef, type ShallowRef } from 'vue';
import { holdsProfile } from './admission.js';
import { ApiError, type ApiClient } from './api.js';
import { parseInvite } from './invite.js';
import type { Live } from './live.js';
import type { JoinOutcome, JoinRequest, PursuanceSummary } from './types.js';

/**
 * Joining. By a join link, the node asks the inviter's node (POST /api/invites/accept answers
 * `requested`); the inviter's answer arrives as live `invites` notices (GET /api/join-requests),
 * and once approved the group follows and the relay replays the history. By a group invite (the
 * older way), the node joins the group at once and the relay replays. Either way the history
 * arrives asynchronously: we wait on live notices, with a slow poll as a fallback while the
 * stream reconnects, until the pursuance is listed or the inviter refuses.
 */
const GROUP_INVITE = /^tofubundle:[^\s|]+\|\|torv3\S+$/;
const JOIN_LINK = /pursuance-join:1:[A-Za-z0-9_-]+/g;

/**
 * What was pasted: a pursuance's public profile (ask to join by request: lib/admission.ts), a
 * join link, a group invite, the older invite string (which needs an event bundle), or none of them.
 */
export type InviteKind = 'profile' | 'link' | 'group' | 'legacy' | 'unknown';

export function inviteKind(text: string): InviteKind {
  const s = text.trim();
  // Any text naming a profile is read by the node, which says what is wrong with it, if anything.
  if (holdsProfile(s)) return 'profile';
  // A link may come inside a dashboard address or with words around it, but only one.
  if ((s.match(JOIN_LINK) ?? []).length === 1) return 'link';
  if (GROUP_INVITE.test(s)) return 'group';
  if (parseInvite(s)) return 'legacy';
  return 'unknown';
}

/** The join link in a dashboard address's fragment (`/join#invite=…`), if any: opening such a link fills in Join. */
export function linkFromHash(hash: string): string | null {
  const m = /^#invite=(pursuance-join:1:[A-Za-z0-9_-]+)$/.exec(hash);
  return m ? m[1]! : null;
}

export type JoinState =
  | { readonly phase: 'idle' }
  | { readonly phase: 'accepting' }
  /** A group invite was accepted: the relay is replaying the history. */
  | { readonly phase: 'waiting'; readonly pursuanceId: string }
  /** A link: the inviter's node was asked; `request` is the answer so far (null until first read). */
  | { readonly phase: 'asked'; readonly pursuanceId: string; readonly request: JoinRequest | null }
  | { readonly phase: 'refused'; readonly pursuanceId: string; readonly request: JoinRequest }
  | { readonly phase: 'joined'; readonly pursuanceId: string; readonly pursuance: PursuanceSummary }
  | { readonly phase: 'failed'; readonly error: ApiError };

export interface JoinDeps {
  readonly api: Pick<ApiClient, 'acceptInvite' | 'joinRequests'>;
  readonly live: Pick<Live, 'onChanged' | 'onInvites'>;
  readonly pursuances: ShallowRef<readonly PursuanceSummary[]>;
  refreshPursuances(): Promise<void>;
}

export interface Join {
  readonly state: ShallowRef<JoinState>;
  /** Accept the invite or ask by the link; resolve once the pursuance is on this node, or the inviter refused. */
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

  /** Wait until the pursuance is listed (joined) or, when we asked by link, the inviter refuses. */
  const waitFor = (pursuanceId: string, asked: boolean): Promise<void> =>
    new Promise<void>((resolve) => {
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        offChanged();
        offInvites();
        clearInterval(timer);
        resolve();
      };
      const checkListed = async (): Promise<void> => {
        await deps.refreshPursuances();
        if (done) return;
        const found = deps.pursuances.value.find((p) => p.id === pursuanceId);
        if (!found) return;
        state.value = { phase: 'joined', pursuanceId, pursuance: found };
        finish();
      };
      const checkAnswer = async (): Promise<void> => {
        let request: JoinRequest | undefined;
        try {
          request = (await deps.api.joinRequests()).find((r) => r.pursuanceId === pursuanceId);
        } catch {
          return; // the next notice or poll tries again
        }
        if (done || !request) return;
        if (request.status === 'refused') {
          state.value = { phase: 'refused', pursuanceId, request };
          finish();
        } else state.value = { phase: 'asked', pursuanceId, request };
      };
      const offChanged = deps.live.onChanged((e) => {
        if (e.pursuanceId === pursuanceId) void checkListed();
      });
      const offInvites = asked ? deps.live.onInvites((e) => e.pursuanceId === null && void checkAnswer()) : () => undefined;
      const timer = setInterval(() => {
        void checkListed();
        if (asked) void checkAnswer();
      }, pollMs);
      stop = finish;
      void checkListed();
      if (asked) void checkAnswer();
    });

  return {
    state,
    cancel,
    async accept(invite: string) {
      cancel();
      state.value = { phase: 'accepting' };
      let outcome: JoinOutcome;
      try {
        outcome = await deps.api.acceptInvite(invite.trim());
      } catch (err) {
        state.value = { phase: 'failed', error: ApiError.from(err) };
        return;
      }
      const asked = outcome.status === 'requested';
      state.value = asked ? { phase: 'asked', pursuanceId: outcome.pursuanceId, request: null } : { phase: 'waiting', pursuanceId: outcome.pursuanceId };
      await waitFor(outcome.pursuanceId, asked);
    },
  };
}
