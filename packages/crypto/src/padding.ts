import { PaddingError } from './errors.js';

/**
 * Fixed-size padding so ciphertext length leaks nothing about content:
 *   padded = u32 big-endian length ‖ data ‖ zero bytes, exactly `size` bytes.
 * Unpadding checks the header and that every padding byte is zero, so a padded buffer has
 * exactly one valid reading.
 */
export const PADDING_HEADER_LENGTH = 4;

export function maxPayloadForPaddedSize(size: number): number {
  return size - PADDING_HEADER_LENGTH;
}

export function padToSize(data: Uint8Array, size: number): Uint8Array {
  if (!Number.isSafeInteger(size) || size < PADDING_HEADER_LENGTH || size > 0xffff_ffff) {
    throw new PaddingError(`invalid padded size ${size}`);
  }
  if (data.length > size - PADDING_HEADER_LENGTH) {
    throw new PaddingError(`${data.length} bytes do not fit a padded size of ${size}`);
  }
  const out = new Uint8Array(size);
  new DataView(out.buffer).setUint32(0, data.length, false);
  out.set(data, PADDING_HEADER_LENGTH);
  return out;
}

export function unpad(padded: Uint8Array, expectedSize?: number): Uint8Array {
  if (expectedSize !== undefined && padded.length !== expectedSize) {
    throw new PaddingError(`padded buffer is ${padded.length} bytes, expected ${expectedSize}`);
  }
  if (padded.length < PADDING_HEADER_LENGTH) throw new PaddingError('padded buffer is shorter than its header');
  const length = new DataView(padded.buffer, padded.byteOffset, padded.byteLength).getUint32(0, false);
  if (length > padded.length - PADDING_HEADER_LENGTH) throw new PaddingError('length header exceeds the buffer');
  const end = PADDING_HEADER_LENGTH + length;
  for (let i = end; i < padded.length; i++) {
    if (padded[i] !== 0) throw new PaddingError('non-zero padding byte');
  }
  return padded.slice(PADDING_HEADER_LENGTH, end);
}
