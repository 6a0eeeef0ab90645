import { Controller, Get, Inject, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { EventBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { ACN, AcnStatus } from '@pursuance/tapir';
import { NetworkStatusEvent } from '../events.js';

/** The node's ACN, as the network feature sees it: its kind and, when it reports one, its status. */
export const NETWORK = Symbol('NETWORK');
export type NetworkSource = Pick<ACN, 'kind' | 'status' | 'onStatus'>;

export interface NetworkView {
  readonly kind: ACN['kind'];
  /** null when the network reports no status (it then counts as up). */
  readonly status: AcnStatus | null;
}

/**
 * What Health shows about the network under every pursuance: tor's state, bootstrap, version,
 * circuits and outages. A tor restart shows here as down, then up again, with no event needed.
 */
@ApiTags('network')
@ApiBearerAuth()
@Controller('api')
export class NetworkController {
  public constructor(@Inject(NETWORK) private readonly network: NetworkSource) {}

  @Get('network')
  public get(): NetworkView {
    return { kind: this.network.kind, status: this.network.status?.() ?? null };
  }
}

/** Puts each status change on the event bus, where the live stream turns it into a `network` event. */
export class NetworkStatusPublisher implements OnApplicationBootstrap, OnModuleDestroy {
  #off: (() => void) | undefined;
  public constructor(
    @Inject(NETWORK) private readonly network: NetworkSource,
    @Inject(EventBus) private readonly events: EventBus,
  ) {}
  public onApplicationBootstrap(): void {
    this.#off = this.network.onStatus?.((status) => {
      this.events.publish(new NetworkStatusEvent(status));
    });
  }
  public onModuleDestroy(): void {
    this.#off?.();
  }
}
