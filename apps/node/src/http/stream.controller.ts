import { Controller, Inject, Req, Sse, type MessageEvent, type OnModuleDestroy } from '@nestjs/common';
import { EventBus, ofType } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { ReplaySubject, interval, map, merge, takeUntil, type Observable } from 'rxjs';
import { ChangeFeed } from '../domain/changes.js';
import { PursuanceQuarantinedError, UnknownPursuanceError } from '../domain/errors.js';
import { InvitesChangedEvent, NetworkStatusEvent, ProgressEvent, PursuanceChangedEvent, SyncHealthEvent } from '../events.js';

const API = 'api';
const STREAM = 'stream';
/** The live stream's path: it stays open for as long as the dashboard is, so it is never "a response being sent" (serve.ts). */
export const LIVE_STREAM_PATH = `/${API}/${STREAM}`;

/** How long a stopping node waits for its streams' last bytes to be handed to the OS. */
const STREAM_END_PATIENCE_MS = 500;

/**
 * Server-sent events: `changed` when a pursuance gained events, with its new read-model version
 * (the dashboard asks GET …/changes for what changed since the version it holds),
 * `sync` when its sync health changed (relay link, gaps; the dashboard refetches the sync
 * status), `network` with the node's tor status whenever it changes (down, up, bootstrap), `invites` when
 * a pursuance's join invites (or, with a null id, this node's own join requests) change, `progress` for long jobs (replay, resync), and a `ping` every 15 s to keep proxies and the
 * browser from timing the stream out. EventSource cannot send headers, so this route takes
 * the token as a query parameter (see SecurityGuard).
 *
 * Every stream ends when the node stops: a dashboard tab left open must not hold a stopping
 * node. The first hook of close() completes them and waits (briefly: a client that reads
 * nothing gets no say) until each response has been ended, before the server drops its
 * connections: the dashboard sees the stream end rather than a broken connection.
 */
@ApiTags('live')
@ApiBearerAuth()
@Controller(API)
export class StreamController implements OnModuleDestroy {
  // Replays its one value: a stream asked for while the node is stopping ends at once.
  readonly #closing = new ReplaySubject<void>(1);

  /** Each open stream's response, settled once it has been ended (or its connection closed). */
  readonly #open = new Set<Promise<void>>();

  public constructor(
    @Inject(EventBus) private readonly events: EventBus,
    @Inject(ChangeFeed) private readonly feed: ChangeFeed,
  ) {}

  /** The pursuance's read-model version after a change (null if it is gone: quarantined by a rebuild). */
  #versionOf(pursuanceId: string): number | null {
    try {
      return this.feed.versionOf(pursuanceId);
    } catch (err) {
      // A stream must outlive one pursuance's fault: the client then refetches (null: no version).
      if (!(err instanceof UnknownPursuanceError || err instanceof PursuanceQuarantinedError))
        process.stderr.write(`node: comparing read-model versions failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      return null;
    }
  }

  public async onModuleDestroy(): Promise<void> {
    this.#closing.next();
    this.#closing.complete();
    let timer: NodeJS.Timeout | undefined;
    const patience = new Promise<void>((resolve) => (timer = setTimeout(resolve, STREAM_END_PATIENCE_MS)));
    await Promise.race([Promise.all(this.#open), patience]);
    clearTimeout(timer);
  }

  @Sse(STREAM)
  public stream(@Req() request: Request): Observable<MessageEvent> {
    const response = request.res;
    if (response && !response.writableFinished && !response.destroyed) {
      const ended = new Promise<void>((resolve) => {
        response.once('finish', resolve);
        response.once('close', resolve);
      });
      this.#open.add(ended);
      void ended.then(() => this.#open.delete(ended));
    }
    const changed = this.events.pipe(
      ofType(PursuanceChangedEvent),
      map((e) => ({ type: 'changed', data: { pursuanceId: e.pursuanceId, events: e.eventIds, origin: e.origin, version: this.#versionOf(e.pursuanceId) } })),
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
    const invites = this.events.pipe(
      ofType(InvitesChangedEvent),
      map((e) => ({ type: 'invites', data: { pursuanceId: e.pursuanceId } })),
    );
    const ping = interval(15_000).pipe(map(() => ({ type: 'ping', data: {} })));
    return merge(changed, health, progress, network, invites, ping).pipe(takeUntil(this.#closing));
  }
}
