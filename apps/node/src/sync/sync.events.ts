import { errorCode } from '../domain/errors.js';
import { Inject, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { EventBus, EventsHandler, type IEventHandler } from '@nestjs/cqrs';
import { InvitesChangedEvent, PursuanceChangedEvent, SyncHealthEvent } from '../events.js';
import { JoinService } from './join.service.js';
import { AdmissionService } from './admission.service.js';
import { LinkService } from './link.service.js';
import { SyncService } from './sync.service.js';

/**
 * The sync service's one way to hear of a pursuance gaining events: the CQRS event bus, the
 * same channel the live stream reads. A local event is posted to the pursuance's group, a
 * non-member's is passed on (see SyncService.changed).
 */
@EventsHandler(PursuanceChangedEvent)
export class SyncOnPursuanceChanged implements IEventHandler<PursuanceChangedEvent> {
  readonly #logger = new Logger('SyncService');
  public constructor(@Inject(SyncService) private readonly sync: SyncService) {}

  public handle(event: PursuanceChangedEvent): void {
    // The bus would log a thrown error whole (its message may quote payloads); a failure here
    // is logged by code only, and the next change is handled as usual.
    try {
      this.sync.changed(event);
    } catch (err) {
      this.#logger.error(`reacting to a change of pursuance ${event.pursuanceId} failed (${errorCode(err)})`);
    }
  }
}

/** Publishes each change of sync health (relay link, gaps) on the event bus, for the live stream. */
export class SyncHealthPublisher implements OnApplicationBootstrap, OnModuleDestroy {
  #off: (() => void) | undefined;
  public constructor(
    @Inject(SyncService) private readonly sync: SyncService,
    @Inject(EventBus) private readonly events: EventBus,
  ) {}
  public onApplicationBootstrap(): void {
    this.#off = this.sync.onHealth((pursuanceId) => {
      this.events.publish(new SyncHealthEvent(pursuanceId));
    });
  }
  public onModuleDestroy(): void {
    this.#off?.();
  }
}

/** Publishes each change of join invites or of this node's join requests on the event bus, for the live stream. */
export class JoinChangePublisher implements OnApplicationBootstrap, OnModuleDestroy {
  #off: (() => void) | undefined;
  public constructor(
    @Inject(JoinService) private readonly joins: JoinService,
    @Inject(EventBus) private readonly events: EventBus,
  ) {}
  public onApplicationBootstrap(): void {
    this.#off = this.joins.onChange((pursuanceId) => {
      this.events.publish(new InvitesChangedEvent(pursuanceId));
    });
  }
  public onModuleDestroy(): void {
    this.#off?.();
  }
}

/** Joining by request changed (a pursuance's review inbox, or this node's own requests: null): the dashboard hears it as `invites`. */
export class AdmissionChangePublisher implements OnApplicationBootstrap, OnModuleDestroy {
  #off: (() => void) | undefined;
  public constructor(
    @Inject(AdmissionService) private readonly admission: AdmissionService,
    @Inject(EventBus) private readonly events: EventBus,
  ) {}
  public onApplicationBootstrap(): void {
    this.#off = this.admission.onChange((pursuanceId) => {
      this.events.publish(new InvitesChangedEvent(pursuanceId));
    });
  }
  public onModuleDestroy(): void {
    this.#off?.();
  }
}

/** Links of a pursuance changed beyond its log (announced, refused, waiting to be posted): the dashboard hears it as sync health. */
export class LinkChangePublisher implements OnApplicationBootstrap, OnModuleDestroy {
  #off: (() => void) | undefined;
  public constructor(
    @Inject(LinkService) private readonly links: LinkService,
    @Inject(EventBus) private readonly events: EventBus,
  ) {}
  public onApplicationBootstrap(): void {
    this.#off = this.links.onChange((pursuanceId) => {
      this.events.publish(new SyncHealthEvent(pursuanceId));
    });
  }
  public onModuleDestroy(): void {
    this.#off?.();
  }
}
