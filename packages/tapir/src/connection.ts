import type { Socket } from 'node:net';
import type { Identity, OnionName } from '@pursuance/crypto';
import { decodeJSON, encodeJSON } from '@pursuance/codec';
import type { z } from 'zod';
import { ChannelCipher, type SessionKeys } from './channel-cipher.js';
import { ConnectionClosedError, CounterExhaustedError, ProtocolViolationError, type TapirError } from './errors.js';
import { decodeFrame, encodeFrame } from './frame.js';
import { Transcript } from './transcript.js';
import { PACKET_SIZE, TRANSCRIPT_LABEL } from './wire-profile.js';

export interface ConnectionInit {
  readonly socket: Socket;
  readonly outbound: boolean;
  readonly localIdentity: Identity;
  /** For outbound connections: the onion name we dialled, which auth must confirm. */
  readonly expectedRemote?: OnionName;
  /** Read-ahead limit in packets; the socket is paused beyond it (backpressure). */
  readonly maxQueuedPackets?: number;
}

interface Waiter {
  resolve(payload: Uint8Array): void;
  reject(error: TapirError): void;
}

let nextConnectionId = 1;

/**
 * One tapir connection: a byte stream cut into exactly-8192-byte packets. Packets are kept
 * raw until an application asks for them, so a packet is decoded with the keys in force at the
 * moment it is consumed (the peer's first sealed packet may arrive before our own handshake
 * code has set the session keys), and in the order they arrived, which is what the receive
 * counter checks. Any framing or decryption failure closes the connection with
 * a typed error; the error is also what `closed` resolves to.
 */
export class Connection {
  public readonly id = nextConnectionId++;
  public readonly outbound: boolean;
  public readonly localIdentity: Identity;
  public readonly expectedRemote: OnionName | undefined;
  public readonly transcript = new Transcript(TRANSCRIPT_LABEL);
  /** Resolves when the connection closes, with the error that closed it (undefined = clean). */
  public readonly closed: Promise<TapirError | undefined>;

  readonly #socket: Socket;
  readonly #maxQueued: number;
  readonly #capabilities = new Set<string>();
  readonly #packets: Uint8Array[] = [];
  readonly #waiters: Waiter[] = [];
  #pending: Buffer = Buffer.alloc(0);
  #cipher: ChannelCipher | undefined;
  #remote: OnionName | undefined;
  #closeError: TapirError | undefined;
  #isClosed = false;
  #resolveClosed!: (error: TapirError | undefined) => void;
  #established = false;
  #onEstablished: (() => void)[] = [];
  #lastActivity = performance.now();
  /**
   * Whether a full service may drop this connection for a newcomer once it is established
   * (least recently active first). An application clears it for connections it must keep.
   */
  public evictable = true;

  public constructor(init: ConnectionInit) {
    this.#socket = init.socket;
    this.outbound = init.outbound;
    this.localIdentity = init.localIdentity;
    this.expectedRemote = init.expectedRemote;
    this.#maxQueued = init.maxQueuedPackets ?? 64;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#socket.setNoDelay(true);
    this.#socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.#socket.on('end', () => this.close(new ConnectionClosedError('peer closed the connection')));
    this.#socket.on('error', (cause) => this.close(new ConnectionClosedError(`socket error: ${cause.message}`, { cause })));
    this.#socket.on('close', () => this.close(new ConnectionClosedError('socket closed')));
  }

  /** The peer's authenticated onion name; undefined until an auth application sets it. */
  public get remoteOnion(): OnionName | undefined {
    return this.#remote;
  }

  public setRemoteOnion(onion: OnionName): void {
    this.#remote = onion;
  }

  public get isClosed(): boolean {
    return this.#isClosed;
  }

  public get isEncrypted(): boolean {
    return this.#cipher !== undefined;
  }

  /**
   * From now on every packet is sealed under the key of its direction with its counter as nonce
   * (channel-cipher.ts). Set once: setting keys again would restart the counters and reuse nonces.
   * `firstCounter` exists only for tests of the counter's end.
   */
  public setSessionKeys(keys: SessionKeys, firstCounter?: number): void {
    if (this.#cipher !== undefined) throw new Error('session keys are already set on this connection');
    this.#cipher = new ChannelCipher(keys, firstCounter);
  }

  public hasCapability(capability: string): boolean {
    return this.#capabilities.has(capability);
  }

  public grantCapability(capability: string): void {
    this.#capabilities.add(capability);
  }

  public get capabilities(): readonly string[] {
    return [...this.#capabilities];
  }

  /**
   * When the application last saw this connection used (a monotonic `performance.now()` time):
   * set on establishment and by `markActive`. The service's idle timeout and its choice of whom
   * to evict when full go by it. Only the application knows what counts as use (a board post
   * does, a bare keepalive may not), so packets alone do not move it.
   */
  public get lastActivity(): number {
    return this.#lastActivity;
  }

  /** The peer just did something the application counts as use. */
  public markActive(): void {
    this.#lastActivity = performance.now();
  }

  /** Marks the end of the setup phase (auth, proof of work); ends the handshake timer. */
  public markEstablished(): void {
    if (this.#established) return;
    this.#established = true;
    this.#lastActivity = performance.now();
    for (const cb of this.#onEstablished.splice(0)) cb();
  }

  public get isEstablished(): boolean {
    return this.#established;
  }

  public onEstablished(cb: () => void): void {
    if (this.#established) cb();
    else this.#onEstablished.push(cb);
  }

  /** Send one payload as one packet; resolves when the socket accepted it (backpressure). */
  public send(payload: Uint8Array): Promise<void> {
    if (this.#isClosed) return Promise.reject(this.#closeError ?? new ConnectionClosedError());
    let packet: Uint8Array;
    try {
      packet = this.#cipher ? this.#cipher.seal(payload) : encodeFrame(payload, PACKET_SIZE);
    } catch (error) {
      // The session cannot go on without reusing a nonce.
      if (error instanceof CounterExhaustedError) {
        this.close(error);
        return Promise.reject(error);
      }
      throw error;
    }
    if (this.#socket.write(packet)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onDrain = (): void => {
        cleanup();
        resolve();
      };
      const onClose = (): void => {
        cleanup();
        reject(this.#closeError ?? new ConnectionClosedError());
      };
      const cleanup = (): void => {
        this.#socket.off('drain', onDrain);
        this.#socket.off('close', onClose);
      };
      this.#socket.on('drain', onDrain);
      this.#socket.on('close', onClose);
    });
  }

  public sendJSON(value: unknown): Promise<void> {
    return this.send(encodeJSON(value));
  }

  /** The next payload from the peer. Rejects with the closing error once the connection is closed. */
  public expect(): Promise<Uint8Array> {
    const packet = this.#packets.shift();
    if (packet !== undefined) {
      this.#maybeResume();
      try {
        return Promise.resolve(this.#decode(packet));
      } catch (err) {
        const error = err as TapirError;
        this.close(error);
        return Promise.reject(error);
      }
    }
    if (this.#isClosed) return Promise.reject(this.#closeError ?? new ConnectionClosedError());
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** The next payload parsed as UTF-8 JSON and validated by `schema`; anything else is a protocol violation. */
  public async expectJSON<T>(schema: z.ZodType<T>): Promise<T> {
    const payload = await this.expect();
    try {
      return decodeJSON(payload, schema, (reason, cause) => new ProtocolViolationError(`unexpected message: ${reason}`, { cause }));
    } catch (error) {
      // A peer that breaks the protocol gets no second message on this channel.
      if (error instanceof ProtocolViolationError) this.close(error);
      throw error;
    }
  }

  /** Close the connection. The first error given wins and is what waiters and `closed` see. */
  public close(error?: TapirError): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#closeError = error;
    this.#cipher?.wipe();
    this.#packets.length = 0;
    const reason = error ?? new ConnectionClosedError('connection closed locally');
    for (const waiter of this.#waiters.splice(0)) waiter.reject(reason);
    this.#socket.destroy();
    this.#resolveClosed(error);
  }

  #decode(packet: Uint8Array): Uint8Array {
    return this.#cipher ? this.#cipher.open(packet) : decodeFrame(packet, PACKET_SIZE);
  }

  #onData(chunk: Buffer): void {
    if (this.#isClosed) return;
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    while (this.#pending.length >= PACKET_SIZE) {
      const packet = new Uint8Array(this.#pending.subarray(0, PACKET_SIZE));
      this.#pending = this.#pending.subarray(PACKET_SIZE);
      const waiter = this.#waiters.shift();
      if (waiter) {
        try {
          waiter.resolve(this.#decode(packet));
        } catch (err) {
          this.close(err as TapirError);
          return;
        }
      } else {
        this.#packets.push(packet);
      }
    }
    if (this.#packets.length >= this.#maxQueued) this.#socket.pause();
  }

  #maybeResume(): void {
    if (this.#socket.isPaused() && this.#packets.length < this.#maxQueued / 2) this.#socket.resume();
  }
}
