import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdmissionService } from '../sync/admission.service.js';
import {
  AdmitBody,
  DeclineBody,
  JoinRequestParams,
  NoBody,
  ProfileTextBody,
  PublishProfileBody,
  PursuanceParams,
  SendJoinRequestBody,
  type AdmitBodyDto,
  type DeclineBodyDto,
  type JoinRequestParamsDto,
  type NoBodyDto,
  type ProfileTextBodyDto,
  type PublishProfileBodyDto,
  type PursuanceParamsDto,
  type SendJoinRequestBodyDto,
} from './schemas.js';
import { ApiInput, valid } from './validation.js';

/**
 * Joining by request. A pursuance's side: publish or withdraw its public profile, review the
 * requests its inbox brought (with what was dropped unread, by reason), admit or decline. A
 * stranger's side: preview a pasted profile, send a request, follow the answers.
 */
@ApiTags('admission')
@ApiBearerAuth()
@Controller('api')
export class AdmissionController {
  public constructor(@Inject(AdmissionService) private readonly admission: AdmissionService) {}

  @Post('pursuances/:id/profile')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Publish the public profile (where strangers ask to join)',
    description:
      "Signed with the current key of `role` (one you hold): its holders read the requests. The inbox is a drop box on a relay (the current one, else the pursuance's relay, unless `relay` names another). Refused (422) without the right to invite.",
  })
  @ApiInput({ params: PursuanceParams, body: PublishProfileBody })
  public publish(@Param(valid.params(PursuanceParams)) p: PursuanceParamsDto, @Body(valid.body(PublishProfileBody)) b: PublishProfileBodyDto) {
    return this.admission.publish(p.id, b);
  }

  @Get('pursuances/:id/profile')
  @ApiOperation({ summary: 'The public profile, with its text to share (null when none is published)' })
  @ApiInput({ params: PursuanceParams })
  public profile(@Param(valid.params(PursuanceParams)) p: PursuanceParamsDto) {
    return { profile: this.admission.profile(p.id) };
  }

  @Delete('pursuances/:id/profile')
  @HttpCode(200)
  @ApiOperation({ summary: 'Withdraw the public profile (requests to it are no longer read)' })
  @ApiInput({ params: PursuanceParams, body: NoBody, bodyRequired: false })
  public async withdraw(@Param(valid.params(PursuanceParams)) p: PursuanceParamsDto, @Body(valid.body(NoBody)) _: NoBodyDto) {
    await this.admission.withdraw(p.id);
    return { profile: null };
  }

  @Get('pursuances/:id/join-requests')
  @ApiOperation({ summary: "Requests to join in this node's review inbox (most work first), and what was dropped unread" })
  @ApiInput({ params: PursuanceParams })
  public inbox(@Param(valid.params(PursuanceParams)) p: PursuanceParamsDto) {
    return this.admission.inbox(p.id);
  }

  @Post('pursuances/:id/join-requests/:requestId/admit')
  @HttpCode(200)
  @ApiOperation({ summary: 'Admit the applicant: signs their member.add and hands them the group over p2p' })
  @ApiInput({ params: JoinRequestParams, body: AdmitBody, bodyRequired: false })
  public admit(@Param(valid.params(JoinRequestParams)) p: JoinRequestParamsDto, @Body(valid.body(AdmitBody)) b: AdmitBodyDto) {
    return this.admission.admit(p.id, p.requestId, b.roles);
  }

  @Post('pursuances/:id/join-requests/:requestId/decline')
  @HttpCode(200)
  @ApiOperation({ summary: 'Decline (the applicant is told, signed by the role), and optionally block them' })
  @ApiInput({ params: JoinRequestParams, body: DeclineBody, bodyRequired: false })
  public decline(@Param(valid.params(JoinRequestParams)) p: JoinRequestParamsDto, @Body(valid.body(DeclineBody)) b: DeclineBodyDto) {
    return this.admission.decline(p.id, p.requestId, b);
  }

  @Post('join-profile/preview')
  @HttpCode(200)
  @ApiOperation({ summary: 'Read a pasted pursuance profile (checked: signature, key, expiry)' })
  @ApiInput({ body: ProfileTextBody })
  public preview(@Body(valid.body(ProfileTextBody)) b: ProfileTextBodyDto) {
    return this.admission.preview(b.profile);
  }

  @Post('join-profile/requests')
  @HttpCode(201)
  @ApiOperation({
    summary: 'Ask to join through a profile',
    description: 'Answers its questions, does the proof of work it asks, and posts the request to its inbox as nobody. Resolves once the relay holds it.',
  })
  @ApiInput({ body: SendJoinRequestBody })
  public request(@Body(valid.body(SendJoinRequestBody)) b: SendJoinRequestBodyDto) {
    return this.admission.request(b.profile, { name: b.name, answers: b.answers, vouch: b.vouch });
  }

  @Get('join-profile/requests')
  @ApiOperation({ summary: 'Requests this node sent through profiles, newest first, with the answer so far' })
  public sent() {
    return this.admission.sent();
  }
}
