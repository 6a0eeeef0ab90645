import type { Connection } from './connection.js';
import { CapabilityMissingError } from './errors.js';

/**
 * A step that runs on a connection: authentication, proof of work, token issuance, or an
 * application loop. A setup step either grants its `capability` or throws a TapirError (the
 * caller then closes the connection with it).
 */
export interface Application {
  readonly name: string;
  /** Capability this step grants on success; the chain refuses to go on without it. */
  readonly capability?: string;
  run(connection: Connection): Promise<void>;
}

/** Builds a fresh application instance per connection (apps hold per-connection state). */
export type ApplicationFactory = () => Application;

/**
 * Runs setup applications in order, each gated on the capability of the one before, then
 * marks the connection established (which ends the handshake timer) and runs the optional
 * main application (e.g. the relay's board loop) for the rest of the connection's life.
 */
export class ApplicationChain implements Application {
  public readonly name: string;
  public readonly capability: string | undefined;

  public constructor(
    private readonly setup: readonly Application[],
    private readonly main?: Application,
  ) {
    this.name = [...setup, ...(main ? [main] : [])].map((a) => a.name).join('→');
    this.capability = setup.at(-1)?.capability;
  }

  public async run(connection: Connection): Promise<void> {
    for (const app of this.setup) {
      await app.run(connection);
      if (app.capability !== undefined && !connection.hasCapability(app.capability)) {
        throw new CapabilityMissingError(app.capability);
      }
    }
    connection.markEstablished();
    if (this.main) await this.main.run(connection);
  }
}
