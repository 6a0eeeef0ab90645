import { ref, shallowRef, type Ref, type ShallowRef } from 'vue';
import { ApiError, type ApiClient } from './api.js';
import type { Live } from './live.js';
import type { DropCounts, DropReason, ProfilePreview, PublishProfileInput, PursuanceProfile, ReviewInbox, RoleModel, SentJoinRequest } from './types.js';
import { coalesced } from './coalesce.js';

/**
 * Joining by request. A pursuance publishes a public profile (signed with the current key of a
 * role its publisher holds): whoever has its text may ask to join, answering its questions and
 * paying for the request with a proof of work; the role's holders review the requests in their
 * node's inbox and admit or decline. The applicant's node follows the answer. Changes on either
 * side arrive as live `invites` notices: with the pursuance's id for its inbox and profile, with
 * null for the requests this node sent.
 */

/** A profile's text starts with this (words around it are allowed; the node finds the one profile in them). */
export const PROFILE_PREFIX = 'pursuance-profile:1:';

/** True when the pasted text holds a profile (the node decides whether it is a valid one). */
export function holdsProfile(text: string): boolean {
  return text.includes(PROFILE_PREFIX);
}

/** What the node takes (apps/node/src/http/schemas.ts `PublishProfileBody`). */
export const PROFILE = {
  asksMax: 8,
  effort: { min: 8, max: 28, initial: 18 },
  days: { min: 1, max: 14, initial: 7 },
} as const;

/**
 * A vouch from a linked pursuance spares the applicant's node this many bits of the profile's
 * work, down to the profile's least (the node's VOUCH_DISCOUNT_BITS; a copy, as for PROFILE).
 */
const VOUCH_DISCOUNT_BITS = 6;

/** The work a request carrying a vouch needs, for a profile asking `effort` bits. */
export const vouchedEffort = (effort: number): number => Math.min(effort, Math.max(PROFILE.effort.min, effort - VOUCH_DISCOUNT_BITS));

/** An integer within [min, max]: what a number field must hold before the form is sent. */
export function inRange(value: unknown, range: { readonly min: number; readonly max: number }): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= range.min && value <= range.max;
}

/** The roles this member may sign a profile with, split like tip audiences; highest rank first. */
export interface ProfileRoles {
  /** Held, with their current key held here and its public halves published (the holders' own), no rotation due. */
  readonly ready: readonly string[];
  /** Held, but the key must be rotated (or taken up) first. */
  readonly waiting: readonly string[];
}

/**
 * A profile carries its role's current public halves and is signed with that key, which opens
 * the requests: the publisher must hold the role and its current key. A planted key (published
 * halves that are not the key's) or a holder gone since (rotation due) would hand the requests
 * to someone else, so such a role waits for a rotation.
 */
export function profileRoles(held: readonly string[], roles: readonly RoleModel[]): ProfileRoles {
  const mine = roles.filter((r) => held.includes(r.id)).sort((a, b) => b.rank - a.rank || (a.id < b.id ? -1 : 1));
  const ok = (r: RoleModel) => r.epoch >= 0 && r.iHoldKey && r.publicKey && !r.plantedKey && !r.rotationDue;
  return { ready: mine.filter(ok).map((r) => r.id), waiting: mine.filter((r) => !ok(r)).map((r) => r.id) };
}

/** The reasons a message was dropped unread, in the order they are said (the likely ones first). */
export const DROP_REASONS: readonly DropReason[] = ['work', 'vouch', 'full', 'blocked', 'replay', 'stale', 'unreadable', 'malformed', 'foreign'];

/** The dropped counters that are not zero, in the order they are said. */
export function droppedCounts(dropped: DropCounts | null | undefined): [DropReason, number][] {
  if (!dropped) return [];
  return DROP_REASONS.filter((r) => Object.hasOwn(dropped, r) && dropped[r] > 0).map((r) => [r, dropped[r]]);
}

/**
 * The pursuance's side, for one pursuance: its profile and its review inbox, refetched on the
 * pursuance's `invites` notices. `supported` turns false when the node has no such routes (an
 * older node): the section is then not offered.
 */
export interface Review {
  readonly profile: ShallowRef<PursuanceProfile | null>;
  readonly inbox: ShallowRef<ReviewInbox | null>;
  /** Both have been read once (or failed). */
  readonly loaded: Ref<boolean>;
  readonly supported: Ref<boolean>;
  readonly loadError: ShallowRef<ApiError | null>;
  load(): Promise<void>;
  publish(spec: PublishProfileInput): Promise<PursuanceProfile>;
  withdraw(): Promise<void>;
  admit(requestId: string, roles: readonly string[]): Promise<void>;
  decline(requestId: string, note: string, block: boolean): Promise<void>;
  /** Stop following the live notices (the view unmounts). */
  stop(): void;
}

export interface ReviewDeps {
  readonly api: Pick<ApiClient, 'pursuanceProfile' | 'publishProfile' | 'withdrawProfile' | 'reviewInbox' | 'admitJoinRequest' | 'declineJoinRequest'>;
  readonly live: Pick<Live, 'onInvites'>;
}

export function createReview(deps: ReviewDeps, pursuanceId: string): Review {
  const profile = shallowRef<PursuanceProfile | null>(null);
  const inbox = shallowRef<ReviewInbox | null>(null);
  const loaded = ref(false);
  const supported = ref(true);
  const loadError = shallowRef<ApiError | null>(null);
  // Loads are serialised: a notice during a load asks for one more afterwards, no more.

  const once = async (): Promise<void> => {
    try {
      const [p, i] = await Promise.all([deps.api.pursuanceProfile(pursuanceId), deps.api.reviewInbox(pursuanceId)]);
      profile.value = p.profile;
      inbox.value = i;
      loadError.value = null;
    } catch (err) {
      const e = ApiError.from(err);
      // No such route: a node from before joining by request.
      if (e.status === 404 && e.code === 'NOT_FOUND') supported.value = false;
      else loadError.value = e;
    } finally {
      loaded.value = true;
    }
  };
  const load = coalesced(once);
  const stop = deps.live.onInvites((e) => {
    if (e.pursuanceId === pursuanceId) void load();
  });

  return {
    profile,
    inbox,
    loaded,
    supported,
    loadError,
    load,
    stop,
    async publish(spec) {
      const published = await deps.api.publishProfile(pursuanceId, spec);
      profile.value = published;
      await load();
      return published;
    },
    async withdraw() {
      await deps.api.withdrawProfile(pursuanceId);
      profile.value = null;
      await load();
    },
    async admit(requestId, roles) {
      await deps.api.admitJoinRequest(pursuanceId, requestId, [...roles]);
      await load();
    },
    async decline(requestId, note, block) {
      const trimmed = note.trim();
      await deps.api.declineJoinRequest(pursuanceId, requestId, { ...(trimmed ? { note: trimmed } : {}), block });
      await load();
    },
  };
}

/**
 * The applicant's side: read a pasted profile (the node checks it), send a request through it,
 * and follow the requests this node sent (refetched on `invites` notices with no pursuance, and
 * when a pursuance asked gains events: being admitted brings it here).
 */
export interface Application {
  readonly preview: ShallowRef<ProfilePreview | null>;
  /** The node's refusal of the pasted text (400 INVALID_PROFILE with its reason). */
  readonly previewError: ShallowRef<ApiError | null>;
  readonly reading: Ref<boolean>;
  readonly sent: ShallowRef<readonly SentJoinRequest[]>;
  readonly sentError: ShallowRef<ApiError | null>;
  /** Read a pasted profile; a read overtaken by a newer one is dropped. Empty text clears. */
  read(text: string): Promise<void>;
  /** Forget the preview (the text no longer holds a profile). */
  clear(): void;
  /**
   * Send a request (the node does the proof of work first): resolves with it, or throws the
   * refusal. A `vouch` left empty is not sent: the request then carries the profile's full work.
   */
  send(profile: string, name: string, answers: readonly string[], vouch?: string): Promise<SentJoinRequest>;
  loadSent(): Promise<void>;
  stop(): void;
}

export interface ApplicationDeps {
  readonly api: Pick<ApiClient, 'previewProfile' | 'sendJoinRequest' | 'sentJoinRequests'>;
  readonly live: Pick<Live, 'onInvites' | 'onChanged'>;
}

export function createApplication(deps: ApplicationDeps, options: { onAnswer?: (request: SentJoinRequest) => void } = {}): Application {
  const preview = shallowRef<ProfilePreview | null>(null);
  const previewError = shallowRef<ApiError | null>(null);
  const reading = ref(false);
  const sent = shallowRef<readonly SentJoinRequest[]>([]);
  const sentError = shallowRef<ApiError | null>(null);
  let readSeq = 0;
  let sentSeq = 0;

  const clear = (): void => {
    readSeq += 1;
    preview.value = null;
    previewError.value = null;
    reading.value = false;
  };

  const loadSent = async (): Promise<void> => {
    const n = ++sentSeq;
    try {
      const list = await deps.api.sentJoinRequests();
      if (n !== sentSeq) return;
      const before = new Map(sent.value.map((s) => [s.id, s.status]));
      sent.value = list;
      sentError.value = null;
      // An answer that arrived (declined, or in): said once, when it changes.
      for (const s of list) {
        const was = before.get(s.id);
        if (was !== undefined && was !== s.status) options.onAnswer?.(s);
      }
    } catch (err) {
      if (n === sentSeq) sentError.value = ApiError.from(err);
    }
  };

  const offInvites = deps.live.onInvites((e) => {
    if (e.pursuanceId === null) void loadSent();
  });
  const offChanged = deps.live.onChanged((e) => {
    if (sent.value.some((s) => s.pursuanceId === e.pursuanceId && s.status === 'sent')) void loadSent();
  });

  return {
    preview,
    previewError,
    reading,
    sent,
    sentError,
    clear,
    loadSent,
    stop() {
      offInvites();
      offChanged();
    },
    async read(text) {
      const s = text.trim();
      if (!s) return clear();
      const n = ++readSeq;
      reading.value = true;
      try {
        const p = await deps.api.previewProfile(s);
        if (n !== readSeq) return;
        preview.value = p;
        previewError.value = null;
      } catch (err) {
        if (n !== readSeq) return;
        preview.value = null;
        previewError.value = ApiError.from(err);
      } finally {
        if (n === readSeq) reading.value = false;
      }
    },
    async send(profile, name, answers, vouch = '') {
      const n = name.trim();
      const v = vouch.trim();
      const request = await deps.api.sendJoinRequest({ profile: profile.trim(), ...(n ? { name: n } : {}), answers: [...answers], ...(v ? { vouch: v } : {}) });
      // Shown at once, whatever the list's next read says.
      sent.value = [request, ...sent.value.filter((s) => s.id !== request.id)];
      await loadSent();
      return request;
    },
  };
}
