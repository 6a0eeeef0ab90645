import type { Token } from './tokens.js';

/** A client's unspent tokens, used first in, first out. Tokens are single-use: `take` removes. */
export class TokenWallet {
  readonly #tokens: Token[] = [];

  public get size(): number {
    return this.#tokens.length;
  }

  public add(tokens: readonly Token[]): void {
    this.#tokens.push(...tokens);
  }

  public take(): Token | undefined {
    return this.#tokens.shift();
  }

  /** A token taken but never spent goes back to the front (it is the oldest). */
  public putBack(token: Token): void {
    this.#tokens.unshift(token);
  }
}
