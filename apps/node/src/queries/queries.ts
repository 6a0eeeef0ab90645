import { Inject } from '@nestjs/common';
import { Query, QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import type { EventId, Rejection, Rules } from '@pursuance/pursuance';
import { UnknownTaskError } from '../domain/errors.js';
import {
  feedOf,
  membersOf,
  rolesOf,
  summaryOf,
  taskModel,
  tasksOf,
  type FeedItem,
  type MemberModel,
  type PursuanceSummary,
  type RoleModel,
  type TaskModel,
} from '../domain/read-models.js';
import type { OwnRejection } from '../domain/races.js';
import { successionOf, type SuccessionModel } from '../domain/succession.js';
import { PursuanceRegistry, type PursuanceEntry, type QuarantinedEvent, type QuarantinedPursuance } from '../domain/registry.js';
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
export class ListTasksQuery extends Query<TaskModel[]> {
  public constructor(public readonly pursuanceId: string) {
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

/** Summaries say whether this node is on a relay for each pursuance, which only the sync service knows. */
abstract class SummaryQuery {
  public constructor(
    @Inject(PursuanceRegistry) protected readonly registry: PursuanceRegistry,
    @Inject(SyncService) protected readonly sync: SyncService,
  ) {}
  protected summary(entry: PursuanceEntry): PursuanceSummary {
    return summaryOf(entry, this.registry.identity.onion, this.sync.linkOf(entry.id));
  }
}

@QueryHandler(ListPursuancesQuery)
export class ListPursuancesHandler extends SummaryQuery implements IQueryHandler<ListPursuancesQuery> {
  public execute(): Promise<PursuanceSummary[]> {
    return Promise.resolve(this.registry.list().map((e) => this.summary(e)));
  }
}

@QueryHandler(GetPursuanceQuery)
export class GetPursuanceHandler extends SummaryQuery implements IQueryHandler<GetPursuanceQuery> {
  public execute(q: GetPursuanceQuery): Promise<PursuanceSummary> {
    return Promise.resolve(this.summary(this.registry.get(q.pursuanceId)));
  }
}

@QueryHandler(ListMembersQuery)
export class ListMembersHandler extends RegistryQuery implements IQueryHandler<ListMembersQuery> {
  public execute(q: ListMembersQuery): Promise<MemberModel[]> {
    return Promise.resolve(membersOf(this.registry.get(q.pursuanceId)));
  }
}

@QueryHandler(ListRolesQuery)
export class ListRolesHandler extends RegistryQuery implements IQueryHandler<ListRolesQuery> {
  public execute(q: ListRolesQuery): Promise<RoleModel[]> {
    return Promise.resolve(rolesOf(this.registry.get(q.pursuanceId), this.registry.view(q.pursuanceId)));
  }
}

@QueryHandler(GetRulesQuery)
export class GetRulesHandler extends RegistryQuery implements IQueryHandler<GetRulesQuery> {
  public execute(q: GetRulesQuery): Promise<Rules> {
    return Promise.resolve(this.registry.get(q.pursuanceId).log.state().rules);
  }
}

@QueryHandler(ListTasksQuery)
export class ListTasksHandler extends RegistryQuery implements IQueryHandler<ListTasksQuery> {
  public execute(q: ListTasksQuery): Promise<TaskModel[]> {
    return Promise.resolve(tasksOf(this.registry.get(q.pursuanceId), this.registry.view(q.pursuanceId)));
  }
}

@QueryHandler(GetTaskQuery)
export class GetTaskHandler extends RegistryQuery implements IQueryHandler<GetTaskQuery> {
  public execute(q: GetTaskQuery): Promise<TaskModel> {
    const task = taskModel(this.registry.get(q.pursuanceId), this.registry.view(q.pursuanceId), q.taskId as EventId);
    if (!task) throw new UnknownTaskError(q.taskId);
    return Promise.resolve(task);
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
export class FeedHandler extends RegistryQuery implements IQueryHandler<FeedQuery> {
  public execute(q: FeedQuery): Promise<FeedItem[]> {
    return Promise.resolve(feedOf(this.registry.get(q.pursuanceId), q.limit));
  }
}

@QueryHandler(RejectionsQuery)
export class RejectionsHandler extends RegistryQuery implements IQueryHandler<RejectionsQuery> {
  public execute(q: RejectionsQuery): Promise<ListedRejection[]> {
    const entry = this.registry.get(q.pursuanceId);
    const quarantined = this.registry.quarantinedEvents(q.pursuanceId).map((e) => ({ eventId: e.eventId, code: e.code, reason: e.reason }));
    return Promise.resolve([...entry.log.rejections(), ...this.registry.view(q.pursuanceId).contentRejections, ...quarantined]);
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
  ListRelaysHandler,
  FeedHandler,
  RejectionsHandler,
  OwnRejectionsHandler,
  QuarantineHandler,
];
