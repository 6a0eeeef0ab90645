import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { JoinService } from '../sync/join.service.js';
import {
  ApproveJoinBody,
  JoinInviteBody,
  JoinInviteParams,
  NoBody,
  PursuanceParams,
  type ApproveJoinBodyDto,
  type JoinInviteBodyDto,
  type JoinInviteParamsDto,
  type NoBodyDto,
  type PursuanceParamsDto,
} from './schemas.js';
import { ApiInput, valid } from './validation.js';

/**
 * Joining by link. The inviting side: make a link (roles, pre-approval, expiry), list invites
 * with whoever asked on each, approve or refuse, revoke. The newcomer's side sends its request
 * through POST /api/invites/accept (which takes a link as well as a group invite) and follows
 * its requests here.
 */
@ApiTags('join')
@ApiBearerAuth()
@Controller('api')
export class JoinController {
  public constructor(@Inject(JoinService) private readonly joins: JoinService) {}

  @Post('pursuances/:id/join-invites')
  @HttpCode(201)
  @ApiOperation({
    summary: 'Make a join link',
    description:
      'A one-time link carrying the relay, the group and a secret. The link is in this answer only: the node keeps just a hash of its secret. Refused (422) when this node may not add a member with these roles.',
  })
  @ApiInput({ params: PursuanceParams, body: JoinInviteBody })
  public create(@Param(valid.params(PursuanceParams)) p: PursuanceParamsDto, @Body(valid.body(JoinInviteBody)) b: JoinInviteBodyDto) {
    return this.joins.createInvite(p.id, { roles: b.roles, preApproved: b.preApproved, expiresInHours: b.expiresInHours });
  }

  @Get('pursuances/:id/join-invites')
  @ApiOperation({ summary: 'Join invites made on this node, newest first, with whoever asked on each' })
  @ApiInput({ params: PursuanceParams })
  public list(@Param(valid.params(PursuanceParams)) p: PursuanceParamsDto) {
    return this.joins.invites(p.id);
  }

  @Delete('pursuances/:id/join-invites/:inviteId')
  @HttpCode(200)
  @ApiOperation({ summary: 'Revoke a join invite (a request waiting on it is refused)' })
  @ApiInput({ params: JoinInviteParams, body: NoBody, bodyRequired: false })
  public revoke(@Param(valid.params(JoinInviteParams)) p: JoinInviteParamsDto, @Body(valid.body(NoBody)) _: NoBodyDto) {
    return this.joins.revoke(p.id, p.inviteId);
  }

  @Post('pursuances/:id/join-invites/:inviteId/approve')
  @HttpCode(200)
  @ApiOperation({ summary: 'Let the newcomer who asked in: signs their member.add and hands them the group' })
  @ApiInput({ params: JoinInviteParams, body: ApproveJoinBody, bodyRequired: false })
  public approve(@Param(valid.params(JoinInviteParams)) p: JoinInviteParamsDto, @Body(valid.body(ApproveJoinBody)) b: ApproveJoinBodyDto) {
    return this.joins.approve(p.id, p.inviteId, b.roles);
  }

  @Post('pursuances/:id/join-invites/:inviteId/refuse')
  @HttpCode(200)
  @ApiOperation({ summary: 'Refuse the newcomer who asked (they are told)' })
  @ApiInput({ params: JoinInviteParams, body: NoBody, bodyRequired: false })
  public refuse(@Param(valid.params(JoinInviteParams)) p: JoinInviteParamsDto, @Body(valid.body(NoBody)) _: NoBodyDto) {
    return this.joins.refuse(p.id, p.inviteId);
  }

  @Get('join-requests')
  @ApiOperation({ summary: 'The join requests this node sent by link, newest first, with the answer so far' })
  public requests() {
    return this.joins.requests();
  }
}
