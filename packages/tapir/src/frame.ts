import { DecryptionError, secretboxOpen, secretboxSeal } from '@pursuance/crypto';
import { FrameInvalidError, FrameTooLargeError, PacketDecryptionError } from './errors.js';
import { LENGTH_PREFIX_SIZE, MAX_PLAIN_PAYLOAD, MAX_SEALED_PAYLOAD, PACKET_SIZE, SEALED_FRAME_SIZE } from './wire-profile.js';

/**
 * Fixed-size framing. A frame of `size` bytes is `uvarint(len) in 2 bytes ‖ payload ‖ zeros`.
 * Before authentication the frame is the packet (size 8192); after it, an 8152-byte frame is
 * secretbox-sealed under the session key with a fresh random nonce, which keeps the packet at
 * exactly 8192 bytes. Parsing is strict: a minimal length encoding and all-zero padding, so a
 * packet has one reading.
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
  return secretboxSeal(key, encodeFrame(payload, SEALED_FRAME_SIZE));
}

/** Open one 8192-byte packet; a wrong key or any altered byte is a PacketDecryptionError. */
export function openPacket(key: Uint8Array, packet: Uint8Array): Uint8Array {
  if (packet.length !== PACKET_SIZE) throw new FrameInvalidError(`packet is ${packet.length} bytes, expected ${PACKET_SIZE}`);
  let frame: Uint8Array;
  try {
    frame = secretboxOpen(key, packet);
  } catch (err) {
    if (err instanceof DecryptionError) throw new PacketDecryptionError();
    throw err;
  }
  return decodeFrame(frame, SEALED_FRAME_SIZE);
}

export { MAX_PLAIN_PAYLOAD, MAX_SEALED_PAYLOAD };
