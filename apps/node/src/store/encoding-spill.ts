import { closeSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { randomKey, secretboxOpen, secretboxSeal } from '@pursuance/crypto';
import type { EncodingShelf } from '@pursuance/pursuance';
import { StoreCorruptError } from './errors.js';

/**
 * Where the node's logs keep the encodings of the events nobody is reading (the core's
 * held-event.ts): at a million events 810 MB that memory need not hold, since the fold and the
 * views read them back a chunk (up to 1 MB of events) at a time, in about the order written.
 *
 * A file in the data directory, unlinked as soon as it is created: it lives only as long as
 * this process holds it open, and a crash leaves nothing behind to clean or to trust. Each
 * chunk is sealed (secretbox) under a key made for this process and kept nowhere, so what
 * reaches the disk is noise to anyone, as the store is. The file only grows: space is not
 * reused when a log is dropped (a rebuild of the read models loads every log again, once).
 *
 * Synchronous, because a log's add is: a write per filled chunk (one per megabyte of events)
 * and a read per chunk read back. A write that fails (a full disk) keeps that chunk in memory:
 * the log goes on, with more memory. A read that fails is a damaged disk: StoreCorruptError.
 */
export class SealedSpill {
  readonly #fd: number;
  readonly #key = randomKey();
  #end = 0;
  #closed = false;

  private constructor(fd: number) {
    this.#fd = fd;
  }

  /** Create the file in `dir` (the node's private data directory) and unlink it at once. */
  public static open(dir: string): SealedSpill {
    const path = join(dir, `.spill-${process.pid}-${randomBytes(8).toString('hex')}`);
    const fd = openSync(path, 'wx+', 0o600);
    try {
      unlinkSync(path);
    } catch (cause) {
      closeSync(fd);
      throw cause;
    }
    return new SealedSpill(fd);
  }

  /** A shelf for one log: its chunks' places in the file. */
  public shelf(): EncodingShelf {
    const places: { offset: number; length: number }[] = [];
    return {
      put: (index, chunk) => {
        const place = this.#write(chunk);
        if (place === null) return false;
        places[index] = place;
        return true;
      },
      get: (index) => {
        const place = places[index];
        if (place === undefined) throw new StoreCorruptError(`no spilled chunk ${index}`);
        return this.#read(place.offset, place.length);
      },
    };
  }

  #write(chunk: Uint8Array): { offset: number; length: number } | null {
    if (this.#closed) return null;
    const sealed = secretboxSeal(this.#key, chunk);
    try {
      let written = 0;
      while (written < sealed.length) written += writeSync(this.#fd, sealed, written, sealed.length - written, this.#end + written);
    } catch {
      // Nothing kept points past #end: a part written before the failure is overwritten by the next chunk.
      return null;
    }
    const place = { offset: this.#end, length: sealed.length };
    this.#end += sealed.length;
    return place;
  }

  #read(offset: number, length: number): Uint8Array {
    // Its descriptor's number may belong to another file by now.
    if (this.#closed) throw new SpillClosedError();
    const sealed = new Uint8Array(length);
    let read = 0;
    while (read < length) {
      const n = readSync(this.#fd, sealed, read, length - read, offset + read);
      if (n === 0) throw new StoreCorruptError('a spilled chunk ends early');
      read += n;
    }
    try {
      return secretboxOpen(this.#key, sealed);
    } catch (cause) {
      throw new StoreCorruptError('a spilled chunk does not open', { cause });
    }
  }

  /** How many bytes the file holds (sealed chunks, 40 bytes each beyond the encodings). */
  public get size(): number {
    return this.#end;
  }

  public close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeSync(this.#fd);
  }
}

/** A log read its events' bytes after the node closed them away: a bug in the order of a stop. */
export class SpillClosedError extends Error {
  public readonly code = 'SPILL_CLOSED';
  public constructor() {
    super("the event encodings' spill file is closed");
    this.name = 'SpillClosedError';
  }
}
