import { decodeFrame, openSealedFrame, sealPacket } from './frame.js';
import { CounterExhaustedError, PacketDecryptionError, PacketReflectedError, PacketReorderedError, PacketReplayedError } from './errors.js';
import { MAX_PACKET_COUNTER, SEALED_FRAME_SIZE } from './wire-profile.js';

/** The two keys of a session, as seen from one side. */
export interface SessionKeys {
  readonly send: Uint8Array;
  readonly receive: Uint8Array;
}

/**
 * How far back and ahead a failed packet is tried, only to name what went wrong. Not part of the
 * wire: whatever the diagnosis, the session is closed, and at most 3 × 64 openings (~2 ms) are
 * spent once per session.
 */
export const DIAGNOSIS_WINDOW = 64;

/**
 * A session's packet protection after the handshake: one key per direction and one counter per
 * direction, the counter being the nonce (wire-profile.ts). Packets are accepted only in order,
 * exactly once, and only from the other direction; the first one that is not closes the session.
 */
export class ChannelCipher {
  readonly #send: Uint8Array;
  readonly #receive: Uint8Array;
  #sent: number;
  #received: number;

  /** `firstCounter` exists for tests of the counter's end; a session starts at 0. */
  public constructor(keys: SessionKeys, firstCounter = 0) {
    if (keys.send.length !== 32 || keys.receive.length !== 32) throw new RangeError('session keys must be 32 bytes');
    this.#send = new Uint8Array(keys.send);
    this.#receive = new Uint8Array(keys.receive);
    this.#sent = firstCounter;
    this.#received = firstCounter;
  }

  /** Counter of the next packet to send / to receive. */
  public get sent(): number {
    return this.#sent;
  }

  public get received(): number {
    return this.#received;
  }

  public seal(payload: Uint8Array): Uint8Array {
    if (this.#sent > MAX_PACKET_COUNTER) throw new CounterExhaustedError('send');
    const packet = sealPacket(this.#send, this.#sent, payload);
    this.#sent += 1;
    return packet;
  }

  public open(packet: Uint8Array): Uint8Array {
    if (this.#received > MAX_PACKET_COUNTER) throw new CounterExhaustedError('receive');
    const frame = openSealedFrame(this.#receive, this.#received, packet);
    if (frame === undefined) throw this.#diagnose(packet);
    // A frame that authenticates but is malformed is a framing error, never diagnosed.
    const payload = decodeFrame(frame, SEALED_FRAME_SIZE);
    this.#received += 1;
    return payload;
  }

  public wipe(): void {
    this.#send.fill(0);
    this.#receive.fill(0);
  }

  /** Why a packet did not open: one of ours, one seen before, one from later, or none of these. */
  #diagnose(packet: Uint8Array): Error {
    const expected = this.#received;
    const opens = (key: Uint8Array, counter: number): boolean => openSealedFrame(key, counter, packet) !== undefined;
    for (let counter = expected - 1; counter >= Math.max(0, expected - DIAGNOSIS_WINDOW); counter--) {
      if (opens(this.#receive, counter)) return new PacketReplayedError(expected, counter);
    }
    // Bounded by the last counter: past 2^53 a float counter stops growing and the loop would not end.
    for (let counter = expected + 1; counter <= Math.min(expected + DIAGNOSIS_WINDOW, MAX_PACKET_COUNTER); counter++) {
      if (opens(this.#receive, counter)) return new PacketReorderedError(expected, counter);
    }
    for (let counter = this.#sent - 1; counter >= Math.max(0, this.#sent - DIAGNOSIS_WINDOW); counter--) {
      if (opens(this.#send, counter)) return new PacketReflectedError(counter);
    }
    return new PacketDecryptionError();
  }
}
