import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, truncateSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Identity } from '@pursuance/crypto';
import { decodeEvent, PursuanceAuthor, PursuanceLog } from '@pursuance/pursuance';
import { loadTemplates } from '../src/domain/templates.js';
import { DEFAULT_TEMPLATES_DIR } from '../src/start.js';
import { SealedSpill, SpillClosedError } from '../src/store/encoding-spill.js';
import { StoreCorruptError } from '../src/store/errors.js';

let dir: string;
const open: SealedSpill[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'node-spill-'));
});
afterEach(async () => {
  for (const s of open.splice(0)) s.close();
  await rm(dir, { recursive: true, force: true });
});

function spillIn(where: string): SealedSpill {
  const s = SealedSpill.open(where);
  open.push(s);
  return s;
}

/** The spill's file as this process sees it: unlinked, so only through /proc (Linux). */
function spillPath(): string {
  const fds = readdirSync('/proc/self/fd');
  const found = fds.map((fd) => `/proc/self/fd/${fd}`).filter((p) => /\.spill-\d+-[0-9a-f]+ \(deleted\)$/.test(safeLink(p)));
  expect(found).toHaveLength(1);
  return found[0]!;
}
const safeLink = (p: string): string => {
  try {
    return readlinkSync(p);
  } catch {
    return '';
  }
};

describe('SealedSpill (the logs’ event encodings out of memory)', () => {
  it('gives every chunk back as it was put, for several logs at once, in any order (property)', () => {
    const spill = spillIn(dir);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(2), fc.uint8Array({ maxLength: 3000 })), { maxLength: 30 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (puts, reads) => {
          const shelves = [spill.shelf(), spill.shelf(), spill.shelf()];
          const kept: { shelf: number; index: number; bytes: Uint8Array }[] = [];
          const next = [0, 0, 0];
          for (const [shelf, bytes] of puts) {
            const index = next[shelf]!++;
            expect(shelves[shelf]!.put(index, bytes)).toBe(true);
            kept.push({ shelf, index, bytes: Uint8Array.from(bytes) });
          }
          // The caller may reuse its chunk after put: what was written stays.
          for (const [, bytes] of puts) bytes.fill(0xaa);
          for (const r of [...reads, ...kept.keys()]) {
            if (kept.length === 0) break;
            const k = kept[r % kept.length]!;
            expect(shelves[k.shelf]!.get(k.index)).toEqual(k.bytes);
          }
        },
      ),
      { numRuns: 50 },
    );
  });

  it('leaves no file behind in the directory, and holds only sealed bytes on disk', () => {
    const spill = spillIn(dir);
    expect(readdirSync(dir)).toEqual([]);
    const secret = new TextEncoder().encode('the source meets at the north gate at nine '.repeat(50));
    const shelf = spill.shelf();
    expect(shelf.put(0, secret)).toBe(true);
    const onDisk = readFileSync(spillPath());
    expect(onDisk.length).toBe(secret.length + 40);
    expect(onDisk.includes(Buffer.from('north gate'))).toBe(false);
    expect(shelf.get(0)).toEqual(secret);
  });

  it('refuses a chunk damaged on disk, and one it never kept, with a typed error', () => {
    const spill = spillIn(dir);
    const shelf = spill.shelf();
    shelf.put(0, new Uint8Array(500).fill(7));
    shelf.put(1, new Uint8Array(500).fill(8));
    const fd = openSync(spillPath(), 'r+');
    writeSync(fd, Uint8Array.of(0xff), 0, 1, 100);
    closeSync(fd);
    const damaged = (() => {
      try {
        shelf.get(0);
      } catch (err) {
        return err;
      }
      return null;
    })();
    expect(damaged).toBeInstanceOf(StoreCorruptError);
    expect(damaged).toMatchObject({ message: 'a spilled chunk does not open', cause: expect.any(Error) });
    expect(shelf.get(1)).toEqual(new Uint8Array(500).fill(8));
    for (const index of [2, -1, 2 ** 40, Number.NaN]) expect(() => shelf.get(index)).toThrow(new StoreCorruptError(`no spilled chunk ${index}`));
    // A shelf that kept nothing yet has nothing, not even a first chunk.
    expect(() => spill.shelf().get(0)).toThrow(new StoreCorruptError('no spilled chunk 0'));
  });

  it('refuses a chunk the file lost the end of (a truncated file)', () => {
    const spill = spillIn(dir);
    const shelf = spill.shelf();
    shelf.put(0, new Uint8Array(300).fill(1));
    shelf.put(1, new Uint8Array(300).fill(2));
    truncateSync(spillPath(), 340 + 100);
    expect(shelf.get(0)).toEqual(new Uint8Array(300).fill(1));
    expect(() => shelf.get(1)).toThrow(new StoreCorruptError('a spilled chunk ends early'));
  });

  it('after close, keeps nothing more (the log keeps it in memory) and reads nothing', () => {
    const spill = spillIn(dir);
    const shelf = spill.shelf();
    shelf.put(0, new Uint8Array([1, 2, 3]));
    spill.close();
    // The lowest free descriptor: most likely the spill's own, now another file's.
    const other = join(dir, 'other');
    const fd = openSync(other, 'w+');
    try {
      expect(shelf.put(1, new Uint8Array([4]))).toBe(false);
      expect(readFileSync(other).length).toBe(0);
      expect(() => shelf.get(0)).toThrow(SpillClosedError);
      expect(() => shelf.get(0)).toThrow(
        expect.objectContaining({ code: 'SPILL_CLOSED', name: 'SpillClosedError', message: "the event encodings' spill file is closed" }),
      );
    } finally {
      closeSync(fd);
    }
    spill.close();
  });

  it('serves a log its events: the same state and bytes as a log that keeps them in memory, with most of them on disk', async () => {
    const rules = (await loadTemplates(DEFAULT_TEMPLATES_DIR)).find((t) => t.id === 'activist-cell')!.rules;
    let t = 1_800_000_000_000;
    const founder = PursuanceAuthor.create(Identity.generate(), { name: 'Cell', rules }, () => (t += 1000));
    for (let i = 0; i < 300; i++) founder.createTask({ audience: ['member'], title: `task ${i}`, body: 'b'.repeat(200) });
    const sent = [...founder.log.events()].map((e) => Uint8Array.from(e.bytes));
    const spill = spillIn(dir);
    const spilled = new PursuanceLog(sent[0]!, { encodings: spill.shelf() });
    spilled.addAll(sent.slice(1));
    const held = new PursuanceLog(sent[0]!);
    held.addAll(sent.slice(1));
    expect(spilled.stateHash()).toBe(held.stateHash());
    const total = sent.reduce((n, b) => n + b.length, 0);
    expect(spill.size).toBeGreaterThan(total / 2);
    for (const bytes of sent) expect(spilled.event(decodeEvent(bytes).id)!.bytes).toEqual(bytes);
  });
});
