import { onionFromPublicKey, toHex, type OnionName } from '@pursuance/crypto';
import type { EventBody } from './bodies.js';
import type { SignedEvent } from './envelope.js';
import { RejectionCode } from './errors.js';
import { epochPub, rolePubProblem } from './keys.js';
import { newRoleState, type MemberState, type PublicState } from './state.js';

/** Build the initial public state from a genesis event, or say why the genesis is invalid. */
export function stateFromGenesis(e: SignedEvent): { ok: true; state: PublicState } | { ok: false; code: RejectionCode; reason: string } {
  const h = e.header;
  const fail = (reason: string) => ({ ok: false as const, code: RejectionCode.INVALID_GENESIS, reason });
  if (h.kind !== 'genesis') return fail('the first event must be a genesis');
  if (h.seq !== 1 || h.parents.length !== 0 || h.audience.length !== 0) return fail('a genesis has seq 1, no parents and no audience');
  const b = h.body as EventBody<'genesis'>;
  const founders = new Set<OnionName>(b.founders.map((k) => onionFromPublicKey(k)));
  if (founders.size !== b.founders.length) return fail('founders are listed twice');
  if (!founders.has(e.author)) return fail('the genesis must be signed by one of its founders');

  const state: PublicState = {
    id: e.id,
    name: b.name,
    description: b.description,
    rules: b.rules,
    rulesRevision: 0,
    founders,
    members: new Map(),
    roles: new Map(Object.keys(b.rules.roles).map((r) => [r, newRoleState(r)])),
    tasks: new Map(),
    relay: { bundle: b.relay, movedBy: null, mirrors: [] },
    nominations: new Map(),
    lastFounderActivity: h.time,
  };
  const addMember = (key: Uint8Array, name: string | undefined): MemberState => {
    const onion = onionFromPublicKey(key);
    const m: MemberState = { onion, key, name, roles: new Set(), roleSince: new Map(), addedBy: e.id };
    state.members.set(onion, m);
    return m;
  };
  for (const entry of b.members) {
    const onion = onionFromPublicKey(entry.member);
    if (state.members.has(onion)) return fail(`member ${onion} is listed twice`);
    const m = addMember(entry.member, entry.name);
    for (const role of entry.roles) {
      const r = state.roles.get(role);
      if (!r) return fail(`member ${onion} is given an undeclared role "${role}"`);
      m.roles.add(role);
      m.roleSince.set(role, 0);
      r.holders.add(onion);
    }
  }
  for (const key of b.founders) if (!state.members.has(onionFromPublicKey(key))) addMember(key, undefined);

  for (const rot of b.keys) {
    const r = state.roles.get(rot.role);
    if (!r) return fail(`a key for undeclared role "${rot.role}"`);
    if (r.epochs.length > 0) return fail(`two initial keys for "${rot.role}"`);
    const recipients = new Set<OnionName>();
    for (const lb of rot.lockboxes) {
      const onion = onionFromPublicKey(lb.to);
      if (!r.holders.has(onion) || recipients.has(onion)) return fail(`initial key of "${rot.role}" sent to a non-holder or twice`);
      recipients.add(onion);
    }
    // The genesis cannot name the pursuance id (it is the genesis' own id): its proofs bind null.
    const pubProblem = rot.pub ? rolePubProblem(rot.pub, null, rot.role, rot.keyId) : null;
    if (pubProblem) return fail(`initial key of "${rot.role}": ${pubProblem}`);
    const keyIdHex = toHex(rot.keyId);
    const epoch = { epoch: 0, keyId: rot.keyId, keyIdHex, introducedBy: e.id, creator: e.author, recipients, leftBy: [], ...epochPub(rot) };
    r.epochs.push(epoch);
    r.epochsById.set(keyIdHex, epoch);
  }
  return { ok: true, state };
}
