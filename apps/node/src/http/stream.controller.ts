import { Controller, Inject, Sse, type MessageEvent } from '@nestjs/common';
import { EventBus, ofType } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { interval, map, merge, type Observable } from 'rxjs';
import { NetworkStatusEvent, ProgressEvent, PursuanceChangedEvent, SyncHealthEvent } from '../events.js';

/**
 * Server-sent events: `changed` when a pursuance gained events (the dashboard refetches),
 * `sync` when its sync health changed (relay link, gaps; the dashboard refetches the sync
 * status), `network` with the node's tor status whenever it changes (down, up, bootstrap), `progress` for long jobs (replay, resync), and a `ping` every 15 s to keep proxies and the
 * browser from timing the stream out. EventSource cannot send headers, so this route takes
 * the token as a query parameter (see SecurityGuard).
 */
@ApiTags('live')
@ApiBearerAuth()
@Controller('api')
export class StreamController {
  public constructor(@Inject(EventBus) private readonly events: EventBus) {}

  @Sse('stream')
  public stream(): Observable<MessageEvent> {
    const changed = this.events.pipe(
      ofType(PursuanceChangedEvent),
      map((e) => ({ type: 'changed', data: { pursuanceId: e.pursuanceId, events: e.eventIds, origin: e.origin } })),
    );
    const progress = this.events.pipe(
      ofType(ProgressEvent),
      map((e) => ({ type: 'progress', data: { job: e.job, pursuanceId: e.pursuanceId, done: e.done, total: e.total } })),
    );
    const health = this.events.pipe(
      ofType(SyncHealthEvent),
      map((e) => ({ type: 'sync', data: { pursuanceId: e.pursuanceId } })),
    );
    const network = this.events.pipe(
      ofType(NetworkStatusEvent),
      map((e) => ({ type: 'network', data: e.status })),
    );
    const ping = interval(15_000).pipe(map(() => ({ type: 'ping', data: {} })));
    return merge(changed, health, progress, network, ping);
  }
}
