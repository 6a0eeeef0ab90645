import { Inject, Module, type DynamicModule, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
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
import { QueryHandlers } from './queries/queries.js';
import { SyncController } from './http/sync.controller.js';
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

/** Publishes every registry change, and every change of sync health, on the CQRS event bus (for SSE and the sync service). */
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

@Module({})
export class NodeModule {
  public static forRoot(runtime: NodeRuntime): DynamicModule {
    return {
      module: NodeModule,
      imports: [CqrsModule.forRoot()],
      controllers: [PursuancesController, SyncController, StreamController, OpenApiController],
      providers: [
        { provide: PursuanceRegistry, useValue: runtime.registry },
        { provide: HttpBinding, useValue: runtime.binding },
        { provide: TEMPLATES, useValue: runtime.templates },
        { provide: OPENAPI_DOCUMENT, useValue: runtime.openapi },
        { provide: SyncService, useValue: runtime.sync },
        { provide: APP_GUARD, useClass: SecurityGuard },
        { provide: APP_FILTER, useClass: ErrorFilter },
        RegistryEventsBridge,
        ...CommandHandlers,
        ...QueryHandlers,
        ...SyncCommandHandlers,
      ],
    };
  }
}
