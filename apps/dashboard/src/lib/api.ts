import { MESSAGES } from '../i18n/index.js';
import type {
  CreatedJoinInvite,
  CreatedPursuance,
  EventRef,
  FeedItem,
  IngestReport,
  JoinInvite,
  JoinOutcome,
  JoinRequest,
  LinkModel,
  LinkOfferInput,
  LinkOfferModel,
  LinkOfferPreview,
  LinkTaskInput,
  LinkTaskSent,
  MemberModel,
  NetworkView,
  NewSubmissionInput,
  NewTaskInput,
  OpenLinkInput,
  OwnRejection,
  ProfileModel,
  ProfilePreview,
  ProfileUpdate,
  PublishProfileInput,
  PursuanceProfile,
  PursuanceChanges,
  PursuanceSummary,
  Rejection,
  RelayModel,
  ReviewInbox,
  ReviewRequest,
  RoleModel,
  Rules,
  RulesTemplate,
  SafetyModel,
  SendJoinRequestInput,
  SentJoinRequest,
  SnapshotsModel,
  SuccessionModel,
  SyncStatus,
  TaskChange,
  TaskListItem,
  TaskPage,
  TaskModel,
  VouchInput,
  VouchIssued,
} from './types.js';

/**
 * What a person is told when the node does not answer at all (fetch's own "Failed to fetch" stays
 * in `detail`). The words here are English; `explainError` gives them in the chosen language.
 */
export const NETWORK_MESSAGE = 'Cannot reach your node. Check that it is still running, then try again.';

/** A node fault without an answer of its own (the node's log has the details). */
export const SERVER_FAULT = 'Your node ran into a problem it could not explain. Its log has the details.';

const UNEXPECTED_MESSAGE = 'Something went wrong in the dashboard. Reload the page and try again.';

/**
 * A refused or failed API call. The node answers every refusal with `{ code, message, field?,
 * rule?, detail? }`: `message` is the reason in plain words, `code` the stable technical name,
 * `field` the input it concerns (a form marks that input), `rule` the rule that decided it and
 * `detail` the engine's own wording.
 */
export class ApiError extends Error {
  public readonly field: string | undefined;
  public readonly detail: string | undefined;
  /**
   * The message is already in the person's language (a check the dashboard made itself, worded
   * with `t`): shown as it is, never replaced by the catalog's text for its code.
   */
  public readonly localized: boolean;

  public constructor(
    public readonly status: number,
    public readonly code: string,
    message: string,
    public readonly rule?: string,
    extra: { readonly field?: string | undefined; readonly detail?: string | undefined; readonly localized?: boolean } = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.field = extra.field || undefined;
    this.detail = extra.detail || undefined;
    this.localized = extra.localized ?? false;
  }

  /** The node could not be reached (status 0). */
  public static network(err: unknown): ApiError {
    return new ApiError(0, 'NETWORK', NETWORK_MESSAGE, undefined, { detail: err instanceof Error ? err.message : String(err) });
  }

  /**
   * Anything thrown by fetch or by us, as an ApiError. fetch rejects with a TypeError when the
   * node is unreachable; anything else is a fault of the dashboard itself.
   */
  public static from(err: unknown): ApiError {
    if (err instanceof ApiError) return err;
    if (err instanceof TypeError && /fetch|network|load failed/i.test(err.message)) return ApiError.network(err);
    return new ApiError(0, 'UNEXPECTED', UNEXPECTED_MESSAGE, undefined, {
      detail: err instanceof Error ? err.message : String(err),
    });
  }

  /** True when this error names `name` (or a part of it, e.g. `rules.roles`) as the input it concerns. */
  public concerns(name: string): boolean {
    return this.field !== undefined && (this.field === name || this.field.startsWith(`${name}.`));
  }
}

/** A loading refusal inside the client, with the wait the node asked for (never seen by callers). */
class LoadingRefusal extends Error {
  public constructor(
    public readonly error: ApiError,
    public readonly retryAfter: string | null,
  ) {
    super(error.message);
    this.name = 'LoadingRefusal';
  }
}

/** What `explainError` needs of vue-i18n: `useI18n()` in a component, `app.i18n.global` elsewhere. */
export interface ErrorWords {
  t(key: string): string;
  te(key: string): boolean;
  readonly locale: { readonly value: string };
}

/** An error's reason as shown: `text` in the chosen language where we have it, `lang` when it is not. */
export interface ExplainedError {
  readonly text: string;
  /** The language of `text` when it differs from the page's (the node's English words): for `lang`. */
  readonly lang: 'en' | undefined;
  /** The node's own words, kept beside a translation that is more general than they are. */
  readonly original: string | null;
}

/**
 * The reason to show for a refusal. The node words its errors in English, with a stable code:
 * in English its message is shown as it is; in another language the errors catalog's text for
 * the code, when there is one, else the node's message (marked as English). Where the catalog's
 * text is a general sentence (the node's names a field or a task), the node's words are kept too.
 */
export function explainError(error: Pick<ApiError, 'code' | 'message'> & { readonly localized?: boolean }, words: ErrorWords): ExplainedError {
  const key = `errors.code.${error.code}`;
  if (error.localized || words.locale.value === 'en') return { text: error.message, lang: undefined, original: null };
  if (!words.te(key)) return { text: error.message, lang: 'en', original: null };
  const english = (MESSAGES.en.errors as Record<string, Record<string, unknown>>).code?.[error.code];
  const dashboardOwn = error.message === NETWORK_MESSAGE || error.message === SERVER_FAULT || error.message === UNEXPECTED_MESSAGE;
  return { text: words.t(key), lang: undefined, original: english === error.message || dashboardOwn ? null : error.message };
}

export type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

/**
 * The node's answer (503, with `Retry-After`) while it is still loading a pursuance's history at
 * start-up: it already serves that pursuance's read routes from persisted rows, but refuses the
 * rest (the changes feed, the live stream, commands) before doing anything, so asking again later
 * is always safe.
 */
export const PURSUANCE_LOADING = 'PURSUANCE_LOADING';

/** The same while the node itself is starting (its API listens first): every route but the reads. */
export const NODE_STARTING = 'NODE_STARTING';

/** A 503 with one of these codes was refused before anything was done, and is worth asking again. */
export function isLoadingCode(code: unknown): boolean {
  return code === PURSUANCE_LOADING || code === NODE_STARTING;
}

/** The node's words for it (the dashboard says the same when it stops waiting on its own). */
export const LOADING_MESSAGE = "This pursuance's history is still loading on your node. Try again in a moment.";

/** The refusal as the node words it, for a wait the dashboard gives up on by itself. */
export function loadingError(): ApiError {
  return new ApiError(503, PURSUANCE_LOADING, LOADING_MESSAGE);
}

/** True for the node's "still loading this pursuance" (or "still starting") answer. */
export function isLoadingError(err: unknown): boolean {
  return err instanceof ApiError && err.status === 503 && isLoadingCode(err.code);
}

/**
 * How long to keep asking while a pursuance loads: each wait is the node's `Retry-After`, capped
 * (a node that says "an hour" is not taken at its word: loading is a matter of seconds), and
 * after `giveUpAfterMs` the refusal is thrown as it came (code PURSUANCE_LOADING). The clock and
 * the sleep are injected so tests need not wait.
 */
export interface LoadingRetry {
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => number;
  readonly maxWaitMs: number;
  readonly giveUpAfterMs: number;
}

export const DEFAULT_LOADING_RETRY: LoadingRetry = {
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  now: () => Date.now(),
  maxWaitMs: 3_000,
  giveUpAfterMs: 120_000,
};

/** A wait too short to matter would hammer a node that is busy loading. */
const MIN_WAIT_MS = 250;

/** The wait a `Retry-After` header asks for (seconds or an HTTP date; 1 s when absent or unreadable), within bounds. */
export function retryDelay(header: string | null, policy: Pick<LoadingRetry, 'maxWaitMs' | 'now'>): number {
  let ms = 1_000;
  const value = header?.trim() ?? '';
  if (/^\d+$/.test(value)) ms = Number(value) * 1_000;
  else if (value !== '' && !Number.isNaN(Date.parse(value))) ms = Date.parse(value) - policy.now();
  return Math.min(policy.maxWaitMs, Math.max(MIN_WAIT_MS, ms));
}

/** Per call: `waitWhileLoading: false` throws the loading refusal at once (a caller with something better to do). */
export interface RequestOptions {
  readonly waitWhileLoading?: boolean;
}

/**
 * The node's HTTP API (same origin; the node serves this dashboard). Every call carries the
 * per-node token as a bearer token.
 */
export class ApiClient {
  public constructor(
    private readonly token: () => string | null,
    private readonly fetchImpl: Fetch = (input, init) => fetch(input, init),
    private readonly onUnauthorized: () => void = () => undefined,
    /** How to wait out a pursuance that is still loading (shared with the store's and the stream's waits). */
    public readonly loadingRetry: LoadingRetry = DEFAULT_LOADING_RETRY,
  ) {}

  /**
   * One API call. A refusal because the pursuance is still loading is asked again after the
   * node's `Retry-After` (reads and commands alike: the node refused it before doing anything),
   * until the pursuance is loaded or the retry limit is reached.
   */
  public async request<T>(method: string, path: string, body?: unknown, options: RequestOptions = {}): Promise<T> {
    const started = this.loadingRetry.now();
    for (;;) {
      try {
        return await this.#once<T>(method, path, body);
      } catch (err) {
        if (!(err instanceof LoadingRefusal)) throw err;
        if (options.waitWhileLoading === false) throw err.error;
        const wait = retryDelay(err.retryAfter, this.loadingRetry);
        if (this.loadingRetry.now() - started + wait > this.loadingRetry.giveUpAfterMs) throw err.error;
        await this.loadingRetry.sleep(wait);
      }
    }
  }

  async #once<T>(method: string, path: string, body: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    const token = this.token();
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await this.fetchImpl(path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    } catch (err) {
      throw ApiError.network(err);
    }
    const text = await res.text();
    let json: unknown = undefined;
    if (text) {
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
    }
    if (!res.ok) {
      const b = (json ?? {}) as { code?: unknown; message?: unknown; rule?: unknown; field?: unknown; detail?: unknown };
      const message =
        typeof b.message === 'string'
          ? b.message
          : Array.isArray(b.message)
            ? b.message.join('; ')
            : res.status >= 500
              ? SERVER_FAULT
              : `${res.status} ${res.statusText}`;
      const error = new ApiError(
        res.status,
        typeof b.code === 'string' ? b.code : `HTTP_${res.status}`,
        message,
        typeof b.rule === 'string' ? b.rule : undefined,
        { field: typeof b.field === 'string' ? b.field : undefined, detail: typeof b.detail === 'string' ? b.detail : undefined },
      );
      if (res.status === 401) this.onUnauthorized();
      if (isLoadingError(error)) throw new LoadingRefusal(error, res.headers.get('retry-after'));
      throw error;
    }
    return json as T;
  }

  #p(id: string, rest = ''): string {
    return `/api/pursuances/${encodeURIComponent(id)}${rest}`;
  }

  public node = () => this.request<{ onion: string }>('GET', '/api/node');
  public templates = () => this.request<RulesTemplate[]>('GET', '/api/templates');
  public pursuances = () => this.request<PursuanceSummary[]>('GET', '/api/pursuances');
  /** With `relay` (a bundle) the new pursuance is attached in the same request; `attachError` says why it was not. */
  public createPursuance = (body: { name: string; description?: string; template?: string; rules?: Rules; relay?: string }) =>
    this.request<CreatedPursuance>('POST', '/api/pursuances', body);
  public profile = () => this.request<ProfileModel>('GET', '/api/profile');
  public setProfileName = (name: string) => this.request<ProfileUpdate>('PUT', '/api/profile', { name });
  /** The contacts whose (current) safety number was compared: one read for a member list's badges. */
  public verifiedContacts = () => this.request<{ onion: string; verifiedAt: number }[]>('GET', '/api/contacts/safety');
  public safety = (onion: string) => this.request<SafetyModel>('GET', `/api/contacts/${encodeURIComponent(onion)}/safety`);
  /** The number as shown: the node refuses (409 SAFETY_NUMBER_MISMATCH) one that is no longer current. */
  public verifySafety = (onion: string, safetyNumber: string) =>
    this.request<SafetyModel>('POST', `/api/contacts/${encodeURIComponent(onion)}/safety/verify`, { safetyNumber });
  public unverifySafety = (onion: string) => this.request<SafetyModel>('DELETE', `/api/contacts/${encodeURIComponent(onion)}/safety/verify`);
  /** The relays this node has used, to offer when a pursuance is created. */
  public relays = () => this.request<RelayModel[]>('GET', '/api/relays');
  public succession = (id: string) => this.request<SuccessionModel>('GET', this.#p(id, '/succession'));
  public nominate = (id: string, candidate: string) => this.request<EventRef>('POST', this.#p(id, '/succession/nominations'), { candidate });
  public endorse = (id: string, eventId: string) =>
    this.request<EventRef>('POST', this.#p(id, `/succession/nominations/${encodeURIComponent(eventId)}/endorse`));
  public claim = (id: string, eventId: string) => this.request<EventRef>('POST', this.#p(id, `/succession/nominations/${encodeURIComponent(eventId)}/claim`));
  /** Snapshots members vouched for, whether this node's history agrees, and what this node started from. */
  public snapshots = (id: string) => this.request<SnapshotsModel>('GET', this.#p(id, '/snapshots'));
  /** Vouch for a snapshot at the newest stable point; 409 NO_STABLE_FRONTIER (who has not written yet) until there is one. */
  public attestSnapshot = (id: string) => this.request<EventRef>('POST', this.#p(id, '/snapshots'));
  public pursuance = (id: string) => this.request<PursuanceSummary>('GET', this.#p(id));
  public members = (id: string) => this.request<MemberModel[]>('GET', this.#p(id, '/members'));
  public addMember = (id: string, body: { onion: string; name?: string; roles: string[] }) => this.request<EventRef>('POST', this.#p(id, '/members'), body);
  public removeMember = (id: string, onion: string, reason?: string) =>
    this.request<EventRef>('DELETE', this.#p(id, `/members/${encodeURIComponent(onion)}`), reason ? { reason } : {});
  public assignRole = (id: string, onion: string, role: string) =>
    this.request<EventRef>('POST', this.#p(id, `/members/${encodeURIComponent(onion)}/roles`), { role });
  public removeRole = (id: string, onion: string, role: string) =>
    this.request<EventRef>('DELETE', this.#p(id, `/members/${encodeURIComponent(onion)}/roles/${encodeURIComponent(role)}`));
  public leave = (id: string) => this.request<EventRef>('POST', this.#p(id, '/leave'));
  public roles = (id: string) => this.request<RoleModel[]>('GET', this.#p(id, '/roles'));
  public rotateKeys = (id: string, roles: string[]) => this.request<EventRef>('POST', this.#p(id, '/keys/rotate'), { roles });
  public shareKeys = (id: string) => this.request<EventRef>('POST', this.#p(id, '/keys/share'));
  public rules = (id: string) => this.request<Rules>('GET', this.#p(id, '/rules'));
  public changeRules = (id: string, rules: Rules) => this.request<EventRef>('PUT', this.#p(id, '/rules'), { rules });
  /** The task list: each task without its history (`task` reads one whole). */
  public tasks = (id: string) => this.request<TaskListItem[]>('GET', this.#p(id, '/tasks'));
  /** One page of the task list, in its order: the first without `after`, then each after the previous page's `next` (an older node answers the whole list). */
  public tasksPage = (id: string, limit: number, after?: string) =>
    this.request<TaskPage | TaskListItem[]>('GET', this.#p(id, `/tasks?limit=${limit}${after === undefined ? '' : `&after=${encodeURIComponent(after)}`}`));
  /** What changed since a read-model version (without one: the current version, as a `reset`). */
  public changes = (id: string, since?: number, options?: RequestOptions) =>
    this.request<PursuanceChanges>('GET', this.#p(id, since === undefined ? '/changes' : `/changes?since=${since}`), undefined, options);
  /** One task whole, with its history. */
  public task = (id: string, taskId: string, options?: RequestOptions) =>
    this.request<TaskModel>('GET', this.#p(id, `/tasks/${encodeURIComponent(taskId)}`), undefined, options);
  public createTask = (id: string, task: NewTaskInput) => this.request<TaskModel>('POST', this.#p(id, '/tasks'), task);
  /** A write-only submission (a tip) to one role: the node answers with the task it opens there. */
  public submit = (id: string, audience: string, tip: NewSubmissionInput) => this.request<TaskModel>('POST', this.#p(id, '/submissions'), { audience, ...tip });
  public changeTask = (id: string, taskId: string, change: TaskChange) =>
    this.request<EventRef>('POST', this.#p(id, `/tasks/${encodeURIComponent(taskId)}/changes`), change);
  public feed = (id: string, limit = 200) => this.request<FeedItem[]>('GET', this.#p(id, `/feed?limit=${limit}`));
  public rejections = (id: string) => this.request<Rejection[]>('GET', this.#p(id, '/rejections'));
  /** Your own events refused after a race (newest first), each with what the node did about it. */
  public ownRejections = (id: string, options?: RequestOptions) => this.request<OwnRejection[]>('GET', this.#p(id, '/own-rejections'), undefined, options);
  public exportEvents = (id: string) => this.request<{ events: string[] }>('GET', this.#p(id, '/events'));
  public importEvents = (id: string, events: string[]) => this.request<IngestReport>('POST', this.#p(id, '/events'), { events });
  public attachRelay = (id: string, bundle: string) => this.request<{ groupId: string }>('POST', this.#p(id, '/relay/attach'), { bundle });
  public moveRelayTo = (id: string, bundle: string) => this.request<{ groupId: string; eventId: string }>('POST', this.#p(id, '/relay/move'), { bundle });
  public addMirror = (id: string, bundle: string) => this.request<{ groupId: string; eventId: string }>('POST', this.#p(id, '/relay/mirrors'), { bundle });
  public dropMirror = (id: string, bundle: string) => this.request<{ eventId: string }>('POST', this.#p(id, '/relay/mirrors/drop'), { bundle });
  /** The group invite (Cwtch group on the pursuance's relay) a member hands a newcomer; 4xx/5xx while not attached. */
  public groupInvite = (id: string) => this.request<{ invite: string }>('GET', this.#p(id, '/invite'));
  /** Join the group named by an invite: the relay then replays the pursuance's history into this node. */
  public acceptInvite = (invite: string) => this.request<JoinOutcome>('POST', '/api/invites/accept', { invite });
  /** A one-time join link (shown once: the node keeps only a hash of its secret). */
  public createJoinInvite = (id: string, body: { roles: string[]; preApproved: boolean; expiresInHours: number }) =>
    this.request<CreatedJoinInvite>('POST', this.#p(id, '/join-invites'), body);
  public joinInvites = (id: string) => this.request<JoinInvite[]>('GET', this.#p(id, '/join-invites'));
  public revokeJoinInvite = (id: string, inviteId: string) => this.request<JoinInvite>('DELETE', this.#p(id, `/join-invites/${encodeURIComponent(inviteId)}`));
  public approveJoinInvite = (id: string, inviteId: string, roles: string[]) =>
    this.request<JoinInvite>('POST', this.#p(id, `/join-invites/${encodeURIComponent(inviteId)}/approve`), { roles });
  public refuseJoinInvite = (id: string, inviteId: string) =>
    this.request<JoinInvite>('POST', this.#p(id, `/join-invites/${encodeURIComponent(inviteId)}/refuse`));
  /** The join requests this node sent by link, newest first. */
  public joinRequests = () => this.request<JoinRequest[]>('GET', '/api/join-requests');
  /** The pursuance's public profile (where strangers ask to join), or null while none is published. */
  public pursuanceProfile = (id: string) => this.request<{ profile: PursuanceProfile | null }>('GET', this.#p(id, '/profile'));
  /** Publish (or publish again) the public profile, signed with the current key of `role`; 422 without the right to invite. */
  public publishProfile = (id: string, body: PublishProfileInput) => this.request<PursuanceProfile>('POST', this.#p(id, '/profile'), body);
  /** Withdraw the public profile: requests to it are no longer read. */
  public withdrawProfile = (id: string) => this.request<{ profile: null }>('DELETE', this.#p(id, '/profile'));
  /** The review inbox: requests (most work first) and what was dropped unread, by reason. */
  public reviewInbox = (id: string) => this.request<ReviewInbox>('GET', this.#p(id, '/join-requests'));
  /** Let the applicant in with `roles` (member.add, then the group over p2p). */
  public admitJoinRequest = (id: string, requestId: string, roles: string[]) =>
    this.request<ReviewRequest>('POST', this.#p(id, `/join-requests/${encodeURIComponent(requestId)}/admit`), { roles });
  /** Decline (the applicant is told, by the role), with an optional note; `block` drops their later requests unread. */
  public declineJoinRequest = (id: string, requestId: string, body: { note?: string; block: boolean }) =>
    this.request<ReviewRequest>('POST', this.#p(id, `/join-requests/${encodeURIComponent(requestId)}/decline`), body);
  /** Read a pasted profile; 400 INVALID_PROFILE (field `profile`) when it does not parse, verify, or has expired. */
  public previewProfile = (profile: string) => this.request<ProfilePreview>('POST', '/api/join-profile/preview', { profile });
  /** Ask to join through a profile: the node does its proof of work first (seconds), then posts the request. */
  public sendJoinRequest = (body: SendJoinRequestInput) => this.request<SentJoinRequest>('POST', '/api/join-profile/requests', body);
  /** The requests this node sent through profiles, newest first, with the answer so far. */
  public sentJoinRequests = () => this.request<SentJoinRequest[]>('GET', '/api/join-profile/requests');
  /** The pursuance's links: the mapping, their keys as announced, what waits to be sent and what was refused. */
  public links = (id: string) => this.request<LinkModel[]>('GET', this.#p(id, '/links'));
  /** The offers made from this node, newest first. */
  public linkOffers = (id: string) => this.request<LinkOfferModel[]>('GET', this.#p(id, '/links/offers'));
  /** Make an offer to link `to`, anchored on the current key of `anchor` (a role you hold). */
  public makeLinkOffer = (id: string, body: LinkOfferInput) => this.request<LinkOfferModel>('POST', this.#p(id, '/links/offers'), body);
  /** Read a pasted offer; 400 INVALID_LINK_OFFER (field `offer`) when it does not parse, verify, or is not for this pursuance. */
  public previewLinkOffer = (id: string, offer: string) => this.request<LinkOfferPreview>('POST', this.#p(id, '/links/preview'), { offer });
  /** Open the link from their offer; 409 NO_LINK_OFFER until this node made its own offer to them, 422 without the right to change the rules. */
  public openLink = (id: string, body: OpenLinkInput) => this.request<LinkModel>('POST', this.#p(id, '/links'), body);
  public closeLink = (id: string, peer: string) => this.request<{ closed: true }>('DELETE', this.#p(id, `/links/${encodeURIComponent(peer)}`));
  /** Send a task over the link; `posted: false` when their relay is unreachable (the node retries). */
  public sendLinkTask = (id: string, peer: string, body: LinkTaskInput) =>
    this.request<LinkTaskSent>('POST', this.#p(id, `/links/${encodeURIComponent(peer)}/tasks`), body);
  /** Vouch for an applicant to their pursuance, as our `role` (held here with its key, and one the link announces). */
  public vouch = (id: string, peer: string, body: VouchInput) =>
    this.request<VouchIssued>('POST', this.#p(id, `/links/${encodeURIComponent(peer)}/vouches`), body);
  public syncStatus = (id: string, options?: RequestOptions) => this.request<SyncStatus>('GET', this.#p(id, '/sync'), undefined, options);
  public network = () => this.request<NetworkView>('GET', '/api/network');
  public rebuild = () => this.request<{ pursuances: number; events: number; seconds: number }>('POST', '/api/admin/rebuild');
}
