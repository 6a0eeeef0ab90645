import { Inject } from '@nestjs/common';
import { Query, QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import type { Rejection, Rules } from '@pursuance/pursuance';
import { UnknownTaskError } from '../domain/errors.js';
import { PART, PERSISTED_FEED } from '../domain/projector.js';
import type { TaskCursor } from '../domain/task-order.js';
import { feedOf, stateHashOf, type FeedItem, type MemberModel, type PursuanceSummary, type RoleModel, type TaskModel } from '../domain/read-models.js';
import type { OwnRejection } from '../domain/races.js';
import { successionOf, type SuccessionModel } from '../domain/succession.js';
import { snapshotsOf, type SnapshotsModel } from '../domain/snapshots.js';
import { PursuanceRegistry, type QuarantinedEvent, type QuarantinedPursuance } from '../domain/registry.js';
import { SyncService, type RelayModel } from '../sync/sync.service.js';

export class ListPursuancesQuery extends Query<PursuanceSummary[]> {}
export class GetPursuanceQuery extends Query<PursuanceSummary> {
  public constructor(public readonly pursuanceId: string) {
    super();
  }
}
export class ListMembersQuery extends Query<MemberModel[]> {
  public constructor(public readonly pursuanceId: string) {
    super();
  }
}
export class ListRolesQuery extends Query<RoleModel[]> {
  public constructor(public readonly pursuanceId: string) {
    super();
  }
}
export class GetRulesQuery extends Query<Rules> {
  public constructor(public readonly pursuanceId: string) {
    super();
  }
}
/** JSON already serialised (a route sends its text with the JSON content type). */
export class JsonText {
  public constructor(public readonly text: string) {}
}

/** The whole task list, or with `page` one page of it (ProjectionCache.tasksPageJson). */
export class ListTasksQuery extends Query<JsonText> {
  public constructor(
    public readonly pursuanceId: string,
    public readonly page?: { readonly limit: number; readonly after: TaskCursor | null },
  ) {
    super();
  }
}
export class GetTaskQuery extends Query<TaskModel> {
  public constructor(
    public readonly pursuanceId: string,
    public readonly taskId: string,
  ) {
    super();
  }
}
export class SnapshotsQuery extends Query<SnapshotsModel> {
  public constructor(public readonly pursuanceId: string) {
    super();
  }
}
export class SuccessionQuery extends Query<SuccessionModel> {
  public constructor(public readonly pursuanceId: string) {
    super();
  }
}
/** The relays this node has pinned, with the pursuances on each (see SyncService.relays). */
export class ListRelaysQuery extends Query<RelayModel[]> {}
export class FeedQuery extends Query<FeedItem[]> {
  public constructor(
    public readonly pursuanceId: string,
    public readonly limit: number,
  ) {
    super();
  }
}
/** A rejection as the API lists it: the log's, the view's, or a stored event quarantined at load. */
export type ListedRejection = Rejection | { readonly eventId: string; readonly code: 'QUARANTINED'; readonly reason: string };

export class RejectionsQuery extends Query<ListedRejection[]> {
  public constructor(public readonly pursuanceId: string) {
    super();
  }
}
export class OwnRejectionsQuery extends Query<OwnRejection[]> {
  public constructor(public readonly pursuanceId: string) {
    super();
  }
}
export interface QuarantineReport {
  readonly pursuances: readonly QuarantinedPursuance[];
  readonly events: readonly QuarantinedEvent[];
}
export class QuarantineQuery extends Query<QuarantineReport> {}

abstract class RegistryQuery {
  public constructor(@Inject(PursuanceRegistry) protected readonly registry: PursuanceRegistry) {}
}

/**
 * The read routes answer from the persisted read model (registry.projections): the same rows
 * whether the pursuance's log is loaded or still loading at start-up.
 */
abstract class ReadModelQuery extends RegistryQuery {
  protected part<T>(pursuanceId: string, name: string): T {
    this.registry.readable(pursuanceId);
    return this.registry.projections.get<T>(pursuanceId, name)!;
  }
}

/** Summaries say whether this node is on a relay for each pursuance, which only the sync service knows. */
abstract class SummaryQuery extends ReadModelQuery {
  public constructor(
    @Inject(PursuanceRegistry) registry: PursuanceRegistry,
    @Inject(SyncService) protected readonly sync: SyncService,
  ) {
    super(registry);
  }
  protected summary(id: string): PursuanceSummary {
    const stored = this.part<PursuanceSummary>(id, PART.summary);
    const link = this.sync.linkOf(id);
    const loaded = this.registry.isLoaded(id);
    // The state hash is worked out on demand (and cached) once loaded; while loading, the one
    // stored at the last clean stop or replay, if no event was stored since (else empty) — also
    // while the log is in but the load is still working its hash out in slices.
    const stateHash = loaded && !this.registry.isLoading(id) ? stateHashOf(this.registry.get(id)) : (this.registry.projections.checkpoint(id)?.stateHash ?? '');
    return { ...stored, relay: link?.bundle ?? stored.relay, attached: link !== null, stateHash, loaded };
  }
}

@QueryHandler(ListPursuancesQuery)
export class ListPursuancesHandler extends SummaryQuery implements IQueryHandler<ListPursuancesQuery> {
  public execute(): Promise<PursuanceSummary[]> {
    // Loaded ones, and loading ones whose read model is stored (others show once loaded).
    const ids = new Set([...this.registry.list().map((e) => e.id), ...this.registry.loadingIds()]);
    return Promise.resolve(
      [...ids]
        .sort()
        .filter((id) => this.registry.projections.has(id))
        .map((id) => this.summary(id)),
    );
  }
}

@QueryHandler(GetPursuanceQuery)
export class GetPursuanceHandler extends SummaryQuery implements IQueryHandler<GetPursuanceQuery> {
  public execute(q: GetPursuanceQuery): Promise<PursuanceSummary> {
    return Promise.resolve(this.summary(q.pursuanceId));
  }
}

@QueryHandler(ListMembersQuery)
export class ListMembersHandler extends ReadModelQuery implements IQueryHandler<ListMembersQuery> {
  public execute(q: ListMembersQuery): Promise<MemberModel[]> {
    return Promise.resolve(this.part<MemberModel[]>(q.pursuanceId, PART.members));
  }
}

@QueryHandler(ListRolesQuery)
export class ListRolesHandler extends ReadModelQuery implements IQueryHandler<ListRolesQuery> {
  public execute(q: ListRolesQuery): Promise<RoleModel[]> {
    return Promise.resolve(this.part<RoleModel[]>(q.pursuanceId, PART.roles));
  }
}

@QueryHandler(GetRulesQuery)
export class GetRulesHandler extends ReadModelQuery implements IQueryHandler<GetRulesQuery> {
  public execute(q: GetRulesQuery): Promise<Rules> {
    return Promise.resolve(this.part<Rules>(q.pursuanceId, PART.rules));
  }
}

/** The task list as JSON text, as stored (see ProjectionCache.tasksJson): the route sends it as it is. */
@QueryHandler(ListTasksQuery)
export class ListTasksHandler extends ReadModelQuery implements IQueryHandler<ListTasksQuery> {
  public async execute(q: ListTasksQuery): Promise<JsonText> {
    return new JsonText(await this.registry.tasksText(q.pursuanceId, q.page));
  }
}

@QueryHandler(GetTaskQuery)
export class GetTaskHandler extends ReadModelQuery implements IQueryHandler<GetTaskQuery> {
  public async execute(q: GetTaskQuery): Promise<TaskModel> {
    this.registry.readable(q.pursuanceId);
    const task = await this.registry.task(q.pursuanceId, q.taskId);
    if (!task) throw new UnknownTaskError(q.taskId);
    return task;
  }
}

@QueryHandler(SnapshotsQuery)
export class SnapshotsHandler extends RegistryQuery implements IQueryHandler<SnapshotsQuery> {
  public execute(q: SnapshotsQuery): Promise<SnapshotsModel> {
    const id = q.pursuanceId;
    return Promise.resolve(snapshotsOf(this.registry.get(id), this.registry.startedFrom(id), this.registry.snapshotRefusals(id)));
  }
}

@QueryHandler(SuccessionQuery)
export class SuccessionHandler extends RegistryQuery implements IQueryHandler<SuccessionQuery> {
  public execute(q: SuccessionQuery): Promise<SuccessionModel> {
    return Promise.resolve(successionOf(this.registry.get(q.pursuanceId), this.registry.identity.onion));
  }
}

@QueryHandler(ListRelaysQuery)
export class ListRelaysHandler implements IQueryHandler<ListRelaysQuery> {
  public constructor(@Inject(SyncService) private readonly sync: SyncService) {}
  public execute(): Promise<RelayModel[]> {
    return Promise.resolve(this.sync.relays());
  }
}

@QueryHandler(FeedQuery)
export class FeedHandler extends ReadModelQuery implements IQueryHandler<FeedQuery> {
  public execute(q: FeedQuery): Promise<FeedItem[]> {
    // The stored feed holds the newest PERSISTED_FEED items; a longer one is read from the log.
    if (q.limit > PERSISTED_FEED) return Promise.resolve(feedOf(this.registry.get(q.pursuanceId), q.limit));
    return Promise.resolve(this.part<FeedItem[]>(q.pursuanceId, PART.feed).slice(0, q.limit));
  }
}

@QueryHandler(RejectionsQuery)
export class RejectionsHandler extends ReadModelQuery implements IQueryHandler<RejectionsQuery> {
  /**
   * The fold's and the view's rejections (the read model), then the inputs kept with a reason:
   * ones that never parsed or belonged, ones waiting for a member's addition, and stored events
   * set aside at load (QUARANTINED). Kept inputs are listed from the store, so a restart forgets none.
   */
  public async execute(q: RejectionsQuery): Promise<ListedRejection[]> {
    const judged = this.part<Rejection[]>(q.pursuanceId, PART.rejections);
    const kept = (await this.registry.keptInputs(q.pursuanceId)).map((r) => ({ eventId: r.hash, code: r.code, reason: r.reason }) as ListedRejection);
    return [...judged, ...kept];
  }
}

@QueryHandler(OwnRejectionsQuery)
export class OwnRejectionsHandler extends RegistryQuery implements IQueryHandler<OwnRejectionsQuery> {
  public execute(q: OwnRejectionsQuery): Promise<OwnRejection[]> {
    return Promise.resolve(this.registry.ownRejections(q.pursuanceId));
  }
}

@QueryHandler(QuarantineQuery)
export class QuarantineHandler extends RegistryQuery implements IQueryHandler<QuarantineQuery> {
  public execute(): Promise<QuarantineReport> {
    return Promise.resolve({ pursuances: this.registry.quarantined(), events: this.registry.quarantinedEvents() });
  }
}

export const QueryHandlers = [
  ListPursuancesHandler,
  GetPursuanceHandler,
  ListMembersHandler,
  ListRolesHandler,
  GetRulesHandler,
  ListTasksHandler,
  GetTaskHandler,
  SuccessionHandler,
  SnapshotsHandler,
  ListRelaysHandler,
  FeedHandler,
  RejectionsHandler,
  OwnRejectionsHandler,
  QuarantineHandler,
];
