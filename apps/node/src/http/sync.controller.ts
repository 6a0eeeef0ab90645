import { Body, Controller, Get, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { PursuanceRegistry } from '../domain/registry.js';
import { ListRelaysQuery } from '../queries/queries.js';
import {
  AcceptInviteCommand,
  AddMirrorCommand,
  AttachRelayCommand,
  DropMirrorCommand,
  InviteContactCommand,
  MoveRelayToCommand,
} from '../sync/sync.handlers.js';
import { SyncService } from '../sync/sync.service.js';
import {
  AcceptInviteBody,
  InviteContactBody,
  PursuanceParams,
  RelayBundleBody,
  type PursuanceParamsDto,
  type RelayBundleBodyDto,
  type InviteContactBodyDto,
  type AcceptInviteBodyDto,
} from './schemas.js';
import { ApiInput, responseSchema, valid } from './validation.js';

const RelayDoc = z.object({
  boardOnion: z.string(),
  bundle: z.string().describe('the key bundle pinned on first use: pass it as `relay` to POST /api/pursuances, or to relay/attach'),
  pursuances: z.array(z.object({ id: z.string(), name: z.string() })).describe('pursuances this node syncs through this relay'),
  synced: z.boolean().describe('connected, replay done, live (a relay no pursuance uses is not connected)'),
  lastSyncAt: z.number().nullable(),
  lastDown: z.object({ at: z.number(), code: z.string().nullable() }).nullable(),
});

/** Group sync over Cwtch: relay attachment, invites, joining, and sync health. */
@ApiTags('sync')
@ApiBearerAuth()
@Controller('api')
export class SyncController {
  public constructor(
    @Inject(CommandBus) private readonly commands: CommandBus,
    @Inject(QueryBus) private readonly queries: QueryBus,
    @Inject(SyncService) private readonly sync: SyncService,
    @Inject(PursuanceRegistry) private readonly registry: PursuanceRegistry,
  ) {}

  @Get('relays')
  @ApiOperation({
    summary: 'The relays this node has used',
    description: 'Every relay this node has pinned (by attaching, creating on it, or joining through an invite that names it), the ones in use first.',
  })
  @ApiOkResponse({ schema: { type: 'array', items: responseSchema(RelayDoc).schema } })
  public relays() {
    return this.queries.execute(new ListRelaysQuery());
  }

  @Post('pursuances/:id/relay/attach')
  @HttpCode(200)
  @ApiInput({ params: PursuanceParams, body: RelayBundleBody })
  public attach(@Param(valid.params(PursuanceParams)) p: PursuanceParamsDto, @Body(valid.body(RelayBundleBody)) b: RelayBundleBodyDto) {
    this.registry.get(p.id);
    return this.commands.execute(new AttachRelayCommand(p.id, b.bundle));
  }

  @Post('pursuances/:id/relay/move')
  @HttpCode(200)
  @ApiInput({ params: PursuanceParams, body: RelayBundleBody })
  public move(@Param(valid.params(PursuanceParams)) p: PursuanceParamsDto, @Body(valid.body(RelayBundleBody)) b: RelayBundleBodyDto) {
    this.registry.get(p.id);
    return this.commands.execute(new MoveRelayToCommand(p.id, b.bundle));
  }

  @Post('pursuances/:id/relay/mirrors')
  @HttpCode(200)
  @ApiInput({ params: PursuanceParams, body: RelayBundleBody })
  public addMirror(@Param(valid.params(PursuanceParams)) p: PursuanceParamsDto, @Body(valid.body(RelayBundleBody)) b: RelayBundleBodyDto) {
    this.registry.get(p.id);
    return this.commands.execute(new AddMirrorCommand(p.id, b.bundle));
  }

  @Post('pursuances/:id/relay/mirrors/drop')
  @HttpCode(200)
  @ApiInput({ params: PursuanceParams, body: RelayBundleBody })
  public dropMirror(@Param(valid.params(PursuanceParams)) p: PursuanceParamsDto, @Body(valid.body(RelayBundleBody)) b: RelayBundleBodyDto) {
    this.registry.get(p.id);
    return this.commands.execute(new DropMirrorCommand(p.id, b.bundle));
  }

  @Get('pursuances/:id/invite')
  @ApiInput({ params: PursuanceParams })
  public invite(@Param(valid.params(PursuanceParams)) p: PursuanceParamsDto) {
    this.registry.get(p.id);
    return { invite: this.sync.invite(p.id) };
  }

  @Post('pursuances/:id/invites')
  @HttpCode(202)
  @ApiInput({ params: PursuanceParams, body: InviteContactBody })
  public async inviteContact(@Param(valid.params(PursuanceParams)) p: PursuanceParamsDto, @Body(valid.body(InviteContactBody)) b: InviteContactBodyDto) {
    this.registry.get(p.id);
    await this.commands.execute(new InviteContactCommand(p.id, b.onion));
    return { queued: true };
  }

  @Post('invites/accept')
  @HttpCode(200)
  @ApiInput({ body: AcceptInviteBody })
  public accept(@Body(valid.body(AcceptInviteBody)) b: AcceptInviteBodyDto) {
    return this.commands.execute(new AcceptInviteCommand(b.invite));
  }

  @Get('pursuances/:id/sync')
  @ApiInput({ params: PursuanceParams })
  public status(@Param(valid.params(PursuanceParams)) p: PursuanceParamsDto) {
    this.registry.get(p.id);
    return this.sync.status(p.id);
  }
}
