import { describe, expect, it } from 'vitest';
import { Identity, toHex } from '@pursuance/crypto';
import { groupGenesis } from '../src/index.js';
import { GroupLog, type LogEntry } from '../src/group-log.js';
import { MAX_GROUP_PAYLOAD_PER_MESSAGE } from '../src/protocol-profile.js';
import { splitPayload } from '../src/fragments.js';

const alice = Identity.generate().onion;
const groupId = '0123456789abcdef0123456789abcdef';
const genesis = groupGenesis(groupId);
let counter = 0;

function entry(previous: Uint8Array, extra: Partial<LogEntry> = {}): LogEntry {
  const signature = new Uint8Array(64);
  new DataView(signature.buffer).setUint32(0, ++counter);
  return {
    signature,
    previous,
    sender: alice,
    timestamp: counter,
    payload: new Uint8Array([counter & 255]),
    fragment: undefined,
    own: false,
    acked: false,
    source: 'relay',
    ...extra,
  };
}

describe('GroupLog', () => {
  it('reports a referenced previous signature never seen as a gap, and closes it when it arrives', () => {
    const log = new GroupLog(groupId, genesis);
    const m1 = entry(genesis);
    const m2 = entry(m1.signature);
    const m3 = entry(m2.signature);
    expect(log.add(m1)).toMatchObject({ added: true, newGap: undefined });
    expect(log.add(m3)).toMatchObject({ added: true, newGap: toHex(m2.signature) });
    expect(log.gapReport().missing).toEqual([toHex(m2.signature)]);
    expect(log.add(m2, { advanceHead: false })).toMatchObject({ added: true, newGap: undefined });
    expect(log.gapReport()).toEqual({ missing: [], incompleteFragments: [], corruptFragments: [] });
    // Out-of-band inserts do not become the head our next message points at.
    expect(log.head()).toBe(toHex(m3.signature));
  });

  it('drops duplicates and delivers each message once', () => {
    const log = new GroupLog(groupId, genesis);
    const m1 = entry(genesis);
    expect(log.add(m1).added).toBe(true);
    expect(log.add({ ...m1 }).added).toBe(false);
    expect(log.size).toBe(1);
    expect(log.delivered()).toHaveLength(1);
  });

  it('reassembles fragments in any order, exactly once, and never delivers an incomplete set', () => {
    const payload = new Uint8Array(MAX_GROUP_PAYLOAD_PER_MESSAGE * 2 + 17).map((_, i) => i % 256);
    const parts = splitPayload(payload);
    const entries = parts.map((p) => entry(genesis, { payload: p.data, fragment: p.fragment }));
    const log = new GroupLog(groupId, genesis);
    expect(log.add(entries[2]!)).toMatchObject({ delivered: undefined });
    expect(log.add(entries[0]!)).toMatchObject({ delivered: undefined });
    expect(log.gapReport().incompleteFragments).toEqual([`${alice}:${toHex(parts[0]!.fragment!.id)}`]);
    expect(log.delivered()).toEqual([]);
    const done = log.add(entries[1]!);
    expect(done.added && done.delivered?.payload).toEqual(payload);
    expect(done.added && done.delivered?.parts).toEqual(entries.map((e) => toHex(e.signature)));
    expect(log.gapReport().incompleteFragments).toEqual([]);
  });

  it('marks a set whose parts disagree as corrupt whatever the order; a conflict seen before completion blocks delivery', () => {
    const parts = splitPayload(new Uint8Array(MAX_GROUP_PAYLOAD_PER_MESSAGE + 10));
    const good = parts.map((p) => entry(genesis, { payload: p.data, fragment: p.fragment }));
    const conflicting = entry(genesis, { payload: parts[0]!.data, fragment: { ...parts[0]!.fragment!, index: 0 } });
    for (const order of [
      [good[0]!, conflicting, good[1]!],
      [conflicting, good[1]!, good[0]!],
    ]) {
      const log = new GroupLog(groupId, genesis);
      const delivered = order.map((e) => log.add(e)).filter((r) => r.added && r.delivered !== undefined);
      expect(log.gapReport().corruptFragments).toHaveLength(1);
      expect(log.gapReport().incompleteFragments).toEqual([]);
      // A complete, consistent set seen before the conflicting part was delivered (once); the
      // report still shows the equivocation afterwards.
      expect(delivered).toHaveLength(order[0] === conflicting ? 1 : 0);
    }
  });
});
