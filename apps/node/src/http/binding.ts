/** The node's HTTP identity, shared by the guard: the token and the port actually bound. */
export class HttpBinding {
  public port = 0;
  /**
   * True from the moment the API listens until the node has loaded its pursuances and started
   * sync: only routes marked @ServedWhileStarting answer meanwhile (the guard refuses the rest).
   */
  public starting = false;
  public constructor(public readonly token: string) {}

  /** Responses being sent (the event stream excepted: it stays open for as long as a tab does). */
  #serving = 0;
  #whenQuiet: (() => void)[] = [];

  /** Count this response as being sent until it has closed (finished, or its connection gone). */
  public serving(response: { once(event: 'close', listener: () => void): unknown }): void {
    this.#serving++;
    response.once('close', () => {
      if (--this.#serving > 0) return;
      for (const wake of this.#whenQuiet.splice(0)) wake();
    });
  }

  /**
   * Resolves once no response is being sent, or after `limitMs` at the latest. Start-up's
   * background load waits on it between pages: a read served meanwhile (a 4 MB task list goes
   * out in pieces, each waiting for the socket) is not held up behind tens of milliseconds of
   * folding per piece, and a client that never stops asking slows the load, never stops it.
   */
  public untilQuiet(limitMs: number): Promise<void> {
    if (this.#serving === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, limitMs);
      this.#whenQuiet.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Hosts a browser may legitimately use for this node (no DNS names: DNS rebinding). */
  public allowedHosts(): string[] {
    return [`127.0.0.1:${this.port}`, `localhost:${this.port}`];
  }

  public allowedOrigins(): string[] {
    return this.allowedHosts().map((h) => `http://${h}`);
  }
}
