import { EventEmitter } from 'node:events';
import type { Identity, OnionName } from '@pursuance/crypto';
import { ApplicationChain, AuthApp, ProtocolViolationError, type TapirError, TapirService, type ACN, type Connection } from '@pursuance/tapir';
import { CwtchError, PeerStoppedError, PeerUnreachableError } from './errors.js';
import { encodePeerMessage, parsePeerMessage, type PeerMessage } from './peer-protocol.js';

/**
 * Authenticated p2p channels to other peers (Cwtch's PeerApp transport): our listener on the
 * profile's real onion, and outbound dials with the same identity, both running tapir's 3DH
 * AuthApp first, so every PeerMessage is known to come from its link's onion. Either side may
 * have dialled; a message may go out on any open link to its peer.
 */
export class PeerLink {
  public constructor(
    public readonly onion: OnionName,
    public readonly connection: Connection,
    public readonly outbound: boolean,
  ) {}

  public get isOpen(): boolean {
    return !this.connection.isClosed;
  }

  public send(message: PeerMessage): Promise<void> {
    return this.connection.send(encodePeerMessage(message));
  }

  public close(error?: TapirError): void {
    this.connection.close(error);
  }
}

export interface PeerLinksEvents {
  message: [PeerLink, PeerMessage];
  up: [PeerLink];
  down: [PeerLink];
  /** A link was dropped for sending something that is not a PeerMessage. */
  violation: [OnionName, CwtchError];
}

export interface PeerLinksOptions {
  readonly acn: ACN;
  readonly identity: Identity;
  /** Called for every authenticated peer; false (blocked) closes the link at once. */
  readonly admit: (onion: OnionName) => boolean;
  readonly connectTimeoutMs?: number;
}

export class PeerLinks extends EventEmitter<PeerLinksEvents> {
  readonly #service: TapirService;
  readonly #admit: (onion: OnionName) => boolean;
  readonly #connectTimeoutMs: number;
  readonly #links = new Map<OnionName, Set<PeerLink>>();
  readonly #dialing = new Map<OnionName, Promise<PeerLink>>();
  #stopped = false;

  public constructor(options: PeerLinksOptions) {
    super();
    this.#service = new TapirService(options.acn, options.identity);
    this.#admit = options.admit;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 30_000;
  }

  public get onion(): OnionName {
    return this.#service.onion;
  }

  public async listen(): Promise<void> {
    await this.#service.listen(() => new ApplicationChain([new AuthApp()], { name: 'cwtch-peer', run: (conn) => this.#serve(conn) }));
  }

  async #serve(conn: Connection): Promise<void> {
    const link = this.#adopt(conn, false);
    if (link !== undefined) await this.#read(link);
  }

  /** An open link to `onion`, dialling one if there is none. */
  public connect(onion: OnionName): Promise<PeerLink> {
    if (this.#stopped) return Promise.reject(new PeerStoppedError());
    const open = this.linkTo(onion);
    if (open !== undefined) return Promise.resolve(open);
    if (onion === this.#service.onion) return Promise.reject(new PeerUnreachableError('will not dial our own onion'));
    let dial = this.#dialing.get(onion);
    if (dial === undefined) {
      dial = this.#dial(onion).finally(() => this.#dialing.delete(onion));
      this.#dialing.set(onion, dial);
    }
    return dial;
  }

  async #dial(onion: OnionName): Promise<PeerLink> {
    let conn: Connection;
    try {
      conn = await this.#service.connect(onion, new ApplicationChain([new AuthApp()]), { timeoutMs: this.#connectTimeoutMs });
    } catch (cause) {
      throw new PeerUnreachableError(`could not reach peer (${(cause as { code?: string }).code ?? 'error'})`, { cause });
    }
    const link = this.#adopt(conn, true);
    if (link === undefined) throw new PeerUnreachableError('peer is not admitted');
    void this.#read(link);
    return link;
  }

  #adopt(conn: Connection, outbound: boolean): PeerLink | undefined {
    const onion = conn.remoteOnion;
    if (this.#stopped || onion === undefined || !this.#admit(onion)) {
      conn.close();
      return undefined;
    }
    const link = new PeerLink(onion, conn, outbound);
    let set = this.#links.get(onion);
    if (set === undefined) {
      set = new Set();
      this.#links.set(onion, set);
    }
    set.add(link);
    void conn.closed.then(() => {
      set.delete(link);
      if (set.size === 0 && this.#links.get(onion) === set) this.#links.delete(onion);
      this.emit('down', link);
    });
    this.emit('up', link);
    return link;
  }

  async #read(link: PeerLink): Promise<void> {
    for (;;) {
      let payload: Uint8Array;
      try {
        payload = await link.connection.expect();
      } catch {
        return; // closed
      }
      let message: PeerMessage;
      try {
        message = parsePeerMessage(payload);
      } catch (err) {
        const error = err instanceof CwtchError ? err : new PeerUnreachableError('unreadable message');
        this.emit('violation', link.onion, error);
        link.close(new ProtocolViolationError(`${error.code}: not a peer message`));
        return;
      }
      this.emit('message', link, message);
    }
  }

  public linkTo(onion: OnionName): PeerLink | undefined {
    for (const link of this.#links.get(onion) ?? []) if (link.isOpen) return link;
    return undefined;
  }

  public isConnected(onion: OnionName): boolean {
    return this.linkTo(onion) !== undefined;
  }

  /** Close every link to `onion` (e.g. after blocking it). */
  public drop(onion: OnionName): void {
    for (const link of this.#links.get(onion) ?? []) link.close();
  }

  public async close(): Promise<void> {
    this.#stopped = true;
    const closing = this.#service.close();
    for (const set of this.#links.values()) for (const link of set) link.close();
    await closing;
  }
}
