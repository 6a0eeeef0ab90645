import { TorACN, type TorACNOptions } from './tor-acn.js';
import type { ManagedTor } from './managed-tor.js';

/**
 * A TorACN on a tor we launched: the same ACN (a subclass, so status and everything else TorACN
 * offers stays available), whose close() also stops that tor, after its onions are removed.
 */
export class ManagedTorACN extends TorACN {
  public readonly managedTor: ManagedTor;

  public constructor(managedTor: ManagedTor, extra: Partial<TorACNOptions> = {}) {
    super(managedTor.torACNOptions(extra));
    this.managedTor = managedTor;
  }

  public override async close(): Promise<void> {
    try {
      await super.close();
    } finally {
      await this.managedTor.stop();
    }
  }
}
