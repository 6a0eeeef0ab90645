import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Put, Query, Res } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiConflictResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import type { Response } from 'express';
import { toBase64 } from '@pursuance/crypto';
import { EventRejectedError, decodeEvent, type EventId, type NewTask, type SignedEvent } from '@pursuance/pursuance';
import {
  AddMemberCommand,
  AssignRoleCommand,
  AttestSnapshotCommand,
  ChangeRulesCommand,
  ChangeTaskCommand,
  ClaimNominationCommand,
  CreatePursuanceCommand,
  CreateTaskCommand,
  SubmitCommand,
  EndorseNominationCommand,
  IngestEventsCommand,
  LeavePursuanceCommand,
  NominateFounderCommand,
  RebuildProjectionsCommand,
  RemoveMemberCommand,
  RemoveRoleCommand,
  RotateKeysCommand,
  ShareKeysCommand,
  type TaskChange,
} from '../commands/commands.js';
import { InvalidRequestError } from '../domain/errors.js';
import { PursuanceRegistry } from '../domain/registry.js';
import { ServedWhileStarting } from './starting.js';
import type { RulesTemplate } from '../domain/templates.js';
import {
  FeedQuery,
  GetPursuanceQuery,
  GetRulesQuery,
  GetTaskQuery,
  ListMembersQuery,
  ListPursuancesQuery,
  ListRolesQuery,
  ListTasksQuery,
  OwnRejectionsQuery,
  QuarantineQuery,
  RejectionsQuery,
  SnapshotsQuery,
  SuccessionQuery,
} from '../queries/queries.js';
import { AttachRelayCommand } from '../sync/sync.handlers.js';
import {
  AddMemberBody,
  AssignRoleBody,
  ChangeRulesBody,
  CreatePursuanceBody,
  CreateTaskBody,
  SubmitBody,
  EventsBody,
  FeedQueryString,
  TASK_PAGE_MAX,
  TasksQueryString,
  MemberParams,
  MemberRoleParams,
  NoBody,
  NominateBody,
  NominationParams,
  PursuanceParams,
  RemoveMemberBody,
  RotateKeysBody,
  TaskChangeBody,
  TaskParams,
  type PursuanceParamsDto,
  type MemberParamsDto,
  type MemberRoleParamsDto,
  type TaskParamsDto,
  type FeedQueryStringDto,
  type TasksQueryStringDto,
  type NoBodyDto,
  type CreatePursuanceBodyDto,
  type AddMemberBodyDto,
  type RemoveMemberBodyDto,
  type AssignRoleBodyDto,
  type RotateKeysBodyDto,
  type ChangeRulesBodyDto,
  type CreateTaskBodyDto,
  type SubmitBodyDto,
  type TaskChangeBodyDto,
  type EventsBodyDto,
  type NominateBodyDto,
  type NominationParamsDto,
} from './schemas.js';
import { answerFor } from './error-table.js';
import { ApiInput, RequestValidationError, responseSchema, valid } from './validation.js';

export const TEMPLATES = Symbol('TEMPLATES');
const eventRef = (e: { id: string; header: { kind: string } }) => ({ id: e.id, kind: e.header.kind });

/** Response shapes documented in the OpenAPI document (the read models are plain TypeScript). */
const OwnRejectionDoc = z.object({
  eventId: z.string(),
  kind: z.string(),
  code: z.string().describe('the rejection code every replica gives (e.g. LOCKBOX_INVALID)'),
  reason: z.string(),
  rule: z.string().nullable(),
  signedAt: z.number().describe("the event's own time (ms)"),
  seenAt: z.number().describe('when this node saw it refused (ms)'),
  retryOf: z.string().nullable().describe('the refused event this one re-sent, if it was a re-send'),
  outcome: z.discriminatedUnion('status', [
    z.object({ status: z.literal('resent'), eventId: z.string(), kind: z.string() }),
    z.object({ status: z.literal('not-resent'), reason: z.string() }),
    z.object({ status: z.literal('earlier'), reason: z.string() }),
  ]),
});
const QuarantineDoc = z.object({
  pursuances: z.array(z.object({ pursuanceId: z.string(), code: z.string(), reason: z.string(), at: z.number() })),
  events: z.array(z.object({ pursuanceId: z.string(), eventId: z.string(), code: z.literal('QUARANTINED'), reason: z.string(), at: z.number() })),
});
const QuarantinedDoc = z.object({ code: z.literal('PURSUANCE_QUARANTINED'), message: z.string(), pursuanceId: z.string() });
const RefusalDoc = z.object({ code: z.string(), reason: z.string() }).nullable();
const StepDoc = z.object({ allowed: z.boolean(), refusal: RefusalDoc.describe('why not, as every replica would refuse it (null when allowed)') });
const PersonDoc = z.object({ onion: z.string(), name: z.string().nullable() });
const SuccessionDoc = z.object({
  quorum: z.number().describe('founders (the nominator included) who must endorse'),
  inactivityDays: z.number().nullable().describe('days without founder activity after which the nominee may claim (null: never)'),
  amFounder: z.boolean(),
  nominees: z.array(PersonDoc).describe('members you could nominate: neither founders nor already nominated (empty unless you are a founder)'),
  nominations: z.array(
    z.object({
      id: z.string().describe('the nomination event id, for endorse and claim'),
      candidate: z.string(),
      candidateName: z.string().nullable(),
      nominatedBy: z.string(),
      nominatedByName: z.string().nullable(),
      nominatedAt: z.number(),
      endorsers: z.array(PersonDoc),
      endorsements: z.number().describe('endorsements by current founders'),
      needed: z.number(),
      claimableFrom: z.number().nullable().describe('earliest time (ms) a claim on inactivity could be accepted; it also needs two other members active since'),
      endorse: StepDoc,
      claim: StepDoc,
    }),
  ),
});

const SnapshotsDoc = z.object({
  startedFrom: z
    .object({
      hash: z.string(),
      events: z.number(),
      attesters: z.array(z.string()),
      from: z.string(),
      at: z.number(),
      verified: z.object({ outcome: z.enum(['pending', 'agrees', 'disagrees']), reason: z.string().nullable(), at: z.number().nullable() }),
    })
    .nullable()
    .describe('set when this node joined from a snapshot: which, vouched for by whom, and whether the full history has been verified against it'),
  refused: z
    .array(z.object({ from: z.string(), code: z.string(), reason: z.string(), at: z.number() }))
    .describe('snapshots offered when this node joined that it did not start from, with the reason'),
  required: z.number().describe("distinct attesters a joiner needs (the rules' `snapshots`, default two founders or all where fewer)"),
  from: z.enum(['founders', 'members']),
  snapshots: z.array(
    z.object({
      hash: z.string().describe('the snapshot document hash the attestations sign'),
      frontier: z.array(z.string()),
      events: z.number().describe('events before the snapshot'),
      stateHash: z.string(),
      attesters: z.array(z.object({ onion: z.string(), name: z.string().nullable(), at: z.number(), eventId: z.string() })),
      counted: z.number().describe('attesters the rules count now'),
      enough: z.boolean(),
      check: z.object({
        outcome: z
          .enum(['agrees', 'disagrees', 'unknown'])
          .describe("this node's own history against the claim; `disagrees` is evidence against the attesters"),
        reason: z.string().nullable(),
      }),
    }),
  ),
});

/** Commands and queries over HTTP. Every route is behind SecurityGuard (see app.module.ts). */
@ApiTags('pursuances')
@ApiBearerAuth()
@Controller('api')
export class PursuancesController {
  public constructor(
    @Inject(CommandBus) private readonly commands: CommandBus,
    @Inject(QueryBus) private readonly queries: QueryBus,
    @Inject(PursuanceRegistry) private readonly registry: PursuanceRegistry,
    @Inject(TEMPLATES) private readonly templates: RulesTemplate[],
  ) {}

  @Get('node')
  @ServedWhileStarting()
  public node() {
    return { onion: this.registry.identity.onion };
  }

  @Get('templates')
  @ServedWhileStarting()
  public listTemplates() {
    return this.templates.map((t) => ({ id: t.id, rules: t.rules }));
  }

  @Get('pursuances')
  @ServedWhileStarting()
  public list() {
    return this.queries.execute(new ListPursuancesQuery());
  }

  @Post('pursuances')
  @ApiInput({ body: CreatePursuanceBody })
  @ApiOperation({
    summary: 'Create a pursuance, optionally on a relay',
    description:
      'With `relay` (a bundle, e.g. from GET /api/relays) the bundle is checked first — a garbage bundle (400 INVALID_BUNDLE) or a relay whose keys changed (409 RELAY_KEYS_CHANGED) creates nothing — and the new pursuance is attached to it in the same request. If attaching then fails, the pursuance exists anyway: the answer is still 201, with `attachError` saying why, and `attached: false`.',
  })
  @ApiInput({ body: CreatePursuanceBody })
  public async create(@Body(valid.body(CreatePursuanceBody)) b: CreatePursuanceBodyDto) {
    let rules = b.rules;
    if (!rules) {
      if (b.template === undefined) throw new InvalidRequestError('Choose a template (or give rules of your own).', 'template');
      rules = this.templates.find((t) => t.id === b.template)?.rules;
      if (!rules) throw new InvalidRequestError(`There is no template "${b.template}". Pick one of GET /api/templates.`, 'template');
    }
    const entry = await this.commands.execute(new CreatePursuanceCommand(b.name, b.description, rules, b.relay));
    let attachError: { code: string; message: string } | null = null;
    if (b.relay !== undefined) {
      try {
        await this.commands.execute(new AttachRelayCommand(entry.id, b.relay));
      } catch (err) {
        attachError = attachFailure(err);
      }
    }
    return { ...(await this.queries.execute(new GetPursuanceQuery(entry.id))), attachError };
  }

  @Get('pursuances/:id')
  @ServedWhileStarting()
  @ApiInput({ params: PursuanceParams })
  public get(@Param(valid.params(PursuanceParams)) p: PursuanceParamsDto) {
    return this.queries.execute(new GetPursuanceQuery(p.id));
  }

  @Get('pursuances/:id/members')
  @ServedWhileStarting()
  @ApiInput({ params: PursuanceParams })
  public members(@Param(valid.params(PursuanceParams)) p: PursuanceParamsDto) {
    return this.queries.execute(new ListMembersQuery(p.id));
  }

  @Post('pursuances/:id/members')
  @ApiInput({ params: PursuanceParams, body: AddMemberBody })
  public async addMember(@Param(valid.params(PursuanceParams)) p: PursuanceParamsDto, @Body(valid.body(AddMemberBody)) b: AddMemberBodyDto) {
    return eventRef(await this.commands.execute(new AddMemberCommand(p.id, b.onion, b.name, b.roles)));
  }

  @Delete('pursuances/:id/members/:onion')
  @ApiInput({ params: MemberParams, body: RemoveMemberBody, bodyRequired: false })
  public async removeMember(@Param(valid.params(MemberParams)) p: MemberParamsDto, @Body(valid.body(RemoveMemberBody)) b: RemoveMemberBodyDto) {
    return eventRef(await this.commands.execute(new RemoveMemberCommand(p.id, p.onion, b?.reason)));
  }

  @Post('pursuances/:id/members/:onion/roles')
  @ApiInput({ params: MemberParams, body: AssignRoleBody })
  public async assignRole(@Param(valid.params(MemberParams)) p: MemberParamsDto, @Body(valid.body(AssignRoleBody)) b: AssignRoleBodyDto) {
    return eventRef(await this.commands.execute(new AssignRoleCommand(p.id, p.onion, b.role)));
  }

  @Delete('pursuances/:id/members/:onion/roles/:role')
  @ApiInput({ params: MemberRoleParams, body: NoBody, bodyRequired: false })
  public async removeRole(@Param(valid.params(MemberRoleParams)) p: MemberRoleParamsDto, @Body(valid.body(NoBody)) _: NoBodyDto) {
    return eventRef(await this.commands.execute(new RemoveRoleCommand(p.id, p.onion, p.role)));
  }

  @Post('pursuances/:id/leave')
  @ApiInput({ params: PursuanceParams, body: NoBody, bodyRequired: false })
  public async leave(@Param(valid.params(PursuanceParams)) p: PursuanceParamsDto, @Body(valid.body(NoBody)) _: NoBodyDto) {
    return eventRef(await this.commands.execute(new LeavePursuanceCommand(p.id)));
  }

  @Get('pursuances/:id/roles')
  @ServedWhileStarting()
  @ApiInput({ params: PursuanceParams })
  public roles(@Param(valid.params(PursuanceParams)) p: PursuanceParamsDto) {
    return this.queries.execute(new ListRolesQuery(p.id));
  }

  @Post('pursuances/:id/keys/rotate')
  @ApiInput({ params: PursuanceParams, body: RotateKeysBody })
  public async rotate(@Param(valid.params(PursuanceParams)) p: PursuanceParamsDto, @Body(valid.body(RotateKeysBody)) b: RotateKeysBodyDto) {
    return eventRef(await this.commands.execute(new RotateKeysCommand(p.id, b.roles)));
  }

  @Post('pursuances/:id/keys/share')
  @ApiInput({ params: PursuanceParams, body: NoBody, bodyRequired: false })
  public async share(@Param(valid.params(PursuanceParams)) p: PursuanceParamsDto, @Body(valid.body(NoBody)) _: NoBodyDto) {
    const e = await this.commands.execute(new ShareKeysCommand(p.id));
    return e ? eventRef(e) : { id: null, kind: null };
  }

  @Get('pursuances/:id/rules')
  @ServedWhileStarting()
  @ApiInput({ params: PursuanceParams })
  public rules(@Param(valid.params(PursuanceParams)) p: PursuanceParamsDto) {
    return this.queries.execute(new GetRulesQuery(p.id));
  }

  @Put('pursuances/:id/rules')
  @ApiInput({ params: PursuanceParams, body: ChangeRulesBody })
  public async changeRules(@Param(valid.params(PursuanceParams)) p: PursuanceParamsDto, @Body(valid.body(ChangeRulesBody)) b: ChangeRulesBodyDto) {
    return eventRef(await this.commands.execute(new ChangeRulesCommand(p.id, b.rules)));
  }

  @Get('pursuances/:id/succession')
  @ApiOperation({
    summary: 'Founder succession: open nominations, and what you may do now',
    description:
      'The succession rules, the members you could nominate, and each open nomination with its endorsements so far and needed, when a claim on inactivity could first be accepted, and whether you may endorse or claim it now — judged by the same fold every replica runs, with its reason when not.',
  })
  @ApiInput({ params: PursuanceParams })
  @ApiOkResponse(responseSchema(SuccessionDoc))
  public succession(@Param(valid.params(PursuanceParams)) p: PursuanceParamsDto) {
    return this.queries.execute(new SuccessionQuery(p.id));
  }

  @Get('pursuances/:id/snapshots')
  @ApiOperation({
    summary: "Snapshots members vouched for, and whether this node's history agrees",
    description:
      "Each snapshot of the history that members attested (signed snapshot.attest events), newest first: who vouched, whether that is enough for a joiner under the rules, and this node's own check of the claim against its history (a member who vouches for a state that never happened leaves signed evidence).",
  })
  @ApiInput({ params: PursuanceParams })
  @ApiOkResponse(responseSchema(SnapshotsDoc))
  public snapshots(@Param(valid.params(PursuanceParams)) p: PursuanceParamsDto) {
    return this.queries.execute(new SnapshotsQuery(p.id));
  }

  @Post('pursuances/:id/snapshots')
  @ApiOperation({
    summary: 'Vouch for a snapshot of the history at its newest stable point (any member)',
    description: 'Signs a snapshot.attest event. 409 NO_STABLE_FRONTIER, with the reason, until every member has written after some point of the history.',
  })
  @ApiInput({ params: PursuanceParams, body: NoBody, bodyRequired: false })
  public async attestSnapshot(@Param(valid.params(PursuanceParams)) p: PursuanceParamsDto, @Body(valid.body(NoBody)) _: NoBodyDto) {
    return eventRef(await this.commands.execute(new AttestSnapshotCommand(p.id)));
  }

  @Post('pursuances/:id/succession/nominations')
  @ApiOperation({ summary: 'Nominate a member to become a founder (founders only)' })
  @ApiInput({ params: PursuanceParams, body: NominateBody })
  public async nominate(@Param(valid.params(PursuanceParams)) p: PursuanceParamsDto, @Body(valid.body(NominateBody)) b: NominateBodyDto) {
    return eventRef(await this.commands.execute(new NominateFounderCommand(p.id, b.candidate)));
  }

  @Post('pursuances/:id/succession/nominations/:eventId/endorse')
  @ApiOperation({ summary: 'Endorse an open nomination (founders only, once each)' })
  @ApiInput({ params: NominationParams, body: NoBody, bodyRequired: false })
  public async endorse(@Param(valid.params(NominationParams)) p: NominationParamsDto, @Body(valid.body(NoBody)) _: NoBodyDto) {
    return eventRef(await this.commands.execute(new EndorseNominationCommand(p.id, p.eventId as EventId)));
  }

  @Post('pursuances/:id/succession/nominations/:eventId/claim')
  @ApiOperation({ summary: 'Claim your own nomination after the founders have been inactive (the nominee only)' })
  @ApiInput({ params: NominationParams, body: NoBody, bodyRequired: false })
  public async claim(@Param(valid.params(NominationParams)) p: NominationParamsDto, @Body(valid.body(NoBody)) _: NoBodyDto) {
    return eventRef(await this.commands.execute(new ClaimNominationCommand(p.id, p.eventId as EventId)));
  }

  @Get('pursuances/:id/tasks')
  @ServedWhileStarting()
  @ApiOperation({
    summary: 'The task list (ordered by creation time, ties by id), without histories: whole, or in pages',
    description: `Without \`limit\`: every task, as an array, oldest first. With \`limit\` (1–${TASK_PAGE_MAX}): one page, \`{ tasks, next }\`, newest first (what a board shows at the top of its columns): the newest tasks without \`after\`, else those older than the cursor; \`next\` is the cursor to pass as \`after\` for the page after it, null on the last page. A cursor is a position in the list's order, so a page is right even when the task it was taken from changed meanwhile; a board fetched in pages is kept current as a whole one is (GET …/changes since the version read before the first page).`,
  })
  @ApiInput({ params: PursuanceParams, query: TasksQueryString })
  public async tasks(
    @Param(valid.params(PursuanceParams)) p: PursuanceParamsDto,
    @Query(valid.query(TasksQueryString)) q: TasksQueryStringDto,
    @Res({ passthrough: true }) res: Response,
  ) {
    const list = await this.queries.execute(new ListTasksQuery(p.id, q.limit === undefined ? undefined : { limit: q.limit, after: q.after ?? null }));
    res.type('application/json');
    return list.text;
  }

  @Post('pursuances/:id/tasks')
  @ApiInput({ params: PursuanceParams, body: CreateTaskBody })
  public async createTask(@Param(valid.params(PursuanceParams)) p: PursuanceParamsDto, @Body(valid.body(CreateTaskBody)) b: CreateTaskBodyDto) {
    const task: NewTask = { ...b, parent: (b.parent ?? null) as EventId | null };
    const e = await this.commands.execute(new CreateTaskCommand(p.id, task));
    return this.queries.execute(new GetTaskQuery(p.id, e.id));
  }

  @Post('pursuances/:id/submissions')
  @ApiOperation({ summary: 'Send a write-only submission (a tip) to an audience role you may submit to without holding it' })
  @ApiInput({ params: PursuanceParams, body: SubmitBody })
  public async submitTip(@Param(valid.params(PursuanceParams)) p: PursuanceParamsDto, @Body(valid.body(SubmitBody)) b: SubmitBodyDto) {
    const e = await this.commands.execute(new SubmitCommand(p.id, b.audience, { title: b.title, ...(b.body !== undefined ? { body: b.body } : {}) }));
    return this.queries.execute(new GetTaskQuery(p.id, e.id));
  }

  @Get('pursuances/:id/tasks/:taskId')
  @ServedWhileStarting()
  @ApiInput({ params: TaskParams })
  public task(@Param(valid.params(TaskParams)) p: TaskParamsDto) {
    return this.queries.execute(new GetTaskQuery(p.id, p.taskId));
  }

  @Post('pursuances/:id/tasks/:taskId/changes')
  @ApiInput({ params: TaskParams, body: TaskChangeBody })
  public async changeTask(@Param(valid.params(TaskParams)) p: TaskParamsDto, @Body(valid.body(TaskChangeBody)) change: TaskChangeBodyDto) {
    const e = await this.commands.execute(new ChangeTaskCommand(p.id, p.taskId as EventId, change as TaskChange));
    return eventRef(e);
  }

  @Get('pursuances/:id/feed')
  @ServedWhileStarting()
  @ApiInput({ params: PursuanceParams, query: FeedQueryString })
  public feed(@Param(valid.params(PursuanceParams)) p: PursuanceParamsDto, @Query(valid.query(FeedQueryString)) q: FeedQueryStringDto) {
    return this.queries.execute(new FeedQuery(p.id, q.limit ?? 200));
  }

  @Get('pursuances/:id/rejections')
  @ServedWhileStarting()
  @ApiInput({ params: PursuanceParams })
  public rejections(@Param(valid.params(PursuanceParams)) p: PursuanceParamsDto) {
    return this.queries.execute(new RejectionsQuery(p.id));
  }

  @Get('pursuances/:id/own-rejections')
  @ApiOperation({
    summary: 'Your own events refused after a race',
    description:
      'Events this member signed that every replica now refuses because a concurrent event was ordered before them (a lost race), newest first, with the reason and what this node did: re-sent as a new event where that is safe, or not. Losses already in the log when the node started are listed as `earlier` and never re-sent. Changes arrive as `changed` server-sent events.',
  })
  @ApiInput({ params: PursuanceParams })
  @ApiOkResponse({ schema: { type: 'array', items: responseSchema(OwnRejectionDoc).schema } })
  @ApiConflictResponse({ description: 'the pursuance is quarantined on this node', ...responseSchema(QuarantinedDoc) })
  public ownRejections(@Param(valid.params(PursuanceParams)) p: PursuanceParamsDto) {
    return this.queries.execute(new OwnRejectionsQuery(p.id));
  }

  @Get('quarantine')
  @ApiOperation({
    summary: 'Pursuances and stored events set aside at start-up',
    description:
      'A pursuance that could not be rebuilt from the event store is quarantined: the node runs without it, and every route for it answers 409 PURSUANCE_QUARANTINED. A stored event that could not be taken into its log is quarantined alone (its bytes stay stored). POST /api/admin/rebuild tries again.',
  })
  @ApiOkResponse(responseSchema(QuarantineDoc))
  public quarantine() {
    return this.queries.execute(new QuarantineQuery());
  }

  /** Raw signed events (base64): what a member hands a newcomer before group sync exists for them. */
  @Get('pursuances/:id/events')
  @ApiInput({ params: PursuanceParams })
  public events(@Param(valid.params(PursuanceParams)) p: PursuanceParamsDto) {
    const entry = this.registry.get(p.id);
    return { events: entry.log.order().map((eid) => toBase64(entry.log.event(eid)!.bytes)) };
  }

  /**
   * Import signed events. All or nothing as to their form: a batch holding anything that is
   * not a signed event of this very pursuance (pasted garbage, a cut-off export, another
   * pursuance's events) is refused whole, before anything is stored. Events that are well
   * formed but refused by the rules are kept with their reason, as from the group.
   */
  @Post('pursuances/:id/events')
  @HttpCode(200)
  @ApiInput({ params: PursuanceParams, body: EventsBody })
  public async ingest(@Param(valid.params(PursuanceParams)) p: PursuanceParamsDto, @Body(valid.body(EventsBody)) b: EventsBodyDto) {
    b.events.forEach((bytes, i) => checkImported(p.id, bytes, i));
    return this.commands.execute(new IngestEventsCommand(p.id, b.events, 'import'));
  }

  @Post('admin/rebuild')
  @HttpCode(200)
  @ApiInput({ body: NoBody, bodyRequired: false })
  public rebuild(@Body(valid.body(NoBody)) _: NoBodyDto) {
    return this.commands.execute(new RebuildProjectionsCommand());
  }
}

/**
 * Why attaching a just-created pursuance failed, as the client would have been told by the
 * attach route itself; an unexpected failure is logged like any other, and named plainly.
 */
function attachFailure(err: unknown): { code: string; message: string } {
  const answer = answerFor(err);
  if (answer) return { code: answer.body.code, message: answer.body.message };
  process.stderr.write(`node: unexpected error attaching a new pursuance: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return { code: 'ATTACH_FAILED', message: 'The pursuance was created, but attaching it to the relay failed. Try again from its health page.' };
}

/** One imported event must decode as a signed event, and belong to the pursuance it is imported into. */
function checkImported(pursuanceId: string, bytes: Uint8Array, index: number): void {
  const field = `events.${index}`;
  let event: SignedEvent;
  try {
    event = decodeEvent(bytes);
  } catch (err) {
    if (!(err instanceof EventRejectedError)) throw err;
    throw new RequestValidationError('body', [{ field, message: 'is not a signed pursuance event (it may be cut short or altered)' }]);
  }
  if ((event.pursuanceId ?? event.id) !== pursuanceId) throw new RequestValidationError('body', [{ field, message: 'is an event of another pursuance' }]);
}
