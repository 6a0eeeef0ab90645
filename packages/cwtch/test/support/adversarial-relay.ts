import { EventEmitter } from 'node:events';
import { Identity, equalBytes, type OnionName } from '@pursuance/crypto';
import {
  DEFAULT_BUCKET_SECONDS,
  TokenService,
  bucketOf,
  encodeBareMessage,
  encodeBucketResult,
  encodeNewMessage,
  encodePong,
  encodePostResult,
  encodeRenewResult,
  encodeReplayResult,
  exportKeyBundle,
  parseBoardRequest,
  signKeyBundle,
  verifySpentToken,
  type EncryptedGroupMessage,
  type TokenKeyring,
} from '@pursuance/relay';
import { testTokenKeys } from '@pursuance/relay/testing';
import { ApplicationChain, AuthApp, TapirService, type ACN, type Connection } from '@pursuance/tapir';

/**
 * A hostile relay for tests, built from the relay package's own pieces (token service, board
 * codec, token checks), so clients talk to it exactly as to the real one. It stores what is
 * posted, but every replay and every live push goes through a policy the test controls: drop,
 * modify, duplicate, reorder, or re-send old messages — per session. It cannot forge group
 * messages (it has no group key and no member's signing key), which is the point.
 */
export interface RelaySession {
  /** 1, 2, 3… in the order sessions authenticated. */
  readonly n: number;
  /** The (ephemeral) identity the client authenticated with. */
  readonly remote: OnionName;
}

export interface Policy {
  /** What a replay to `session` sends, given the messages it asked for in storage order. */
  replay(session: RelaySession, requested: readonly EncryptedGroupMessage[]): EncryptedGroupMessage[];
  /** What a live push of `message` to `session` sends (possibly nothing, possibly more). */
  push(session: RelaySession, message: EncryptedGroupMessage): EncryptedGroupMessage[];
}

export const honest: Policy = { replay: (_s, requested) => [...requested], push: (_s, m) => [m] };

interface LiveSession extends RelaySession {
  readonly conn: Connection;
  synced: boolean;
  /** It fetched by bucket: its pongs carry the frontier. */
  bucketed: boolean;
  chain: Promise<void>;
}

/** What every front of one relay shares: its keys, its stored messages, and its fronts (for live pushes). */
interface SharedBoard {
  readonly boardIdentity: Identity;
  readonly tokenIdentity: Identity;
  readonly keys: TokenKeyring;
  readonly bundle: string;
  readonly stored: EncryptedGroupMessage[];
  /** The bucket each stored message was filed under (hours by the wall clock, as the real relay). */
  readonly filed: number[];
  readonly fronts: Set<AdversarialRelay>;
}

export class AdversarialRelay extends EventEmitter<{ session: [RelaySession]; posted: [EncryptedGroupMessage] }> {
  public readonly stored: EncryptedGroupMessage[];
  readonly #filed: number[];
  readonly #shared: SharedBoard;
  public policy: Policy = honest;
  /** Frozen: reads every request and answers nothing (no results, pongs or pushes), connections stay open. */
  public silent = false;
  /** Posts are acknowledged and then lost (a relay losing messages); counted in `lost`. */
  public losePosts = false;
  public lost = 0;
  /** Buckets added to every frontier this front names (a relay pushing members' cursors into the future). */
  public frontierAhead = 0;
  public readonly bundle: string;
  public readonly onion: OnionName;
  readonly #board: TapirService;
  readonly #tokens: TapirService;
  readonly #keys: TokenKeyring;
  readonly #sessions = new Set<LiveSession>();
  #count = 0;

  private constructor(acn: ACN, shared: SharedBoard) {
    super();
    this.#shared = shared;
    shared.fronts.add(this);
    this.stored = shared.stored;
    this.#filed = shared.filed;
    this.#keys = shared.keys;
    this.onion = shared.boardIdentity.onion;
    this.bundle = shared.bundle;
    this.#board = new TapirService(acn, shared.boardIdentity);
    this.#tokens = new TapirService(acn, shared.tokenIdentity);
    const tokenService = new TokenService({ keys: this.#keys, powDifficulty: 2, lingerMs: 1000 });
    void this.#tokens.listen(tokenService.chain);
  }

  /** `buckets: false`: a relay from before bucketed fetch (its bundle states no bucket length; members replay "since"). */
  public static async start(acn: ACN, options: { buckets?: boolean } = {}): Promise<AdversarialRelay> {
    const boardIdentity = Identity.generate();
    const tokenIdentity = Identity.generate();
    const keys = testTokenKeys();
    const bucketSeconds = (options.buckets ?? true) ? { bucketSeconds: DEFAULT_BUCKET_SECONDS } : {};
    const bundle = exportKeyBundle(signKeyBundle(boardIdentity, tokenIdentity.onion, { root: keys.root, schedule: keys.schedule, ...bucketSeconds }));
    return AdversarialRelay.#listen(new AdversarialRelay(acn, { boardIdentity, tokenIdentity, keys, bundle, stored: [], filed: [], fronts: new Set() }));
  }

  /**
   * Another front of this same relay (same identity and keys, same stored messages, pushes
   * across fronts) on another loopback network, with its own policy: a member whose network
   * routes this relay's onion there can be treated apart from the others.
   */
  public async front(acn: ACN): Promise<AdversarialRelay> {
    return AdversarialRelay.#listen(new AdversarialRelay(acn, this.#shared));
  }

  static async #listen(relay: AdversarialRelay): Promise<AdversarialRelay> {
    await relay.#board.listen(() => new ApplicationChain([new AuthApp()], { name: 'adversarial-board', run: (conn) => relay.#serve(conn) }));
    return relay;
  }

  /** Board connections currently open. */
  public get openSessions(): number {
    return [...this.#sessions].filter((s) => !s.conn.isClosed).length;
  }

  public has(signature: Uint8Array): boolean {
    return this.stored.some((m) => equalBytes(m.signature, signature));
  }

  async #serve(conn: Connection): Promise<void> {
    const session: LiveSession = { n: ++this.#count, remote: conn.remoteOnion!, conn, synced: false, bucketed: false, chain: Promise.resolve() };
    this.#sessions.add(session);
    void conn.closed.then(() => this.#sessions.delete(session));
    this.emit('session', { n: session.n, remote: session.remote });
    for (;;) {
      const request = parseBoardRequest(await conn.expect());
      if (request.kind === 'post') {
        const key = this.#keys.redeeming(request.token.epoch, Date.now());
        if (key === undefined || !verifySpentToken(key.secretKey, request.token, request.message, this.onion)) {
          this.#send(session, [encodePostResult({ ok: false, code: 'TOKEN_INVALID' })]);
          continue;
        }
        if (this.losePosts) {
          this.lost += 1;
          this.#send(session, [encodePostResult({ ok: true })]);
          continue;
        }
        const fresh = !this.has(request.message.signature);
        if (fresh) {
          this.stored.push(request.message);
          this.#filed.push(this.#bucket());
        }
        this.#send(session, [encodePostResult({ ok: true })]);
        if (fresh) {
          for (const front of this.#shared.fronts) front.#published(request.message);
        }
      } else if (request.kind === 'ping') {
        // Keepalives are answered honestly: the policies under test are about messages.
        this.#send(session, [encodePong(session.bucketed ? this.#bucket() + this.frontierAhead : undefined)]);
      } else if (request.kind === 'renew') {
        // Renewals too, free of work: this relay closes no session for idleness.
        this.#send(session, [encodeRenewResult({ renewed: request.solution !== undefined, challenge: new Uint8Array(32), bits: 0 })]);
      } else if (request.kind === 'fetch') {
        const at = this.#filed.findIndex((b) => b >= request.fromBucket);
        const out = this.policy.replay(session, at < 0 ? [] : this.stored.slice(at));
        session.synced = true;
        session.bucketed = true;
        this.#send(session, [encodeBucketResult(out.length, this.#bucket() + this.frontierAhead), ...out.map(encodeBareMessage)]);
      } else {
        const since = request.since;
        const from =
          since === undefined
            ? 0
            : Math.max(
                0,
                this.stored.findIndex((m) => equalBytes(m.signature, since)),
              );
        const out = this.policy.replay(session, this.stored.slice(from));
        // Synced from this snapshot on: later posts are pushed after these (one send chain).
        session.synced = true;
        this.#send(session, [encodeReplayResult(out.length), ...out.map(encodeBareMessage)]);
      }
    }
  }

  /** A message stored through any front: pushed to this front's synced sessions, through its policy. */
  #published(message: EncryptedGroupMessage): void {
    this.emit('posted', message);
    for (const s of this.#sessions) {
      if (s.synced) this.#send(s, this.policy.push(s, message).map(encodeNewMessage));
    }
  }

  #bucket(): number {
    return Math.max(bucketOf(Date.now(), DEFAULT_BUCKET_SECONDS * 1000), this.#filed.at(-1) ?? 0);
  }

  #send(session: LiveSession, payloads: Uint8Array[]): void {
    if (this.silent) return;
    session.chain = session.chain
      .then(async () => {
        for (const p of payloads) await session.conn.send(p);
      })
      .catch(() => undefined);
  }

  /** Push any message to every synced session, outside the policy (a replay of old or foreign messages). */
  public inject(message: EncryptedGroupMessage): void {
    for (const s of this.#sessions) if (s.synced) this.#send(s, [encodeNewMessage(message)]);
  }

  public async close(): Promise<void> {
    this.#shared.fronts.delete(this);
    for (const service of [this.#board, this.#tokens]) {
      const closing = service.close();
      for (const c of service.connections()) c.close();
      await closing;
    }
  }
}

/** A copy of `message` with one ciphertext byte changed (a relay "modifying" a message). */
export function modifiedCiphertext(message: EncryptedGroupMessage): EncryptedGroupMessage {
  const ciphertext = new Uint8Array(message.ciphertext);
  ciphertext[200]! ^= 0x40;
  return { ciphertext, signature: message.signature };
}

/** A copy with the signature changed: it still decrypts, but cannot verify. */
export function modifiedSignature(message: EncryptedGroupMessage): EncryptedGroupMessage {
  const signature = new Uint8Array(message.signature);
  signature[3]! ^= 0x01;
  return { ciphertext: message.ciphertext, signature };
}
