import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CryptoError, PaddingError, padToSize, unpad } from '../src/index.js';
import { PADDING_HEADER_LENGTH, maxPayloadForPaddedSize } from '../src/padding.js';
import { expectThrowsType, hex, unhex } from './support/helpers.js';

/** (data, size) with data.length <= size - 4. */
const paddedCase = fc
  .tuple(fc.uint8Array({ maxLength: 300 }), fc.nat({ max: 300 }))
  .map(([data, slack]) => ({ data, size: data.length + PADDING_HEADER_LENGTH + slack }));

describe('padding: known layout', () => {
  it('is a big-endian u32 length, the data, then zeros', () => {
    expect(hex(padToSize(unhex('aabbcc'), 12))).toBe('00000003' + 'aabbcc' + '0000000000');
    expect(hex(padToSize(new Uint8Array(), 4))).toBe('00000000');
    expect(hex(padToSize(new Uint8Array(0x0102), 0x0106).subarray(0, 4))).toBe('00000102');
  });

  it('maxPayloadForPaddedSize is size − header', () => {
    expect(maxPayloadForPaddedSize(4)).toBe(0);
    expect(maxPayloadForPaddedSize(1024)).toBe(1020);
    expect(padToSize(new Uint8Array(1020), 1024)).toHaveLength(1024);
    expectThrowsType(() => padToSize(new Uint8Array(1021), 1024), PaddingError);
  });
});

describe('padding properties', () => {
  it('unpad(padToSize(x, n)) = x, and every padded output is exactly n bytes', () => {
    fc.assert(
      fc.property(paddedCase, ({ data, size }) => {
        const padded = padToSize(data, size);
        expect(padded).toHaveLength(size);
        expect(hex(unpad(padded))).toBe(hex(data));
        expect(hex(unpad(padded, size))).toBe(hex(data));
      }),
      { numRuns: 1000 },
    );
  });

  it('all padding bytes are zero and the header holds the data length', () => {
    fc.assert(
      fc.property(paddedCase, ({ data, size }) => {
        const padded = padToSize(data, size);
        expect(new DataView(padded.buffer, padded.byteOffset).getUint32(0, false)).toBe(data.length);
        expect(padded.subarray(PADDING_HEADER_LENGTH + data.length).every((b) => b === 0)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('unpad rejects any non-zero padding byte', () => {
    const withPadding = paddedCase.filter(({ data, size }) => size > data.length + PADDING_HEADER_LENGTH);
    fc.assert(
      fc.property(withPadding, fc.nat(), fc.integer({ min: 1, max: 255 }), ({ data, size }, pos, value) => {
        const padded = padToSize(data, size);
        const start = PADDING_HEADER_LENGTH + data.length;
        padded[start + (pos % (size - start))] = value;
        const err = expectThrowsType(() => unpad(padded), PaddingError);
        expect(err.code).toBe('INVALID_PADDING');
      }),
      { numRuns: 1000 },
    );
  });

  it('unpad rejects a length header larger than the buffer allows', () => {
    fc.assert(
      fc.property(paddedCase, fc.integer({ min: 1, max: 0xffff_ffff }), ({ data, size }, excess) => {
        const padded = padToSize(data, size);
        const tooLong = Math.min(size - PADDING_HEADER_LENGTH + excess, 0xffff_ffff);
        new DataView(padded.buffer).setUint32(0, tooLong, false);
        expectThrowsType(() => unpad(padded), PaddingError);
      }),
      { numRuns: 1000 },
    );
  });

  /** Either unpad rejects with PaddingError, or the reading is the unique one (re-padding restores the bytes). */
  function checkUnpad(bytes: Uint8Array): boolean {
    let data: Uint8Array;
    try {
      data = unpad(bytes);
    } catch (err) {
      expect(err).toBeInstanceOf(PaddingError);
      return false;
    }
    expect(hex(padToSize(data, bytes.length))).toBe(hex(bytes));
    return true;
  }

  it('fuzz: 20,000 random byte strings are either the unique valid reading or a PaddingError', () => {
    // Almost all of these are rejected; the next property covers the accepting path.
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        checkUnpad(bytes);
      }),
      { numRuns: 20_000 },
    );
  });

  it('fuzz: padded buffers, intact or damaged, are either the unique valid reading or a PaddingError', () => {
    const candidates = fc
      .tuple(fc.uint8Array({ maxLength: 40 }), fc.nat({ max: 8 }), fc.nat(), fc.constantFrom('intact', 'flip', 'header', 'truncate'))
      .map(([data, slack, pos, damage]) => {
        const padded = padToSize(data, data.length + PADDING_HEADER_LENGTH + slack);
        if (damage === 'flip') padded[pos % padded.length] = padded[pos % padded.length]! ^ (1 << (pos % 8));
        if (damage === 'header') new DataView(padded.buffer).setUint32(0, data.length + 1 + (pos % 4), false);
        return damage === 'truncate' ? padded.subarray(0, pos % padded.length) : padded;
      });
    let valid = 0;
    fc.assert(
      fc.property(candidates, (bytes) => {
        if (checkUnpad(bytes)) valid++;
      }),
      { numRuns: 10_000 },
    );
    expect(valid).toBeGreaterThan(1000);
  });
});

describe('padding errors', () => {
  it('unpad rejects a buffer of the wrong expected size', () => {
    const padded = padToSize(unhex('01'), 16);
    expectThrowsType(() => unpad(padded, 15), PaddingError);
    expectThrowsType(() => unpad(padded, 17), PaddingError);
  });

  it('unpad rejects buffers shorter than the header', () => {
    for (let n = 0; n < PADDING_HEADER_LENGTH; n++) expectThrowsType(() => unpad(new Uint8Array(n)), PaddingError);
  });

  it('padToSize rejects invalid sizes and data that does not fit', () => {
    for (const size of [-1, 0, 3, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 32]) {
      const err = expectThrowsType(() => padToSize(new Uint8Array(), size), PaddingError);
      expect(err).toBeInstanceOf(CryptoError);
    }
    expectThrowsType(() => padToSize(new Uint8Array(13), 16), PaddingError);
    expectThrowsType(() => padToSize(new Uint8Array(1), 4), PaddingError);
  });

  it('unpad reads the header at the view offset, not the start of the underlying buffer', () => {
    const padded = padToSize(unhex('c0ffee'), 10);
    const backing = new Uint8Array(3 + padded.length);
    backing.set([0xff, 0xff, 0xff]);
    backing.set(padded, 3);
    const view = backing.subarray(3);
    expect(hex(unpad(view))).toBe('c0ffee');
  });

  it('unpad returns a copy, not a view into the padded buffer', () => {
    const padded = padToSize(unhex('0102'), 8);
    const data = unpad(padded);
    data[0] = 0xee;
    expect(hex(unpad(padded))).toBe('0102');
  });
});
