import { EventEmitter } from 'node:events';
import { ApplicationChain, ConnectionClosedError, ProofOfWorkApp, ProtocolViolationError, type Application, type Connection } from '@pursuance/tapir';
import { TOKENS_ISSUED_CAPABILITY, TOKEN_SERVICE_LINGER_MS } from './protocol-profile.js';
import { toTapirError } from './tapir-errors.js';
import { encodeTokenResponse, parseTokenRequest } from './token-protocol.js';
import { TokenScheduleEndedError } from './errors.js';
import type { TokenKeyring } from './token-epochs.js';
import { evaluateBlindedBatch } from './voprf.js';

export interface TokenServiceOptions {
  readonly keys: TokenKeyring;
  /** Leading zero bits of proof of work demanded per batch (operator setting). */
  readonly powDifficulty: number;
  /** How long to wait for the client to hang up after issuing. */
  readonly lingerMs?: number;
  /** The clock that picks the epoch (tests inject one). */
  readonly now?: () => number;
}

export interface TokenServiceEvents {
  /** A batch of `count` tokens was evaluated under `epoch`'s key and sent. */
  issued: [count: number, epoch: number];
}

/**
 * The token service (Cwtch's ProofOfWorkApplication → TokenApplication, no auth): one proof
 * of work buys one batch of blind evaluations with a batch DLEQ proof. Issuance runs inside
 * the setup phase so the handshake timeout covers it: a client that stalls anywhere before
 * receiving its tokens is dropped.
 */
export class TokenService extends EventEmitter<TokenServiceEvents> {
  public readonly keys: TokenKeyring;
  readonly #powDifficulty: number;
  readonly #lingerMs: number;
  readonly #now: () => number;

  public constructor(options: TokenServiceOptions) {
    super();
    this.keys = options.keys;
    this.#powDifficulty = options.powDifficulty;
    this.#lingerMs = options.lingerMs ?? TOKEN_SERVICE_LINGER_MS;
    this.#now = options.now ?? Date.now;
  }

  /** The application chain for one inbound connection. */
  public readonly chain = (): Application =>
    new ApplicationChain(
      [new ProofOfWorkApp({ difficulty: this.#powDifficulty }), new TokenIssuanceApp(this.keys, this.#now, (n, epoch) => this.emit('issued', n, epoch))],
      lingerApp(this.#lingerMs),
    );
}

class TokenIssuanceApp implements Application {
  public readonly name = 'token-issuance';
  public readonly capability = TOKENS_ISSUED_CAPABILITY;

  public constructor(
    private readonly keys: TokenKeyring,
    private readonly now: () => number,
    private readonly onIssued: (count: number, epoch: number) => void,
  ) {}

  public async run(conn: Connection): Promise<void> {
    try {
      const blinded = parseTokenRequest(await conn.expect());
      // The epoch is read after the request arrives, so a client that waited at a boundary gets the new one.
      const issuing = this.keys.issuing(this.now());
      if (issuing === undefined) throw new TokenScheduleEndedError();
      const batch = evaluateBlindedBatch(issuing.key, blinded);
      await conn.send(encodeTokenResponse({ evaluated: batch.evaluated, proof: batch.proof, epoch: issuing }));
      this.onIssued(batch.evaluated.length, issuing.epoch);
      conn.grantCapability(this.capability);
    } catch (err) {
      throw toTapirError(err);
    }
  }
}

/**
 * After issuing, nothing more is expected. Wait (bounded) for the client to hang up rather
 * than destroying the socket at once, which could drop the response still in the send buffer.
 */
function lingerApp(ms: number): Application {
  return {
    name: 'linger',
    async run(conn: Connection) {
      const timer = setTimeout(() => conn.close(), ms);
      try {
        await conn.expect();
      } catch (err) {
        if (err instanceof ConnectionClosedError) return;
        throw err;
      } finally {
        clearTimeout(timer);
      }
      throw new ProtocolViolationError('unexpected packet after token issuance');
    },
  };
}
