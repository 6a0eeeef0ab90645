import { Global, Inject, Module, type DynamicModule, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { CqrsModule, EventBus } from '@nestjs/cqrs';
import { CommandHandlers } from './commands/handlers.js';
import { ChangeFeed } from './domain/changes.js';
import { FollowProfileName } from './commands/profile.events.js';
import { PROFILE, ProfileService, type ProfileSource } from './domain/profile.js';
import { PursuanceRegistry } from './domain/registry.js';
import { type ContactNames, SafetyService } from './domain/safety.js';
import type { RulesTemplate } from './domain/templates.js';
import { PursuanceChangedEvent } from './events.js';
import { HttpBinding } from './http/binding.js';
import { ErrorFilter } from './http/error.filter.js';
import { OPENAPI_DOCUMENT, OpenApiController, type OpenApiSource } from './http/openapi.controller.js';
import { ChangesController } from './http/changes.controller.js';
import { ContactsController } from './http/contacts.controller.js';
import { ProfileController } from './http/profile.controller.js';
import { PursuancesController, TEMPLATES } from './http/pursuances.controller.js';
import { SecurityGuard } from './http/security.guard.js';
import { StreamController } from './http/stream.controller.js';
import { SyncController } from './http/sync.controller.js';
import { QueryHandlers } from './queries/queries.js';
import { NETWORK, NetworkController, NetworkStatusPublisher, type NetworkSource } from './network/network-status.js';
import { JoinChangePublisher, AdmissionChangePublisher, LinkChangePublisher, SyncHealthPublisher, SyncOnPursuanceChanged } from './sync/sync.events.js';
import { SyncCommandHandlers } from './sync/sync.handlers.js';
import type { EventStore } from './store/event-store.js';
import { SyncService } from './sync/sync.service.js';
import { JoinService } from './sync/join.service.js';
import { AdmissionService } from './sync/admission.service.js';
import { AdmissionController } from './http/admission.controller.js';
import { LinksController } from './http/links.controller.js';
import { LinkService } from './sync/link.service.js';
import { JoinController } from './http/join.controller.js';

/** Everything the module needs that is created before Nest starts (store, unlocked identity…). */
export interface NodeRuntime {
  readonly registry: PursuanceRegistry;
  readonly binding: HttpBinding;
  readonly templates: RulesTemplate[];
  readonly openapi: OpenApiSource;
  readonly sync: SyncService;
  /** Joining by link (invites made here, requests sent from here). */
  readonly joins: JoinService;
  /** Joining by request (the public profile, its inbox; requests sent from here). */
  readonly admission: AdmissionService;
  /** Links between pursuances (offers, inboxes, announcements, tasks sent and carried in). */
  readonly links: LinkService;
  readonly network: NetworkSource;
  /** The node's display name (the Cwtch peer's). */
  readonly profile: ProfileSource;
  /** Where the safety-number checks are kept (the node's sealed store). */
  readonly store: EventStore;
  /** Names from the Cwtch contact book (the peer), for contacts in no pursuance. */
  readonly contacts: ContactNames;
}

/**
 * The registry's one listener in the node: every change goes onto the CQRS event bus as a
 * PursuanceChangedEvent, where the sync service and the live stream both take it from.
 * Subscribed at bootstrap, alongside the bus's handlers; start.ts lets no change happen
 * before the application is initialised (sync starts after app.init()).
 */
class RegistryChangePublisher implements OnApplicationBootstrap, OnModuleDestroy {
  #off: (() => void) | undefined;
  public constructor(
    @Inject(PursuanceRegistry) private readonly registry: PursuanceRegistry,
    @Inject(EventBus) private readonly events: EventBus,
  ) {}
  public onApplicationBootstrap(): void {
    this.#off = this.registry.onChange((c) => {
      this.events.publish(new PursuanceChangedEvent(c.pursuanceId, c.events, c.origin));
    });
  }
  public onModuleDestroy(): void {
    this.#off?.();
  }
}

/**
 * Core: what every feature shares — the runtime objects made before Nest starts, the
 * registry's change notices on the event bus, and the request guard (127.0.0.1, Host/Origin,
 * per-node token) and error filter for every route.
 */
@Global()
@Module({})
class CoreModule {
  public static forRoot(runtime: NodeRuntime): DynamicModule {
    const values = [
      { provide: PursuanceRegistry, useValue: runtime.registry },
      { provide: HttpBinding, useValue: runtime.binding },
      { provide: TEMPLATES, useValue: runtime.templates },
      { provide: OPENAPI_DOCUMENT, useValue: runtime.openapi },
      { provide: SyncService, useValue: runtime.sync },
      { provide: JoinService, useValue: runtime.joins },
      { provide: AdmissionService, useValue: runtime.admission },
      { provide: LinkService, useValue: runtime.links },
      { provide: NETWORK, useValue: runtime.network },
      { provide: PROFILE, useValue: runtime.profile },
    ];
    const profileService = {
      provide: ProfileService,
      useFactory: (registry: PursuanceRegistry, profile: ProfileSource) => new ProfileService(registry, profile),
      inject: [PursuanceRegistry, PROFILE],
    };
    const safetyService = { provide: SafetyService, useValue: new SafetyService(runtime.registry, runtime.store, runtime.contacts) };
    // Shared by the changes route and the live stream, whose `changed` events carry its versions.
    const changeFeed = { provide: ChangeFeed, useValue: new ChangeFeed(runtime.registry) };
    return {
      module: CoreModule,
      providers: [
        ...values,
        profileService,
        safetyService,
        changeFeed,
        RegistryChangePublisher,
        { provide: APP_GUARD, useClass: SecurityGuard },
        { provide: APP_FILTER, useClass: ErrorFilter },
      ],
      exports: [...values.map((v) => v.provide), ProfileService, SafetyService, ChangeFeed],
    };
  }
}

/**
 * Pursuances: commands and queries on the signed log, the node's profile (its name in each
 * pursuance), and the API document describing them.
 */
@Module({
  controllers: [PursuancesController, ChangesController, ProfileController, ContactsController, OpenApiController],
  providers: [...CommandHandlers, ...QueryHandlers, FollowProfileName],
})
class PursuancesModule {}

/**
 * Sync: the Cwtch group link of each pursuance (attach, invites, relay moves, health). The sync
 * service hears of new events from the event bus and publishes its health changes there.
 */
@Module({
  controllers: [SyncController, JoinController, AdmissionController, LinksController],
  providers: [...SyncCommandHandlers, SyncOnPursuanceChanged, SyncHealthPublisher, JoinChangePublisher, AdmissionChangePublisher, LinkChangePublisher],
})
class SyncModule {}

/** Network: the state of the node's tor (or loopback network), for Health and the live stream. */
@Module({
  controllers: [NetworkController],
  providers: [NetworkStatusPublisher],
})
class NetworkModule {}

/** Live: the server-sent event stream the dashboard listens to, fed from the event bus. */
@Module({
  controllers: [StreamController],
})
class LiveModule {}

/**
 * The local node's HTTP application: one module per feature over a shared core. One CQRS
 * module, global: a feature importing CqrsModule again would get an event bus of its own, and
 * what the core publishes would never reach it.
 */
@Module({})
export class NodeModule {
  public static forRoot(runtime: NodeRuntime): DynamicModule {
    return {
      module: NodeModule,
      imports: [CqrsModule.forRoot(), CoreModule.forRoot(runtime), PursuancesModule, SyncModule, NetworkModule, LiveModule],
    };
  }
}
