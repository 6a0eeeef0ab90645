import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { LinkService } from '../sync/link.service.js';
import {
  LinkOfferBody,
  LinkOfferTextBody,
  LinkParams,
  LinkTaskBody,
  NoBody,
  OpenLinkBody,
  PursuanceParams,
  VouchBody,
  type LinkOfferBodyDto,
  type LinkOfferTextBodyDto,
  type LinkParamsDto,
  type LinkTaskBodyDto,
  type NoBodyDto,
  type OpenLinkBodyDto,
  type PursuanceParamsDto,
  type VouchBodyDto,
} from './schemas.js';
import { ApiInput, valid } from './validation.js';

/**
 * Links between pursuances. Each side makes an offer (its anchor key and an inbox) and gives its
 * text to the other, who previews it (compare the key id with them out of band), then opens the
 * link with the role mapping; a holder of a sending role then sends tasks over it.
 */
@ApiTags('links')
@ApiBearerAuth()
@Controller('api/pursuances/:id/links')
export class LinksController {
  public constructor(@Inject(LinkService) private readonly links: LinkService) {}

  @Get()
  @ApiOperation({ summary: "This pursuance's links: the mapping, their keys as announced, and what arrived and was refused" })
  @ApiInput({ params: PursuanceParams })
  public list(@Param(valid.params(PursuanceParams)) p: PursuanceParamsDto) {
    return this.links.links(p.id);
  }

  @Post('offers')
  @HttpCode(201)
  @ApiOperation({
    summary: 'Make an offer to link another pursuance (its text goes to them)',
    description:
      "Signed by the current key of `anchor` (one you hold), with a new inbox for this link: a drop box on the pursuance's relay unless `relay` names another.",
  })
  @ApiInput({ params: PursuanceParams, body: LinkOfferBody })
  public offer(@Param(valid.params(PursuanceParams)) p: PursuanceParamsDto, @Body(valid.body(LinkOfferBody)) b: LinkOfferBodyDto) {
    return this.links.offer(p.id, b);
  }

  @Get('offers')
  @ApiOperation({ summary: 'Offers made from this node, newest first' })
  @ApiInput({ params: PursuanceParams })
  public offers(@Param(valid.params(PursuanceParams)) p: PursuanceParamsDto) {
    return this.links.offers(p.id);
  }

  @Post('preview')
  @HttpCode(200)
  @ApiOperation({ summary: "Read a pasted offer (checked: signatures, addressed to this pursuance, not expired) and its anchor's key id" })
  @ApiInput({ params: PursuanceParams, body: LinkOfferTextBody })
  public preview(@Param(valid.params(PursuanceParams)) p: PursuanceParamsDto, @Body(valid.body(LinkOfferTextBody)) b: LinkOfferTextBodyDto) {
    return this.links.preview(p.id, b.offer);
  }

  @Post()
  @HttpCode(201)
  @ApiOperation({
    summary: 'Open (or open again) the link from their offer, with the role mapping',
    description: 'Needs your own offer to them first (it names the inbox their nodes post to). Refused (422) without the right to change the rules.',
  })
  @ApiInput({ params: PursuanceParams, body: OpenLinkBody })
  public open(@Param(valid.params(PursuanceParams)) p: PursuanceParamsDto, @Body(valid.body(OpenLinkBody)) b: OpenLinkBodyDto) {
    return this.links.open(p.id, b);
  }

  @Delete(':peer')
  @HttpCode(200)
  @ApiOperation({ summary: 'Close the link (nothing more it carries is taken in)' })
  @ApiInput({ params: LinkParams, body: NoBody, bodyRequired: false })
  public async close(@Param(valid.params(LinkParams)) p: LinkParamsDto, @Body(valid.body(NoBody)) _: NoBodyDto) {
    await this.links.close(p.id, p.peer);
    return { closed: true };
  }

  @Post(':peer/tasks')
  @HttpCode(201)
  @ApiOperation({
    summary: 'Send a task over the link, for one of your roles to one of theirs',
    description: "Recorded here (link.send), then posted to their inbox; `posted: false` when their inbox's relay is unreachable (it is retried).",
  })
  @ApiInput({ params: LinkParams, body: LinkTaskBody })
  public send(@Param(valid.params(LinkParams)) p: LinkParamsDto, @Body(valid.body(LinkTaskBody)) b: LinkTaskBodyDto) {
    return this.links.send(p.id, p.peer, b);
  }

  @Post(':peer/vouches')
  @HttpCode(201)
  @ApiOperation({
    summary: 'Vouch for someone joining their pursuance by request, as one of your roles',
    description:
      'Signed by your current key of `role` (one the link tells them about); their gatekeepers ask less proof of work if their side of the link lets that role vouch. The text opens only for the applicant named, is good once, for 72 hours; nothing enters the log.',
  })
  @ApiInput({ params: LinkParams, body: VouchBody })
  public vouch(@Param(valid.params(LinkParams)) p: LinkParamsDto, @Body(valid.body(VouchBody)) b: VouchBodyDto) {
    return this.links.vouch(p.id, p.peer, b);
  }
}
