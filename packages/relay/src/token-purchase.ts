import type { Application, Connection } from '@pursuance/tapir';
import { TOKENS_ISSUED_CAPABILITY } from './protocol-profile.js';
import { toTapirError } from './tapir-errors.js';
import { encodeTokenRequest, parseTokenResponse } from './token-protocol.js';
import { newTokenInputs, type Token } from './tokens.js';
import { blindInputs, finalizeBatch } from './voprf.js';

/**
 * Client side of the token service, run after proof of work: send a blinded batch, verify
 * the batch DLEQ proof against the pinned public key, unblind. Only tokens from a verified
 * batch are kept, so a token service cannot tag tokens with a per-client key.
 */
export class TokenPurchaseApp implements Application {
  public readonly name = 'token-purchase';
  public readonly capability = TOKENS_ISSUED_CAPABILITY;
  #tokens: Token[] = [];

  public constructor(
    private readonly publicKey: Uint8Array,
    private readonly count: number,
  ) {}

  /** The unblinded tokens, once the purchase succeeded. */
  public get tokens(): readonly Token[] {
    return this.#tokens;
  }

  public async run(conn: Connection): Promise<void> {
    try {
      const items = blindInputs(newTokenInputs(this.count));
      await conn.send(encodeTokenRequest(items.map((i) => i.blinded)));
      const { evaluated, proof } = parseTokenResponse(await conn.expect());
      const outputs = finalizeBatch(items, evaluated, this.publicKey, proof);
      this.#tokens = items.map((item, i) => ({ input: item.input, output: outputs[i]! }));
      conn.grantCapability(this.capability);
    } catch (err) {
      throw toTapirError(err);
    }
  }
}
