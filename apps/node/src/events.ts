import type { AcnStatus } from '@pursuance/tapir';
import type { PursuanceChange } from './domain/registry.js';

/**
 * Events published on the Nest event bus, the node's one channel for change notices: the sync
 * service (an events handler) and the live stream (SSE) both consume them from there.
 */

/** A pursuance gained events (stored and folded): the registry's change, as published on the bus. */
export class PursuanceChangedEvent implements PursuanceChange {
  public readonly eventIds: readonly string[];
  public constructor(
    public readonly pursuanceId: string,
    public readonly events: PursuanceChange['events'],
    public readonly origin: PursuanceChange['origin'],
  ) {
    this.eventIds = events.map((e) => e.id);
  }
}

/** Progress of a long-running job (replay, resync), for progress bars. */
export class ProgressEvent {
  public constructor(
    public readonly job: 'replay' | 'resync',
    public readonly pursuanceId: string,
    public readonly done: number,
    public readonly total: number,
  ) {}
}

/** A pursuance's sync health changed (relay link, gaps): the dashboard refetches its sync status. */
export class SyncHealthEvent {
  public constructor(public readonly pursuanceId: string) {}
}

/** The node's network (tor, or the loopback network) changed state: up, down, bootstrap, circuits. */
export class NetworkStatusEvent {
  public constructor(public readonly status: AcnStatus) {}
}

/** Join invites of a pursuance (or, with null, this node's own join requests) changed: the dashboard refetches them. */
export class InvitesChangedEvent {
  public constructor(public readonly pursuanceId: string | null) {}
}
