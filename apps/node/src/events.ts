/** Events published on the Nest event bus (for SSE and the sync service). */
export class PursuanceChangedEvent {
  public constructor(
    public readonly pursuanceId: string,
    public readonly eventIds: readonly string[],
    public readonly origin: string,
  ) {}
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
