/** The node's HTTP identity, shared by the guard: the token and the port actually bound. */
export class HttpBinding {
  public port = 0;
  public constructor(public readonly token: string) {}

  /** Hosts a browser may legitimately use for this node (no DNS names: DNS rebinding). */
  public allowedHosts(): string[] {
    return [`127.0.0.1:${this.port}`, `localhost:${this.port}`];
  }

  public allowedOrigins(): string[] {
    return this.allowedHosts().map((h) => `http://${h}`);
  }
}
