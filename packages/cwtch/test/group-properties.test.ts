import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { Identity, TEST_SCRYPT_PARAMS, randomKey, toHex } from '@pursuance/crypto';
import type { EncryptedGroupMessage } from '@pursuance/relay';
import { MemoryProfileStore, deriveGroupId, groupGenesis, sealGroupMessage, type GroupRecord } from '../src/index.js';
import { COLLECTIONS } from '../src/records.js';
import { GroupManager } from '../src/group-manager.js';
import { MAX_GROUP_PAYLOAD_PER_MESSAGE } from '../src/protocol-profile.js';
import { ProfileVault } from '../src/vault.js';
import { splitPayload } from '../src/fragments.js';
import type { GapReport } from '../src/group-log.js';
import { craftGroupMessage } from './support/helpers.js';

/**
 * The central property of the group log: the stored set and the gap report depend only on
 * WHICH messages arrived, never on their order or repetition. Each run picks a subset of a
 * fixed DAG of real, signed group messages (dropping some makes gaps and incomplete fragment
 * sets), mixes in messages that must be rejected, and delivers it in two random orders with
 * random duplicates through the full receive pipeline (trial decryption, verification, log,
 * persistence). Both runs must agree with each other and with a reference computed from the
 * subset alone.
 */
const senders = [Identity.generate(), Identity.generate(), Identity.generate()];
const outsider = Identity.generate();
const relay = Identity.generate().onion;
const key = randomKey();
const groupId = deriveGroupId(key, relay);
const genesis = groupGenesis(groupId);
const record: GroupRecord = {
  id: groupId,
  name: 'property',
  key,
  relay,
  bundle: 'unused',
  members: senders.map((s) => s.onion),
  owner: senders[0]!.onion,
  createdAt: 0,
  movedTo: null,
  movedFrom: null,
};

interface Pooled {
  readonly message: EncryptedGroupMessage;
  readonly id: string;
  readonly previous: string;
  /** `sender:fragment id` for fragments. */
  readonly set: string | undefined;
  readonly setSize: number;
}

const valid: Pooled[] = [];
const invalid: EncryptedGroupMessage[] = [];

beforeAll(() => {
  // A deterministic DAG: each message points at a pseudo-randomly chosen earlier one (forks
  // and merges, like concurrent senders), two of them are 3-part fragmented payloads.
  let seed = 7;
  const next = (n: number): number => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) % n;
  for (let i = 0; i < 20; i++) {
    const sender = senders[next(senders.length)]!;
    const fragmented = i === 5 || i === 13;
    const payload = new Uint8Array(fragmented ? MAX_GROUP_PAYLOAD_PER_MESSAGE * 2 + 100 : 20).fill(i);
    for (const part of splitPayload(payload)) {
      const previous = valid.length === 0 || next(5) === 0 ? genesis : valid[next(valid.length)]!.message.signature;
      const message = sealGroupMessage(record, sender, { timestamp: 1000 + i, previous, payload: part.data, fragment: part.fragment });
      valid.push({
        message,
        id: toHex(message.signature),
        previous: toHex(previous),
        set: part.fragment === undefined ? undefined : `${sender.onion}:${toHex(part.fragment.id)}`,
        setSize: part.fragment?.count ?? 1,
      });
    }
  }
  const base = { v: 1, t: 1, p: genesis, d: new Uint8Array(3) };
  invalid.push(
    craftGroupMessage(record, outsider, { ...base, s: senders[0]!.onion }), // forged sender
    sealGroupMessage(record, outsider, { timestamp: 1, previous: genesis, payload: new Uint8Array(1), fragment: undefined }), // non-member
    sealGroupMessage({ ...record, key: randomKey() }, senders[1]!, { timestamp: 1, previous: genesis, payload: new Uint8Array(1), fragment: undefined }), // wrong key
    craftGroupMessage(record, senders[2]!, {
      ...base,
      s: senders[2]!.onion,
      d: new Uint8Array(5),
      f: { m: new Uint8Array(16), i: 0, n: 2, l: MAX_GROUP_PAYLOAD_PER_MESSAGE + 5 },
    }), // truncated fragment
  );
});

interface Outcome {
  stored: string[];
  persisted: number;
  report: GapReport;
  delivered: string[];
}

async function deliver(sequence: readonly EncryptedGroupMessage[]): Promise<Outcome> {
  const store = new MemoryProfileStore();
  const { vault, identity } = await ProfileVault.create(store, 'pw', TEST_SCRYPT_PARAMS);
  const manager = new GroupManager({ vault, identity, now: () => 0 });
  await manager.addGroup(record);
  const delivered: string[] = [];
  manager.on('delivered', (d) => delivered.push(d.signature));
  for (const message of sequence) manager.receiveFromRelay(relay, message);
  await manager.flush();
  const log = manager.get(groupId).log;
  return {
    stored: [...log.entries()].map((e) => toHex(e.signature)).sort(),
    persisted: await vault.count(COLLECTIONS.groupMessages(groupId)),
    report: manager.gapReport(groupId),
    delivered: delivered.sort(),
  };
}

function reference(subset: readonly Pooled[]): Omit<Outcome, 'persisted'> {
  const ids = new Set(subset.map((p) => p.id));
  const missing = new Set<string>();
  for (const p of subset) if (p.previous !== toHex(genesis) && !ids.has(p.previous)) missing.add(p.previous);
  const sets = new Map<string, Pooled[]>();
  for (const p of subset) if (p.set !== undefined) sets.set(p.set, [...(sets.get(p.set) ?? []), p]);
  const incomplete = [...sets].filter(([, parts]) => parts.length < parts[0]!.setSize).map(([k]) => k);
  const delivered = [
    ...subset.filter((p) => p.set === undefined).map((p) => p.id),
    // A complete set is delivered once, under the signature of fragment 0.
    ...[...sets.values()].filter((parts) => parts.length === parts[0]!.setSize).map((parts) => valid.find((v) => v.set === parts[0]!.set)!.id),
  ];
  return {
    stored: [...ids].sort(),
    report: { missing: [...missing].sort(), incompleteFragments: incomplete.sort(), corruptFragments: [] },
    delivered: delivered.sort(),
  };
}

describe('group message sets (property)', () => {
  it('any delivery order and duplication yields the same stored set and the same gap report', async () => {
    const everything = () => [...valid.map((p) => p.message), ...invalid];
    await fc.assert(
      fc.asyncProperty(
        fc.subarray(
          valid.map((_, i) => i),
          { minLength: 0 },
        ),
        fc.infiniteStream(fc.nat()),
        async (chosen, randomness) => {
          const subset = chosen.map((i) => valid[i]!);
          const pool = [...subset.map((p) => p.message), ...invalid];
          // Two independent schedules over the same pool (derived from the stream).
          const it = randomness[Symbol.iterator]();
          const shuffle = (): EncryptedGroupMessage[] => {
            const sequence = pool.flatMap((m) => (it.next().value! % 4 === 0 ? [m, m] : [m]));
            for (let i = sequence.length - 1; i > 0; i--) {
              const j = it.next().value! % (i + 1);
              [sequence[i], sequence[j]] = [sequence[j]!, sequence[i]!];
            }
            return sequence;
          };
          const first = await deliver(shuffle());
          const second = await deliver(shuffle());
          const expected = reference(subset);
          expect(first).toEqual({ ...expected, persisted: subset.length });
          expect(second).toEqual(first);
        },
      ),
      { numRuns: 60, seed: 4_2026 },
    );
    // And the whole pool, delivered every which way, has no gaps at all.
    const all = await deliver(everything());
    expect(all.report).toEqual({ missing: [], incompleteFragments: [], corruptFragments: [] });
  });
});
