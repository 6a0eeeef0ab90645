import { Controller, Get, Inject, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ChangeFeed, FEED_LIMIT, type PursuanceChanges } from '../domain/changes.js';
import { ChangesQueryString, PursuanceParams, type ChangesQueryStringDto, type PursuanceParamsDto } from './schemas.js';
import { ApiInput, valid } from './validation.js';

/** Incremental reads: what changed in a pursuance since a version, for clients that keep its lists. */
@ApiTags('pursuances')
@ApiBearerAuth()
@Controller('api')
export class ChangesController {
  public constructor(@Inject(ChangeFeed) private readonly feed: ChangeFeed) {}

  @Get('pursuances/:id/changes')
  @ApiOperation({
    summary: 'What changed since a version',
    description: `The tasks that changed since \`since\` (each whole, exactly as GET …/tasks lists it for you: sealed ones you cannot read stay sealed) and the ids of tasks gone; the members and the roles when they changed (whole lists, else null); the feed's new items, newest first, or with \`full\` the whole feed (${FEED_LIMIT} items) when older items changed too. \`version\` is the version to ask from next; the live stream's \`changed\` event carries it too. Without \`since\`, or with a version this node never gave, no longer remembers (it keeps the last few hundred) or gave before it restarted, the answer has \`reset: true\`: fetch the lists again.`,
  })
  @ApiInput({ params: PursuanceParams, query: ChangesQueryString })
  public changes(
    @Param(valid.params(PursuanceParams)) p: PursuanceParamsDto,
    @Query(valid.query(ChangesQueryString)) q: ChangesQueryStringDto,
  ): PursuanceChanges {
    return this.feed.changesSince(p.id, q.since);
  }
}
