import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Put, Query } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiBody, ApiConflictResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { fromBase64, toBase64 } from '@pursuance/crypto';
import type { EventId, NewTask } from '@pursuance/pursuance';
import {
  AddMemberCommand,
  AssignRoleCommand,
  ChangeRulesCommand,
  ChangeTaskCommand,
  CreatePursuanceCommand,
  CreateTaskCommand,
  IngestEventsCommand,
  LeavePursuanceCommand,
  RebuildProjectionsCommand,
  RemoveMemberCommand,
  RemoveRoleCommand,
  RotateKeysCommand,
  ShareKeysCommand,
  type TaskChange,
} from '../commands/commands.js';
import { InvalidRequestError } from '../domain/errors.js';
import { PursuanceRegistry } from '../domain/registry.js';
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
} from '../queries/queries.js';
import {
  AddMemberBody,
  AssignRoleBody,
  ChangeRulesBody,
  CreatePursuanceBody,
  CreateTaskBody,
  EventsBody,
  Onion,
  RemoveMemberBody,
  RotateKeysBody,
  TaskChangeBody,
} from './schemas.js';

export const TEMPLATES = Symbol('TEMPLATES');
const schema = (s: z.ZodType) => ({ schema: z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown> });
const eventRef = (e: { id: string; header: { kind: string } }) => ({ id: e.id, kind: e.header.kind });
const responseSchema = (s: z.ZodType) => ({ schema: z.toJSONSchema(s, { io: 'output', unrepresentable: 'any' }) as Record<string, unknown> });

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
  public node() {
    return { onion: this.registry.identity.onion };
  }

  @Get('templates')
  public listTemplates() {
    return this.templates.map((t) => ({ id: t.id, rules: t.rules }));
  }

  @Get('pursuances')
  public list() {
    return this.queries.execute(new ListPursuancesQuery());
  }

  @Post('pursuances')
  @ApiBody(schema(CreatePursuanceBody))
  public async create(@Body() body: unknown) {
    const b = CreatePursuanceBody.parse(body);
    const rules = b.rules ?? this.templates.find((t) => t.id === b.template)?.rules;
    if (!rules) throw new InvalidRequestError('give `rules`, or the id of a template from GET /api/templates');
    const entry = await this.commands.execute(new CreatePursuanceCommand(b.name, b.description, rules));
    return this.queries.execute(new GetPursuanceQuery(entry.id));
  }

  @Get('pursuances/:id')
  public get(@Param('id') id: string) {
    return this.queries.execute(new GetPursuanceQuery(id));
  }

  @Get('pursuances/:id/members')
  public members(@Param('id') id: string) {
    return this.queries.execute(new ListMembersQuery(id));
  }

  @Post('pursuances/:id/members')
  @ApiBody(schema(AddMemberBody))
  public async addMember(@Param('id') id: string, @Body() body: unknown) {
    const b = AddMemberBody.parse(body);
    return eventRef(await this.commands.execute(new AddMemberCommand(id, b.onion, b.name, b.roles)));
  }

  @Delete('pursuances/:id/members/:onion')
  @ApiBody(schema(RemoveMemberBody))
  public async removeMember(@Param('id') id: string, @Param('onion') onion: string, @Body() body: unknown) {
    const b = RemoveMemberBody.parse(body ?? {});
    return eventRef(await this.commands.execute(new RemoveMemberCommand(id, Onion.parse(onion), b.reason)));
  }

  @Post('pursuances/:id/members/:onion/roles')
  @ApiBody(schema(AssignRoleBody))
  public async assignRole(@Param('id') id: string, @Param('onion') onion: string, @Body() body: unknown) {
    const b = AssignRoleBody.parse(body);
    return eventRef(await this.commands.execute(new AssignRoleCommand(id, Onion.parse(onion), b.role)));
  }

  @Delete('pursuances/:id/members/:onion/roles/:role')
  public async removeRole(@Param('id') id: string, @Param('onion') onion: string, @Param('role') role: string) {
    return eventRef(await this.commands.execute(new RemoveRoleCommand(id, Onion.parse(onion), role)));
  }

  @Post('pursuances/:id/leave')
  public async leave(@Param('id') id: string) {
    return eventRef(await this.commands.execute(new LeavePursuanceCommand(id)));
  }

  @Get('pursuances/:id/roles')
  public roles(@Param('id') id: string) {
    return this.queries.execute(new ListRolesQuery(id));
  }

  @Post('pursuances/:id/keys/rotate')
  @ApiBody(schema(RotateKeysBody))
  public async rotate(@Param('id') id: string, @Body() body: unknown) {
    return eventRef(await this.commands.execute(new RotateKeysCommand(id, RotateKeysBody.parse(body).roles)));
  }

  @Post('pursuances/:id/keys/share')
  public async share(@Param('id') id: string) {
    const e = await this.commands.execute(new ShareKeysCommand(id));
    return e ? eventRef(e) : { id: null, kind: null };
  }

  @Get('pursuances/:id/rules')
  public rules(@Param('id') id: string) {
    return this.queries.execute(new GetRulesQuery(id));
  }

  @Put('pursuances/:id/rules')
  @ApiBody(schema(ChangeRulesBody))
  public async changeRules(@Param('id') id: string, @Body() body: unknown) {
    return eventRef(await this.commands.execute(new ChangeRulesCommand(id, ChangeRulesBody.parse(body).rules)));
  }

  @Get('pursuances/:id/tasks')
  public tasks(@Param('id') id: string) {
    return this.queries.execute(new ListTasksQuery(id));
  }

  @Post('pursuances/:id/tasks')
  @ApiBody(schema(CreateTaskBody))
  public async createTask(@Param('id') id: string, @Body() body: unknown) {
    const b = CreateTaskBody.parse(body);
    const task: NewTask = { ...b, parent: (b.parent ?? null) as EventId | null };
    const e = await this.commands.execute(new CreateTaskCommand(id, task));
    return this.queries.execute(new GetTaskQuery(id, e.id));
  }

  @Get('pursuances/:id/tasks/:taskId')
  public task(@Param('id') id: string, @Param('taskId') taskId: string) {
    return this.queries.execute(new GetTaskQuery(id, taskId));
  }

  @Post('pursuances/:id/tasks/:taskId/changes')
  @ApiBody(schema(TaskChangeBody))
  public async changeTask(@Param('id') id: string, @Param('taskId') taskId: string, @Body() body: unknown) {
    const change = TaskChangeBody.parse(body) as TaskChange;
    const e = await this.commands.execute(new ChangeTaskCommand(id, taskId as EventId, change));
    return eventRef(e);
  }

  @Get('pursuances/:id/feed')
  public feed(@Param('id') id: string, @Query('limit') limit?: string) {
    const n = Math.min(Math.max(Number(limit ?? 200) || 200, 1), 5000);
    return this.queries.execute(new FeedQuery(id, n));
  }

  @Get('pursuances/:id/rejections')
  public rejections(@Param('id') id: string) {
    return this.queries.execute(new RejectionsQuery(id));
  }

  @Get('pursuances/:id/own-rejections')
  @ApiOperation({
    summary: 'Your own events refused after a race',
    description:
      'Events this member signed that every replica now refuses because a concurrent event was ordered before them (a lost race), newest first, with the reason and what this node did: re-sent as a new event where that is safe, or not. Losses already in the log when the node started are listed as `earlier` and never re-sent. Changes arrive as `changed` server-sent events.',
  })
  @ApiOkResponse({ schema: { type: 'array', items: responseSchema(OwnRejectionDoc).schema } })
  @ApiConflictResponse({ description: 'the pursuance is quarantined on this node', ...responseSchema(QuarantinedDoc) })
  public ownRejections(@Param('id') id: string) {
    return this.queries.execute(new OwnRejectionsQuery(id));
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
  public events(@Param('id') id: string) {
    const entry = this.registry.get(id);
    return { events: entry.log.order().map((eid) => toBase64(entry.log.event(eid)!.bytes)) };
  }

  @Post('pursuances/:id/events')
  @HttpCode(200)
  @ApiBody(schema(EventsBody))
  public async ingest(@Param('id') id: string, @Body() body: unknown) {
    const b = EventsBody.parse(body);
    return this.commands.execute(
      new IngestEventsCommand(
        id,
        b.events.map((s) => fromBase64(s)),
        'import',
      ),
    );
  }

  @Post('admin/rebuild')
  @HttpCode(200)
  public rebuild() {
    return this.commands.execute(new RebuildProjectionsCommand());
  }
}
