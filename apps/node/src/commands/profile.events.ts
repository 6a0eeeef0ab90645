import { errorCode } from '../domain/errors.js';
import { Inject, Logger } from '@nestjs/common';
import { EventsHandler, type IEventHandler } from '@nestjs/cqrs';
import { ProfileService } from '../domain/profile.js';
import { PursuanceChangedEvent, SyncHealthEvent } from '../events.js';
import { SyncService } from '../sync/sync.service.js';

/**
 * A newcomer's node names itself once it is caught up in a pursuance it joined: the adder may
 * have typed another name, or none. "Caught up" is the relay's replay done (or no group at all:
 * events imported by hand), so the rename is signed on top of the history rather than beside
 * it. Both notices can complete that picture: new events from the group, or the relay's
 * replay finishing (a sync health change).
 */
@EventsHandler(PursuanceChangedEvent, SyncHealthEvent)
export class FollowProfileName implements IEventHandler<PursuanceChangedEvent | SyncHealthEvent> {
  readonly #logger = new Logger('ProfileService');
  public constructor(
    @Inject(ProfileService) private readonly profile: ProfileService,
    @Inject(SyncService) private readonly sync: SyncService,
  ) {}

  public handle(event: PursuanceChangedEvent | SyncHealthEvent): void {
    // Our own events teach us nothing new about our name there.
    if (event instanceof PursuanceChangedEvent && event.origin === 'local') return;
    const id = event.pursuanceId;
    this.profile
      .follow(id, () => {
        const status = this.sync.status(id);
        return status.groupId === null || status.relaySynced;
      })
      .catch((err: unknown) => {
        this.#logger.error(`naming this node in pursuance ${id} failed (${errorCode(err)})`);
      });
  }
}
