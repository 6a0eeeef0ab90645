import type { Application, Connection } from '@pursuance/tapir';
import { TOKENS_ISSUED_CAPABILITY } from './protocol-profile.js';
import { TokenKeyUnprovenError } from './errors.js';
import type { KeyBundle } from './key-bundle.js';
import { toTapirError } from './tapir-errors.js';
import { isIssuable, verifyEpochKey } from './token-epochs.js';
import { encodeTokenRequest, parseTokenResponse } from './token-protocol.js';
import { newTokenInputs, type Token } from './tokens.js';
import { blindInputs, finalizeBatch, loadVoprf } from './voprf.js';

/**
 * Client side of the token service, run after proof of work: send a blinded batch; check that
 * the key it was evaluated under is the one the pinned bundle commits to for the epoch it
 * names, and that the epoch is now; verify the batch DLEQ proof against that key; unblind.
 * Only tokens from a batch passing all three are kept, so a token service cannot tag tokens
 * with a per-client key, nor with an old or future epoch's.
 */
export class TokenPurchaseApp implements Application {
  public readonly name = 'token-purchase';
  public readonly capability = TOKENS_ISSUED_CAPABILITY;
  #tokens: Token[] = [];

  public constructor(
    private readonly bundle: Pick<KeyBundle, 'tokenEpochRoot' | 'tokenSchedule'>,
    private readonly count: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The unblinded tokens, once the purchase succeeded. */
  public get tokens(): readonly Token[] {
    return this.#tokens;
  }

  public async run(conn: Connection): Promise<void> {
    try {
      await loadVoprf();
      const items = blindInputs(newTokenInputs(this.count));
      await conn.send(encodeTokenRequest(items.map((i) => i.blinded)));
      const { evaluated, proof, epoch } = parseTokenResponse(await conn.expect());
      const schedule = this.bundle.tokenSchedule;
      if (!verifyEpochKey(this.bundle.tokenEpochRoot, schedule.count, epoch.epoch, epoch.publicKey, epoch.path)) {
        throw new TokenKeyUnprovenError(`the token key for epoch ${epoch.epoch} is not the one the relay's bundle commits to`);
      }
      if (!isIssuable(schedule, epoch.epoch, this.now())) {
        throw new TokenKeyUnprovenError(`the relay issued under epoch ${epoch.epoch}, which is not the present one`);
      }
      const outputs = finalizeBatch(items, evaluated, epoch.publicKey, proof);
      this.#tokens = items.map((item, i) => ({ epoch: epoch.epoch, input: item.input, output: outputs[i]! }));
      conn.grantCapability(this.capability);
    } catch (err) {
      throw toTapirError(err);
    }
  }
}
