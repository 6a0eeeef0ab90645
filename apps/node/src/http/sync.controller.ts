import { Body, Controller, Get, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiBody, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { PursuanceRegistry } from '../domain/registry.js';
import { AcceptInviteCommand, AttachRelayCommand, InviteContactCommand, MoveRelayToCommand } from '../sync/sync.handlers.js';
import { SyncService } from '../sync/sync.service.js';
import { Onion } from './schemas.js';

const AttachBody = z.strictObject({ bundle: z.string().min(1).max(4096) });
const InviteBody = z.strictObject({ onion: Onion });
const AcceptBody = z.strictObject({ invite: z.string().min(1).max(16_384) });
const schema = (s: z.ZodType) => ({ schema: z.toJSONSchema(s, { io: 'input' }) as Record<string, unknown> });

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
  @ApiBody(schema(AttachBody))
  public attach(@Param('id') id: string, @Body() body: unknown) {
    this.registry.get(id);
    return this.commands.execute(new AttachRelayCommand(id, AttachBody.parse(body).bundle));
  }

  @Post('pursuances/:id/relay/move')
  @HttpCode(200)
  @ApiBody(schema(AttachBody))
  public move(@Param('id') id: string, @Body() body: unknown) {
    this.registry.get(id);
    return this.commands.execute(new MoveRelayToCommand(id, AttachBody.parse(body).bundle));
  }

  @Get('pursuances/:id/invite')
  public invite(@Param('id') id: string) {
    this.registry.get(id);
    return { invite: this.sync.invite(id) };
  }

  @Post('pursuances/:id/invites')
  @HttpCode(202)
  @ApiBody(schema(InviteBody))
  public async inviteContact(@Param('id') id: string, @Body() body: unknown) {
    this.registry.get(id);
    await this.commands.execute(new InviteContactCommand(id, InviteBody.parse(body).onion));
    return { queued: true };
  }

  @Post('invites/accept')
  @HttpCode(200)
  @ApiBody(schema(AcceptBody))
  public accept(@Body() body: unknown) {
    return this.commands.execute(new AcceptInviteCommand(AcceptBody.parse(body).invite));
  }

  @Get('pursuances/:id/sync')
  public status(@Param('id') id: string) {
    this.registry.get(id);
    return this.sync.status(id);
  }
}
