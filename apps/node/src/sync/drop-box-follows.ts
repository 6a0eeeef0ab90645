import { isDropBoxGroup, type CwtchPeer } from '@pursuance/cwtch';

/** The drop boxes one service still reads (group ids). */
export type WantedDropBoxes = () => ReadonlySet<string> | Promise<ReadonlySet<string>>;

/**
 * Which drop boxes this node follows. Several services read drop boxes (joining by request,
 * links between pursuances), and a drop box nobody reads any more is retired, so the peer stores
 * and delivers nothing more from it however much is posted there. Each service says which
 * boxes it wants; only a box no service wants is retired, and following one again takes it back.
 */
export class DropBoxFollows {
  readonly #wanted = new Map<string, WantedDropBoxes>();

  public constructor(private readonly peer: Pick<CwtchPeer, 'groups' | 'setGroupRetired'>) {}

  /** Register (or replace) what service `owner` reads. */
  public want(owner: string, wanted: WantedDropBoxes): void {
    this.#wanted.set(owner, wanted);
  }

  /** Retire every drop box no service wants; take back every one some service wants again. */
  public async tidy(): Promise<void> {
    const wanted = new Set<string>();
    for (const get of this.#wanted.values()) for (const id of await get()) wanted.add(id);
    for (const g of this.peer.groups()) {
      if (!isDropBoxGroup(g)) continue;
      const want = wanted.has(g.id);
      if (want === (g.retired === true)) await this.peer.setGroupRetired(g.id, !want);
    }
  }
}
