import sodium from 'sodium-native';
import { InvalidKeyError } from '@pursuance/crypto';
import { FrameInvalidError, FrameTooLargeError, PacketDecryptionError } from './errors.js';
import {
  COUNTER_SIZE,
  LENGTH_PREFIX_SIZE,
  MAX_PACKET_COUNTER,
  MAX_PLAIN_PAYLOAD,
  MAX_SEALED_PAYLOAD,
  NONCE_SIZE,
  PACKET_SIZE,
  SEALED_FRAME_SIZE,
  TAG_SIZE,
} from './wire-profile.js';

/**
 * Fixed-size framing. A frame of `size` bytes is `uvarint(len) in 2 bytes ‖ payload ‖ zeros`.
 * Before authentication the frame is the packet (size 8192); after it, an 8176-byte frame is
 * secretbox-sealed under its direction's key with the packet counter as nonce, which keeps the
 * packet at exactly 8192 bytes. Parsing is strict: a minimal length encoding and all-zero
 * padding, so a packet has one reading.
 *
 * The secretbox is libsodium's (sodium-native): the same XSalsa20-Poly1305 as tweetnacl, byte
 * for byte (the tests cross-check both ways), at ~8 µs per packet instead of ~65 µs, which is
 * what bounded a relay's replay. A sealed packet is tag(16) ‖ ciphertext(8176): the layout of
 * @pursuance/crypto's secretboxSeal without its nonce prefix, which both sides know.
 */

function writeLength(frame: Uint8Array, length: number): void {
  if (length < 0x80) {
    frame[0] = length;
    frame[1] = 0;
  } else {
    frame[0] = (length & 0x7f) | 0x80;
    frame[1] = length >>> 7;
  }
}

function readLength(frame: Uint8Array): number {
  const b0 = frame[0]!;
  const b1 = frame[1]!;
  if ((b0 & 0x80) === 0) {
    if (b1 !== 0) throw new FrameInvalidError('one-byte length prefix followed by a non-zero byte');
    return b0;
  }
  if ((b1 & 0x80) !== 0) throw new FrameInvalidError('length prefix longer than two bytes');
  if (b1 === 0) throw new FrameInvalidError('non-minimal length prefix');
  return (b0 & 0x7f) | (b1 << 7);
}

export function encodeFrame(payload: Uint8Array, size: number = PACKET_SIZE): Uint8Array {
  const max = size - LENGTH_PREFIX_SIZE;
  if (payload.length > max) throw new FrameTooLargeError(`payload of ${payload.length} bytes exceeds ${max}`);
  const frame = new Uint8Array(size);
  writeLength(frame, payload.length);
  frame.set(payload, LENGTH_PREFIX_SIZE);
  return frame;
}

export function decodeFrame(frame: Uint8Array, size: number = PACKET_SIZE): Uint8Array {
  if (frame.length !== size) throw new FrameInvalidError(`frame is ${frame.length} bytes, expected ${size}`);
  const length = readLength(frame);
  if (length > size - LENGTH_PREFIX_SIZE) throw new FrameInvalidError('length prefix exceeds the frame');
  const end = LENGTH_PREFIX_SIZE + length;
  for (let i = end; i < size; i++) {
    if (frame[i] !== 0) throw new FrameInvalidError('non-zero padding');
  }
  return frame.slice(LENGTH_PREFIX_SIZE, end);
}

/**
 * Seal a payload into one 8192-byte packet under a direction's key, with the packet's counter in
 * that direction as the nonce. The caller (channel-cipher.ts) owns the counter: a counter used
 * twice under one key would be a reused nonce.
 */
export function sealPacket(key: Uint8Array, counter: number, payload: Uint8Array): Uint8Array {
  checkKey(key);
  const max = SEALED_FRAME_SIZE - LENGTH_PREFIX_SIZE;
  if (payload.length > max) throw new FrameTooLargeError(`payload of ${payload.length} bytes exceeds ${max}`);
  // One buffer, no copies: the frame is laid out where its ciphertext goes and sealed in place
  // (libsodium allows overlap), leaving tag ‖ ciphertext.
  const packet = new Uint8Array(PACKET_SIZE);
  const frame = packet.subarray(TAG_SIZE);
  writeLength(frame, payload.length);
  frame.set(payload, LENGTH_PREFIX_SIZE);
  sodium.crypto_secretbox_easy(packet, frame, counterNonce(counter), key);
  return packet;
}

/**
 * Open one 8192-byte packet expected to carry `counter`; a wrong key, a wrong counter or any
 * altered byte is a PacketDecryptionError (the caller may then diagnose which, see
 * channel-cipher.ts).
 */
export function openPacket(key: Uint8Array, counter: number, packet: Uint8Array): Uint8Array {
  const frame = openSealedFrame(key, counter, packet);
  if (frame === undefined) throw new PacketDecryptionError();
  return decodeFrame(frame, SEALED_FRAME_SIZE);
}

/** The sealed frame, or undefined when the packet does not authenticate under key and counter. */
export function openSealedFrame(key: Uint8Array, counter: number, packet: Uint8Array): Uint8Array | undefined {
  if (packet.length !== PACKET_SIZE) throw new FrameInvalidError(`packet is ${packet.length} bytes, expected ${PACKET_SIZE}`);
  checkKey(key);
  const frame = new Uint8Array(SEALED_FRAME_SIZE);
  return sodium.crypto_secretbox_open_easy(frame, packet, counterNonce(counter), key) ? frame : undefined;
}

/** The implicit nonce: the counter as a uint64 little-endian, then zeros (wire-profile.ts). */
export function counterNonce(counter: number): Uint8Array {
  if (!Number.isSafeInteger(counter) || counter < 0 || counter > MAX_PACKET_COUNTER) throw new RangeError(`packet counter ${counter} out of range`);
  const nonce = new Uint8Array(NONCE_SIZE);
  const view = new DataView(nonce.buffer);
  view.setUint32(0, counter % 0x1_0000_0000, true);
  view.setUint32(4, Math.floor(counter / 0x1_0000_0000), true);
  return nonce;
}

function checkKey(key: Uint8Array): void {
  // libsodium reads 32 key bytes whatever it is handed: a short key must never reach it.
  if (key.length !== SECRETBOX_KEY_SIZE) throw new InvalidKeyError('a secretbox key is 32 bytes');
}

const SECRETBOX_KEY_SIZE = 32;
// The layout above only holds while libsodium's sizes are the wire profile's.
if (
  COUNTER_SIZE > NONCE_SIZE ||
  sodium.crypto_secretbox_NONCEBYTES !== NONCE_SIZE ||
  sodium.crypto_secretbox_MACBYTES !== TAG_SIZE ||
  sodium.crypto_secretbox_KEYBYTES !== SECRETBOX_KEY_SIZE
) {
  throw new Error('libsodium secretbox sizes differ from the tapir wire profile');
}

export { MAX_PLAIN_PAYLOAD, MAX_SEALED_PAYLOAD };
