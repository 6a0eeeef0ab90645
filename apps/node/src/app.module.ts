import { Global, Inject, Module, type DynamicModule, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { CqrsModule, EventBus } from '@nestjs/cqrs';
import { CommandHandlers } from './commands/handlers.js';
import { PursuanceRegistry } from './domain/registry.js';
import type { RulesTemplate } from './domain/templates.js';
import { PursuanceChangedEvent, SyncHealthEvent } from './events.js';
import { HttpBinding } from './http/binding.js';
import { ErrorFilter } from './http/error.filter.js';
import { OPENAPI_DOCUMENT, OpenApiController } from './http/openapi.controller.js';
import { PursuancesController, TEMPLATES } from './http/pursuances.controller.js';
import { SecurityGuard } from './http/security.guard.js';
import { StreamController } from './http/stream.controller.js';
import { SyncController } from './http/sync.controller.js';
import { QueryHandlers } from './queries/queries.js';
import { SyncCommandHandlers } from './sync/sync.handlers.js';
import { SyncService } from './sync/sync.service.js';

/** Everything the module needs that is created before Nest starts (store, unlocked identity…). */
export interface NodeRuntime {
  readonly registry: PursuanceRegistry;
  readonly binding: HttpBinding;
  readonly templates: RulesTemplate[];
  readonly openapi: { document: unknown };
  readonly sync: SyncService;
}

/**
 * Core: what every feature shares — the runtime objects made before Nest starts, and the
 * request guard (127.0.0.1, Host/Origin, per-node token) and error filter for every route.
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
    ];
    return {
      module: CoreModule,
      providers: [...values, { provide: APP_GUARD, useClass: SecurityGuard }, { provide: APP_FILTER, useClass: ErrorFilter }],
      exports: values.map((v) => v.provide),
    };
  }
}

/** Pursuances: commands and queries on the signed log, and the API document describing them. */
@Module({
  imports: [CqrsModule],
  controllers: [PursuancesController, OpenApiController],
  providers: [...CommandHandlers, ...QueryHandlers],
})
class PursuancesModule {}

/** Sync: the Cwtch group link of each pursuance (attach, invites, relay moves, health). */
@Module({
  imports: [CqrsModule],
  controllers: [SyncController],
  providers: [...SyncCommandHandlers],
})
class SyncModule {}

/** Publishes every registry change, and every change of sync health, on the CQRS event bus (for SSE). */
class RegistryEventsBridge implements OnModuleInit, OnModuleDestroy {
  #off: (() => void) | undefined;
  #offHealth: (() => void) | undefined;
  public constructor(
    @Inject(PursuanceRegistry) private readonly registry: PursuanceRegistry,
    @Inject(SyncService) private readonly sync: SyncService,
    @Inject(EventBus) private readonly events: EventBus,
  ) {}
  public onModuleInit(): void {
    this.#off = this.registry.onChange((c) => {
      this.events.publish(new PursuanceChangedEvent(c.pursuanceId, c.events.map((e) => e.id), c.origin));
    });
    this.#offHealth = this.sync.onHealth((pursuanceId) => {
      this.events.publish(new SyncHealthEvent(pursuanceId));
    });
  }
  public onModuleDestroy(): void {
    this.#off?.();
    this.#offHealth?.();
  }
}

/** Live: the server-sent event stream the dashboard listens to, fed from the event bus. */
@Module({
  imports: [CqrsModule],
  controllers: [StreamController],
  providers: [RegistryEventsBridge],
})
class LiveModule {}

/** The local node's HTTP application: one module per feature over a shared core. */
@Module({})
export class NodeModule {
  public static forRoot(runtime: NodeRuntime): DynamicModule {
    return {
      module: NodeModule,
      imports: [CqrsModule.forRoot(), CoreModule.forRoot(runtime), PursuancesModule, SyncModule, LiveModule],
    };
  }
}
