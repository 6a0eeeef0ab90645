import type { Token } from './tokens.js';

/**
 * A client's unspent tokens, used first in, first out (the oldest expire first). Tokens are
 * single-use: `take` removes. A token its relay no longer redeems is thrown away when met.
 */
export class TokenWallet {
  readonly #tokens: Token[] = [];
  readonly #spendable: (token: Token) => boolean;

  /** `spendable` says whether a token is still worth spending (see isSpendable). */
  public constructor(spendable: (token: Token) => boolean = () => true) {
    this.#spendable = spendable;
  }

  /** Tokens held, expired ones not yet thrown away included. */
  public get size(): number {
    return this.#tokens.length;
  }

  public add(tokens: readonly Token[]): void {
    this.#tokens.push(...tokens);
  }

  /** The oldest token still spendable; expired ones before it are dropped. */
  public take(): Token | undefined {
    for (let token = this.#tokens.shift(); token !== undefined; token = this.#tokens.shift()) {
      if (this.#spendable(token)) return token;
    }
    return undefined;
  }

  /** Drop every token no longer spendable; resolves how many went. */
  public prune(): number {
    const before = this.#tokens.length;
    const kept = this.#tokens.filter((t) => this.#spendable(t));
    this.#tokens.splice(0, this.#tokens.length, ...kept);
    return before - kept.length;
  }

  /** A token taken but never spent goes back to the front (it is the oldest). */
  public putBack(token: Token): void {
    this.#tokens.unshift(token);
  }
}
