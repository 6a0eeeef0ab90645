import { randomBytes } from 'node:crypto';
import sodium from 'sodium-native';
import { InvalidKeyError } from '@pursuance/crypto';
import { FrameInvalidError, FrameTooLargeError, PacketDecryptionError } from './errors.js';
import { LENGTH_PREFIX_SIZE, MAX_PLAIN_PAYLOAD, MAX_SEALED_PAYLOAD, NONCE_SIZE, PACKET_SIZE, SEALED_FRAME_SIZE, TAG_SIZE } from './wire-profile.js';

/**
 * Fixed-size framing. A frame of `size` bytes is `uvarint(len) in 2 bytes ‖ payload ‖ zeros`.
 * Before authentication the frame is the packet (size 8192); after it, an 8152-byte frame is
 * secretbox-sealed under the session key with a fresh random nonce, which keeps the packet at
 * exactly 8192 bytes. Parsing is strict: a minimal length encoding and all-zero padding, so a
 * packet has one reading.
 *
 * The secretbox is libsodium's (sodium-native): the same XSalsa20-Poly1305 as tweetnacl, byte
 * for byte (the tests cross-check both ways), at ~8 µs per packet instead of ~65 µs, which is
 * what bounded a relay's replay. A sealed packet is nonce(24) ‖ tag(16) ‖ ciphertext(8152),
 * the layout of @pursuance/crypto's secretboxSeal.
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

/** Seal a payload into one 8192-byte packet under the session key. */
export function sealPacket(key: Uint8Array, payload: Uint8Array): Uint8Array {
  checkKey(key);
  const max = SEALED_FRAME_SIZE - LENGTH_PREFIX_SIZE;
  if (payload.length > max) throw new FrameTooLargeError(`payload of ${payload.length} bytes exceeds ${max}`);
  // One buffer, no copies: the frame is laid out where its ciphertext goes and sealed in place
  // (libsodium allows overlap), leaving nonce ‖ tag ‖ ciphertext.
  const packet = new Uint8Array(PACKET_SIZE);
  const frame = packet.subarray(NONCE_SIZE + TAG_SIZE);
  writeLength(frame, payload.length);
  frame.set(payload, LENGTH_PREFIX_SIZE);
  const nonce = packet.subarray(0, NONCE_SIZE);
  takeNonce(nonce);
  sodium.crypto_secretbox_easy(packet.subarray(NONCE_SIZE), frame, nonce, key);
  return packet;
}

/**
 * Random nonces, drawn from the CSPRNG a few hundred at a time: a call per packet cost as much
 * as the encryption. Each pool byte is handed out once (nonces are public, so holding the next
 * ones in memory reveals nothing).
 */
const NONCE_POOL_SIZE = 256 * NONCE_SIZE;
let noncePool: Uint8Array = new Uint8Array(0);
let nonceOffset = 0;

function takeNonce(target: Uint8Array): void {
  if (nonceOffset === noncePool.length) {
    noncePool = randomBytes(NONCE_POOL_SIZE);
    nonceOffset = 0;
  }
  target.set(noncePool.subarray(nonceOffset, nonceOffset + NONCE_SIZE));
  nonceOffset += NONCE_SIZE;
}

/** Open one 8192-byte packet; a wrong key or any altered byte is a PacketDecryptionError. */
export function openPacket(key: Uint8Array, packet: Uint8Array): Uint8Array {
  if (packet.length !== PACKET_SIZE) throw new FrameInvalidError(`packet is ${packet.length} bytes, expected ${PACKET_SIZE}`);
  checkKey(key);
  const frame = new Uint8Array(SEALED_FRAME_SIZE);
  if (!sodium.crypto_secretbox_open_easy(frame, packet.subarray(NONCE_SIZE), packet.subarray(0, NONCE_SIZE), key)) throw new PacketDecryptionError();
  return decodeFrame(frame, SEALED_FRAME_SIZE);
}

function checkKey(key: Uint8Array): void {
  // libsodium reads 32 key bytes whatever it is handed: a short key must never reach it.
  if (key.length !== SECRETBOX_KEY_SIZE) throw new InvalidKeyError('a secretbox key is 32 bytes');
}

const SECRETBOX_KEY_SIZE = 32;
// The layout above only holds while libsodium's sizes are the wire profile's.
if (
  sodium.crypto_secretbox_NONCEBYTES !== NONCE_SIZE ||
  sodium.crypto_secretbox_MACBYTES !== TAG_SIZE ||
  sodium.crypto_secretbox_KEYBYTES !== SECRETBOX_KEY_SIZE
) {
  throw new Error('libsodium secretbox sizes differ from the tapir wire profile');
}

export { MAX_PLAIN_PAYLOAD, MAX_SEALED_PAYLOAD };
