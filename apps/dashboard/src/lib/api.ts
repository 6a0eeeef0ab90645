import type {
  EventRef,
  FeedItem,
  IngestReport,
  MemberModel,
  NetworkView,
  NewTaskInput,
  OwnRejection,
  PursuanceSummary,
  Rejection,
  RoleModel,
  Rules,
  RulesTemplate,
  SyncStatus,
  TaskChange,
  TaskModel,
} from './types.js';

/**
 * A refused or failed API call. For a denied action the node answers 403 with
 * `{ code, message, rule? }`: `message` is the reason and `rule` the rule that decided it.
 */
export class ApiError extends Error {
  public constructor(
    public readonly status: number,
    public readonly code: string,
    message: string,
    public readonly rule?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** Anything thrown by fetch or by us, as an ApiError (network failures get status 0). */
  public static from(err: unknown): ApiError {
    if (err instanceof ApiError) return err;
    return new ApiError(0, 'NETWORK', err instanceof Error ? err.message : String(err));
  }
}

export type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

/**
 * The node's HTTP API (same origin; the node serves this dashboard). Every call carries the
 * per-node token as a bearer token.
 */
export class ApiClient {
  public constructor(
    private readonly token: () => string | null,
    private readonly fetchImpl: Fetch = (input, init) => fetch(input, init),
    private readonly onUnauthorized: () => void = () => undefined,
  ) {}

  public async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    const token = this.token();
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await this.fetchImpl(path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    } catch (err) {
      throw ApiError.from(err);
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
      const b = (json ?? {}) as { code?: unknown; message?: unknown; rule?: unknown };
      const message = typeof b.message === 'string' ? b.message : Array.isArray(b.message) ? b.message.join('; ') : `${res.status} ${res.statusText}`;
      const error = new ApiError(
        res.status,
        typeof b.code === 'string' ? b.code : `HTTP_${res.status}`,
        message,
        typeof b.rule === 'string' ? b.rule : undefined,
      );
      if (res.status === 401) this.onUnauthorized();
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
  public createPursuance = (body: { name: string; description?: string; template?: string; rules?: Rules }) =>
    this.request<PursuanceSummary>('POST', '/api/pursuances', body);
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
  public tasks = (id: string) => this.request<TaskModel[]>('GET', this.#p(id, '/tasks'));
  public task = (id: string, taskId: string) => this.request<TaskModel>('GET', this.#p(id, `/tasks/${encodeURIComponent(taskId)}`));
  public createTask = (id: string, task: NewTaskInput) => this.request<TaskModel>('POST', this.#p(id, '/tasks'), task);
  public changeTask = (id: string, taskId: string, change: TaskChange) =>
    this.request<EventRef>('POST', this.#p(id, `/tasks/${encodeURIComponent(taskId)}/changes`), change);
  public feed = (id: string, limit = 200) => this.request<FeedItem[]>('GET', this.#p(id, `/feed?limit=${limit}`));
  public rejections = (id: string) => this.request<Rejection[]>('GET', this.#p(id, '/rejections'));
  /** Your own events refused after a race (newest first), each with what the node did about it. */
  public ownRejections = (id: string) => this.request<OwnRejection[]>('GET', this.#p(id, '/own-rejections'));
  public exportEvents = (id: string) => this.request<{ events: string[] }>('GET', this.#p(id, '/events'));
  public importEvents = (id: string, events: string[]) => this.request<IngestReport>('POST', this.#p(id, '/events'), { events });
  public attachRelay = (id: string, bundle: string) => this.request<{ groupId: string }>('POST', this.#p(id, '/relay/attach'), { bundle });
  public moveRelayTo = (id: string, bundle: string) => this.request<{ groupId: string; eventId: string }>('POST', this.#p(id, '/relay/move'), { bundle });
  /** The group invite (Cwtch group on the pursuance's relay) a member hands a newcomer; 4xx/5xx while not attached. */
  public groupInvite = (id: string) => this.request<{ invite: string }>('GET', this.#p(id, '/invite'));
  /** Join the group named by an invite: the relay then replays the pursuance's history into this node. */
  public acceptInvite = (invite: string) => this.request<{ pursuanceId: string }>('POST', '/api/invites/accept', { invite });
  public syncStatus = (id: string) => this.request<SyncStatus>('GET', this.#p(id, '/sync'));
  public network = () => this.request<NetworkView>('GET', '/api/network');
  public rebuild = () => this.request<{ pursuances: number; events: number; seconds: number }>('POST', '/api/admin/rebuild');
}
