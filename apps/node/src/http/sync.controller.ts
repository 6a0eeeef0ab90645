import { Body, Controller, Get, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { PursuanceRegistry } from '../domain/registry.js';
import { AcceptInviteCommand, AttachRelayCommand, InviteContactCommand, MoveRelayToCommand } from '../sync/sync.handlers.js';
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
import { ApiInput, valid } from './validation.js';

/** Group sync over Cwtch: relay attachment, invites, joining, and sync health. */
@ApiTags('sync')
@ApiBearerAuth()
@Controller('api')
export class SyncController {
  public constructor(
    @Inject(CommandBus) private readonly commands: CommandBus,
    @Inject(SyncService) private readonly sync: SyncService,
    @Inject(PursuanceRegistry) private readonly registry: PursuanceRegistry,
  ) {}

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
