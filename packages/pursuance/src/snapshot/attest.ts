import { onionFromPublicKey, toHex, type OnionName } from '@pursuance/crypto';
import { isKind, type EventId, type SignedEvent } from '../envelope.js';
import { DEFAULT_SNAPSHOTS } from '../rules/schema.js';
import type { PublicState } from '../state.js';
import type { Snapshot } from './base.js';
import { SnapshotError, SnapshotProblem } from './errors.js';
import { stateForReading } from './state-codec.js';

/**
 * Whether a joiner may start from a snapshot: enough distinct members vouch for exactly this
 * document (its hash, frontier and state hash), as the snapshot's own rules require.
 *
 * What the joiner trusts, and why that is not circular: the attested state names who counts
 * (its members or founders), so a forger could invent members who vouch for a state that never
 * happened. Each counted attester must therefore come with a MEMBERSHIP PROOF: the signed
 * member.add that added them, and the one that added its author, and so on down to someone the
 * genesis names (the joiner holds the genesis: the pursuance id is its hash). An invented
 * identity has no such chain; a real member who may invite can still make one, which is why the
 * default asks for two founders, and why the joiner verifies the full history afterwards.
 */
export interface Attested {
  /** The members whose attestation counted, sorted. */
  readonly attesters: readonly OnionName[];
  readonly required: number;
}

const MAX_PROOF_DEPTH = 64;

/** How many distinct eligible attesters `state`'s rules require, and who is eligible. */
export function attestationPolicy(state: PublicState): { required: number; eligible: Set<OnionName> } {
  const rule = state.rules.snapshots ?? DEFAULT_SNAPSHOTS;
  const eligible = new Set(rule.from === 'founders' ? [...state.founders].filter((f) => state.members.has(f)) : state.members.keys());
  return { required: Math.max(1, Math.min(rule.attesters, eligible.size)), eligible };
}

/**
 * Check attestations (signed events, already verified and decoded: decodeEvent) and membership
 * proofs for `snapshot`. Throws SnapshotError (UNDER_ATTESTED) naming what is missing.
 */
export function checkAttestations(
  genesis: SignedEvent<'genesis'>,
  snapshot: Snapshot,
  attestations: readonly SignedEvent[],
  proofs: readonly SignedEvent[],
): Attested {
  const state = stateForReading(snapshot.base.state);
  const { required, eligible } = attestationPolicy(state);
  const genesisMembers = new Set<OnionName>([
    ...genesis.header.body.founders.map((k) => onionFromPublicKey(k)),
    ...genesis.header.body.members.map((m) => onionFromPublicKey(m.member)),
  ]);
  // Who each proof event added (a member may have been added more than once: any add counts).
  const addsOf = new Map<OnionName, SignedEvent<'member.add'>[]>();
  for (const p of proofs) {
    if (p.pursuanceId !== snapshot.pursuance || !isKind(p, 'member.add')) continue;
    const who = onionFromPublicKey(p.header.body.member);
    addsOf.set(who, [...(addsOf.get(who) ?? []), p]);
  }
  const proven = new Map<OnionName, boolean>();
  const isProven = (who: OnionName, depth: number): boolean => {
    if (genesisMembers.has(who)) return true;
    const known = proven.get(who);
    if (known !== undefined) return known;
    if (depth >= MAX_PROOF_DEPTH) return false;
    proven.set(who, false); // a cycle proves nothing
    const ok = (addsOf.get(who) ?? []).some((add) => isProven(add.author, depth + 1));
    proven.set(who, ok);
    return ok;
  };
  const frontier = [...snapshot.base.frontier].join();
  const counted = new Set<OnionName>();
  const refused: string[] = [];
  for (const a of attestations) {
    if (a.pursuanceId !== snapshot.pursuance || !isKind(a, 'snapshot.attest')) continue;
    const body = a.header.body;
    if (toHex(body.snapshot) !== snapshot.hash || toHex(body.stateHash) !== snapshot.base.stateHash) continue;
    if (body.frontier.map((id) => toHex(id) as EventId).join() !== frontier || body.events !== snapshot.base.events) continue;
    if (!eligible.has(a.author)) {
      refused.push(`${a.author} is not ${state.rules.snapshots?.from === 'members' ? 'a member' : 'a founder'} in the attested state`);
      continue;
    }
    if (!isProven(a.author, 0)) {
      refused.push(`${a.author} has no membership proof back to the genesis`);
      continue;
    }
    counted.add(a.author);
  }
  if (counted.size < required) {
    const detail = refused.length ? ` (${[...new Set(refused)].join('; ')})` : '';
    throw new SnapshotError(
      SnapshotProblem.UNDER_ATTESTED,
      `the snapshot is attested by ${counted.size} eligible member${counted.size === 1 ? '' : 's'}; its rules require ${required}${detail}`,
    );
  }
  return { attesters: [...counted].sort(), required };
}

/** The member.add chain that proves `who` a member (for an attester to send along). */
export function membershipProof(state: PublicState, who: OnionName, event: (id: EventId) => SignedEvent | undefined): SignedEvent[] {
  const out: SignedEvent[] = [];
  const seen = new Set<OnionName>();
  for (let at: OnionName | undefined = who; at !== undefined && !seen.has(at) && out.length < MAX_PROOF_DEPTH;) {
    seen.add(at);
    const m = state.members.get(at);
    const add = m ? event(m.addedBy) : undefined;
    if (!add || !isKind(add, 'member.add')) break;
    out.push(add);
    at = add.author;
  }
  return out;
}
