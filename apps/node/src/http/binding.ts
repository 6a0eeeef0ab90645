/** The node's HTTP identity, shared by the guard: the token and the port actually bound. */
export class HttpBinding {
  public port = 0;
  /**
   * True from the moment the API listens until the node has loaded its pursuances and started
   * sync: only routes marked @ServedWhileStarting answer meanwhile (the guard refuses the rest).
   */
  public starting = false;
  public constructor(public readonly token: string) {}

  /** Hosts a browser may legitimately use for this node (no DNS names: DNS rebinding). */
  public allowedHosts(): string[] {
    return [`127.0.0.1:${this.port}`, `localhost:${this.port}`];
  }

  public allowedOrigins(): string[] {
    return this.allowedHosts().map((h) => `http://${h}`);
  }
}
