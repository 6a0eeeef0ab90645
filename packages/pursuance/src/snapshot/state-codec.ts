import { z } from 'zod';
import { isUsableBoxKey, isUsableSigningKey, onionFromPublicKey, toHex, type CanonicalValue, type OnionName } from '@pursuance/crypto';
import { bytes } from '@pursuance/codec';
import type { EventId } from '../envelope.js';
import { RoleIdSchema, RulesSchema } from '../rules/schema.js';
import {
  LINK_GRANTS_MAX,
  LINK_INBOX_MAX,
  LINK_KEY_ORDINAL_MAX,
  LINKS_MAX,
  LinkGrantSchema,
  LinkSendSchema,
  MAX_RELAY_BUNDLE,
  MAX_RELAY_MIRRORS,
  ProfileSchema,
} from '../bodies.js';
import type { PursuanceId } from '../envelope.js';
import { profileProblem } from '../profile.js';
import {
  linkValue,
  relayValue,
  type KeyEpoch,
  type LinkKey,
  type LinkState,
  type MemberState,
  type Nomination,
  type PublicState,
  type RoleState,
  type TaskState,
} from '../state.js';
import { SnapshotInvalidError } from './errors.js';
import { runAtOnce } from '../steps.js';

/**
 * The WHOLE public state as canonical data, for a snapshot a joiner folds on from. The state
 * hash (state.ts) covers what members must agree on; resuming the fold needs more than that
 * (member keys, who introduced each key, who left knowing it, nomination electorates, the
 * founders' last activity), so this rendering is lossless: decode(encode(s)) folds exactly
 * like s. Lists, never maps keyed by member-chosen strings, so no id can be a prototype name
 * (the rules are the one object keyed by role ids, and RulesSchema guards those).
 */
const sorted = <T>(values: Iterable<T>): T[] => [...values].sort();
const byKey = <T>(map: ReadonlyMap<string, T>): [string, T][] => [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

export function encodeState(state: PublicState): CanonicalValue {
  return {
    id: state.id,
    name: state.name,
    description: state.description,
    rules: state.rules as unknown as CanonicalValue,
    rulesRevision: state.rulesRevision,
    founders: sorted(state.founders),
    members: byKey(state.members).map(([, m]) => ({
      key: m.key,
      name: m.name ?? null,
      roles: byKey(m.roleSince).map(([role, since]) => [role, since] as CanonicalValue),
      held: sorted(m.roles),
      addedBy: m.addedBy,
    })),
    roles: byKey(state.roles).map(([, r]) => ({
      id: r.id,
      holders: sorted(r.holders),
      epochs: r.epochs.map((e) => ({
        keyId: e.keyId,
        introducedBy: e.introducedBy,
        creator: e.creator,
        recipients: sorted(e.recipients),
        leftBy: [...e.leftBy],
        // Only where published, so snapshots of states without public keys encode as before.
        ...(e.pub ? { pub: { sig: e.pub.sig, box: e.pub.box } } : {}),
      })),
      rotationDueSince: r.rotationDueSince,
    })),
    tasks: byKey(state.tasks).map(([, t]) => ({
      id: t.id,
      audience: [...t.audience],
      parent: t.parent,
      createdBy: t.createdBy,
      closed: t.closed,
      ...(t.staleKey ? { staleKey: true } : {}),
      ...(t.origin ? { origin: { peer: t.origin.peer, role: t.origin.role } } : {}),
    })),
    relay: relayValue(state.relay),
    nominations: byKey(state.nominations).map(([, n]) => ({
      id: n.id,
      candidate: n.candidate,
      time: n.time,
      electorate: sorted(n.electorate),
      endorsers: sorted(n.endorsers),
      open: n.open,
    })),
    lastFounderActivity: state.lastFounderActivity,
    // Only while there is one, so snapshots of states without a profile encode as before.
    ...(state.profile ? { profile: { profile: state.profile.profile as unknown as CanonicalValue, by: state.profile.by } } : {}),
    // Likewise only while there are any.
    ...(state.links?.size ? { links: byKey(state.links).map(([, l]) => ({ ...(linkValue(l) as object), seen: sorted(l.seen) })) } : {}),
    ...(state.closedNonces?.size ? { closedNonces: byKey(state.closedNonces).map(([peer, seen]) => ({ peer, seen: sorted(seen) })) } : {}),
  };
}

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const onion = z.string().regex(/^[a-z2-7]{56}$/);
const time = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const list = <T extends z.ZodType>(item: T, max: number) => z.array(item).max(max);

const TaskSchema = z.strictObject({
  id: hex64,
  audience: list(RoleIdSchema, 16),
  parent: hex64.nullable(),
  createdBy: onion,
  closed: z.boolean(),
  staleKey: z.literal(true).optional(),
  origin: z.strictObject({ peer: hex64, role: RoleIdSchema }).optional(),
});

const StateSchema = z.strictObject({
  id: hex64,
  name: z.string().max(120),
  description: z.string().max(4000),
  rules: z.unknown(),
  rulesRevision: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  founders: list(onion, 64),
  members: list(
    z.strictObject({
      key: bytes(32),
      name: z.string().max(240).nullable(),
      roles: list(z.tuple([RoleIdSchema, z.number().int().min(0)]), 64),
      held: list(RoleIdSchema, 64),
      addedBy: hex64,
    }),
    100_000,
  ),
  roles: list(
    z.strictObject({
      id: RoleIdSchema,
      holders: list(onion, 100_000),
      epochs: list(
        z.strictObject({
          keyId: bytes(32),
          introducedBy: hex64,
          creator: onion,
          recipients: list(onion, 100_000),
          leftBy: list(hex64, 100_000),
          pub: z.strictObject({ sig: bytes(32), box: bytes(32) }).optional(),
        }),
        1_000_000,
      ),
      rotationDueSince: hex64.nullable(),
    }),
    1000,
  ),
  // Each task is checked on its own (TaskSchema), a slice at a time: a board of a hundred thousand tasks at once is a second's pause.
  tasks: list(z.unknown(), 10_000_000),
  relay: z.strictObject({
    bundle: z.string().max(MAX_RELAY_BUNDLE).nullable(),
    movedBy: hex64.nullable(),
    // Absent when there are none (relayValue), so an empty list is no encoding of any state.
    mirrors: z.array(z.string().min(1).max(MAX_RELAY_BUNDLE)).min(1).max(MAX_RELAY_MIRRORS).optional(),
  }),
  nominations: list(
    z.strictObject({
      id: hex64,
      candidate: onion,
      time,
      electorate: list(onion, 100_000),
      endorsers: list(onion, 64),
      open: z.boolean(),
    }),
    100_000,
  ),
  lastFounderActivity: time,
  profile: z.strictObject({ profile: ProfileSchema, by: hex64 }).optional(),
  links: z
    .array(
      z.strictObject({
        peer: hex64,
        name: z.string().min(1).max(240),
        openedBy: hex64,
        theirAnchor: RoleIdSchema,
        theirInbox: z.string().min(1).max(LINK_INBOX_MAX),
        ourInbox: z.string().min(1).max(LINK_INBOX_MAX),
        theyMay: list(LinkGrantSchema, LINK_GRANTS_MAX),
        ourAnchor: RoleIdSchema,
        weSend: list(LinkSendSchema, LINK_GRANTS_MAX),
        keys: list(
          z.strictObject({
            role: RoleIdSchema,
            n: z.number().int().min(1).max(LINK_KEY_ORDINAL_MAX),
            keyId: bytes(32),
            sig: bytes(32),
            box: bytes(32),
            validUntil: time,
            by: hex64,
            anchorN: z.number().int().min(1).max(LINK_KEY_ORDINAL_MAX),
            signer: bytes(32),
          }),
          2 * LINK_GRANTS_MAX + 1,
        ).min(1),
        seen: list(z.string().regex(/^[0-9a-f]{32}$/), 10_000_000),
        frozen: z.strictObject({ role: RoleIdSchema, n: z.number().int().min(1).max(LINK_KEY_ORDINAL_MAX), events: z.tuple([hex64, hex64]) }).nullable(),
      }),
    )
    .min(1)
    .max(LINKS_MAX)
    .optional(),
  closedNonces: z
    .array(z.strictObject({ peer: hex64, seen: list(z.string().regex(/^[0-9a-f]{32}$/), 10_000_000).min(1) }))
    .min(1)
    .max(100_000)
    .optional(),
});

const forReading = new WeakMap<object, PublicState>();

/**
 * A copy of a state the fold may change, sharing nothing mutable with `s` (keys, rules and ids
 * are never changed in place, so they are shared). Copying is several times cheaper than
 * decoding and checking the encoding again.
 */
export function cloneState(s: PublicState): PublicState {
  const roles = new Map<string, RoleState>();
  for (const [id, r] of s.roles) {
    const epochs = r.epochs.map((e) => ({ ...e, recipients: new Set(e.recipients), leftBy: [...e.leftBy] }));
    roles.set(id, { id, holders: new Set(r.holders), epochs, epochsById: new Map(epochs.map((e) => [e.keyIdHex, e])), rotationDueSince: r.rotationDueSince });
  }
  const members = new Map<OnionName, MemberState>();
  for (const [onion, m] of s.members) members.set(onion, { ...m, roles: new Set(m.roles), roleSince: new Map(m.roleSince) });
  const tasks = new Map<EventId, TaskState>();
  for (const [id, t] of s.tasks) tasks.set(id, { ...t, children: new Set(t.children) });
  const nominations = new Map<EventId, Nomination>();
  for (const [id, n] of s.nominations) nominations.set(id, { ...n, endorsers: new Set(n.endorsers) });
  const links = s.links && new Map([...s.links].map(([peer, l]) => [peer, { ...l, keys: new Map(l.keys), seen: new Set(l.seen) }]));
  const closedNonces = s.closedNonces && new Map([...s.closedNonces].map(([peer, seen]) => [peer, new Set(seen)]));
  return {
    ...s,
    founders: new Set(s.founders),
    members,
    roles,
    tasks,
    relay: { ...s.relay, mirrors: [...s.relay.mirrors] },
    nominations,
    ...(links ? { links } : {}),
    ...(closedNonces ? { closedNonces } : {}),
  };
}

/**
 * A snapshot's state for READING only (who is a member, the rules), decoded once per document:
 * decoding a big board takes a while, and a join reads it several times before folding. The
 * fold decodes its own copy (decodeState), which it changes.
 */
export function stateForReading(value: unknown): PublicState {
  if (typeof value !== 'object' || value === null) return decodeState(value);
  let state = forReading.get(value);
  if (!state) forReading.set(value, (state = decodeState(value)));
  return state;
}

/**
 * Rebuild a state from its encoding, checking that it hangs together: a snapshot comes from
 * peers, and attestation says only that some members vouch for its hash, not that its parts
 * agree with each other. Anything inconsistent is a SnapshotInvalidError, never a state the
 * fold would trip over later.
 */
export function decodeState(value: unknown): PublicState {
  return runAtOnce(decodeStateSteps(value, Infinity));
}

/** Tasks decodeStateSteps checks between two pauses. */
export const DECODE_TASKS_SLICE = 2000;

const schemaProblem = (error: z.ZodError): SnapshotInvalidError =>
  new SnapshotInvalidError(`the snapshot's state does not match its schema: ${error.issues[0]?.message ?? ''}`);

/**
 * decodeState as steps (steps.ts), pausing after every `every` tasks: a node resuming a kept fold
 * decodes a million events' state while its API answers.
 */
export function* decodeStateSteps(value: unknown, every = DECODE_TASKS_SLICE): Generator<void, PublicState> {
  const parsed = StateSchema.safeParse(value);
  if (!parsed.success) throw schemaProblem(parsed.error);
  const v = parsed.data;
  let sincePause = 0;
  function* pace(): Generator<void, void> {
    if (++sincePause < every) return;
    sincePause = 0;
    yield;
  }
  const rules = RulesSchema.safeParse(v.rules);
  if (!rules.success) throw new SnapshotInvalidError('the snapshot holds invalid rules');
  const fail = (why: string): never => {
    throw new SnapshotInvalidError(`the snapshot's state is inconsistent: ${why}`);
  };
  const unique = (values: readonly string[], what: string): void => {
    if (new Set(values).size !== values.length) fail(`${what} listed twice`);
  };

  const roles = new Map<string, RoleState>();
  for (const r of v.roles) {
    if (roles.has(r.id)) fail(`role "${r.id}" listed twice`);
    const epochs: KeyEpoch[] = r.epochs.map((e, i) => ({
      epoch: i,
      keyId: e.keyId,
      keyIdHex: toHex(e.keyId),
      introducedBy: e.introducedBy as EventId,
      creator: e.creator as OnionName,
      recipients: new Set(e.recipients as OnionName[]),
      leftBy: e.leftBy as EventId[],
      ...(e.pub ? { pub: e.pub } : {}),
    }));
    // A key attested by members still gets the checks any rotation gets: nobody seals to a weak one.
    for (const e of epochs) if (e.pub && (!isUsableBoxKey(e.pub.box) || !isUsableSigningKey(e.pub.sig))) fail(`role "${r.id}" has an unusable public key`);
    const epochsById = new Map(epochs.map((e) => [e.keyIdHex, e]));
    if (epochsById.size !== epochs.length) fail(`role "${r.id}" has a key id twice`);
    unique(r.holders, `a holder of "${r.id}"`);
    roles.set(r.id, { id: r.id, holders: new Set(r.holders as OnionName[]), epochs, epochsById, rotationDueSince: r.rotationDueSince as EventId | null });
  }
  for (const id of Object.keys(rules.data.roles)) if (!roles.has(id)) fail(`declared role "${id}" has no state`);

  const members = new Map<OnionName, MemberState>();
  for (const m of v.members) {
    const who = onionFromPublicKey(m.key);
    if (members.has(who)) fail(`member ${who} listed twice`);
    const roleSince = new Map<string, number>();
    for (const [role, since] of m.roles) {
      if (roleSince.has(role)) fail(`member ${who} holds "${role}" twice`);
      roleSince.set(role, since);
    }
    unique(m.held, `a role of ${who}`);
    for (const role of m.held) {
      if (!roles.get(role)?.holders.has(who)) fail(`member ${who} holds "${role}" without being its holder`);
    }
    members.set(who, { onion: who, key: m.key, name: m.name ?? undefined, roles: new Set(m.held), roleSince, addedBy: m.addedBy as EventId });
  }
  for (const r of roles.values()) {
    for (const h of r.holders) if (!members.get(h)?.roles.has(r.id)) fail(`"${r.id}" is held by ${h}, who does not hold it`);
  }
  unique(v.founders, 'a founder');

  const tasks = new Map<EventId, TaskState>();
  for (const item of v.tasks) {
    yield* pace();
    const task = TaskSchema.safeParse(item);
    if (!task.success) throw schemaProblem(task.error);
    const t = task.data;
    if (tasks.has(t.id as EventId)) fail(`task ${t.id} listed twice`);
    for (const role of t.audience) if (!roles.has(role)) fail(`task ${t.id} is addressed to unknown role "${role}"`);
    tasks.set(t.id as EventId, {
      id: t.id as EventId,
      audience: t.audience,
      parent: t.parent as EventId | null,
      createdBy: t.createdBy as OnionName,
      closed: t.closed,
      children: new Set(),
      ...(t.staleKey ? { staleKey: true as const } : {}),
      ...(t.origin ? { origin: { peer: t.origin.peer as PursuanceId, role: t.origin.role } } : {}),
    });
  }
  for (const t of tasks.values()) {
    yield* pace();
    if (t.parent === null) continue;
    const parent = tasks.get(t.parent);
    if (!parent) fail(`task ${t.id} names a parent that is not a task`);
    parent!.children.add(t.id);
  }
  // A parent chain that loops would hang every walk up the tree; the fold never makes one.
  for (const t of tasks.values()) {
    yield* pace();
    let steps = 0;
    for (let at: TaskState | undefined = t; at && at.parent !== null; at = tasks.get(at.parent)) {
      if (++steps > tasks.size) fail(`task ${t.id} is its own ancestor`);
    }
  }

  const mirrors = v.relay.mirrors ?? [];
  unique(mirrors, 'a relay mirror');
  if (v.relay.bundle !== null && mirrors.includes(v.relay.bundle)) fail('the relay is listed as its own mirror');

  const nominations = new Map<EventId, Nomination>();
  for (const n of v.nominations) {
    if (nominations.has(n.id as EventId)) fail(`nomination ${n.id} listed twice`);
    nominations.set(n.id as EventId, {
      id: n.id as EventId,
      candidate: n.candidate as OnionName,
      time: n.time,
      electorate: new Set(n.electorate as OnionName[]),
      endorsers: new Set(n.endorsers as OnionName[]),
      open: n.open,
    });
  }
  if (v.profile) {
    const p = v.profile.profile;
    const problem = profileProblem(p);
    if (problem !== null) fail(`the profile is invalid: ${problem}`);
    if (p.pursuance !== v.id) fail('the profile names another pursuance');
    const pub = roles.get(p.role)?.epochsById.get(toHex(p.keyId))?.pub;
    if (!pub || toHex(pub.sig) !== toHex(p.pub.sig) || toHex(pub.box) !== toHex(p.pub.box)) fail("the profile's keys are no epoch its role published");
  }
  const links = v.links && decodeLinks(v.links, v.id, fail);
  const closedNonces = v.closedNonces && decodeClosedNonces(v.closedNonces, links, fail);
  return {
    id: v.id as EventId,
    name: v.name,
    description: v.description,
    rules: rules.data,
    rulesRevision: v.rulesRevision,
    founders: new Set(v.founders as OnionName[]),
    members,
    roles,
    tasks,
    relay: { bundle: v.relay.bundle, movedBy: v.relay.movedBy as EventId | null, mirrors },
    nominations,
    lastFounderActivity: v.lastFounderActivity,
    ...(v.profile ? { profile: { profile: v.profile.profile, by: v.profile.by as EventId } } : {}),
    ...(links ? { links } : {}),
    ...(closedNonces ? { closedNonces } : {}),
  };
}

/** Spent nonces of closed links: one entry per peer, none for a link that is open (its own `seen` holds them), no nonce twice. */
function decodeClosedNonces(
  list: NonNullable<z.infer<typeof StateSchema>['closedNonces']>,
  links: ReadonlyMap<PursuanceId, LinkState> | undefined,
  fail: (why: string) => never,
): Map<PursuanceId, Set<string>> {
  const out = new Map<PursuanceId, Set<string>>();
  for (const { peer, seen } of list) {
    if (out.has(peer as PursuanceId)) fail(`the spent nonces of ${peer} are listed twice`);
    if (links?.has(peer as PursuanceId)) fail(`the link to ${peer} is open: its spent nonces are its own`);
    const set = new Set(seen);
    if (set.size !== seen.length) fail(`the spent nonces of ${peer} list one twice`);
    out.set(peer as PursuanceId, set);
  }
  return out;
}

/**
 * Links as a snapshot lists them, checked to hang together: one entry per peer, never this
 * pursuance, one key per role, their anchor's key among them and every key of a role the link
 * maps. (Signatures are not in the state: attesting members vouch for what they adopted.)
 */
function decodeLinks(list: NonNullable<z.infer<typeof StateSchema>['links']>, self: string, fail: (why: string) => never): Map<PursuanceId, LinkState> {
  const links = new Map<PursuanceId, LinkState>();
  for (const l of list) {
    if (l.peer === self) fail('a link names this pursuance');
    if (links.has(l.peer as PursuanceId)) fail(`the link to ${l.peer} is listed twice`);
    const keys = new Map<string, LinkKey>();
    for (const { role, ...k } of l.keys) {
      if (keys.has(role)) fail(`the link to ${l.peer} lists a key of "${role}" twice`);
      if (role !== l.theirAnchor && !l.theyMay.some((g) => g.theirRole === role) && !l.weSend.some((w) => w.theirs === role))
        fail(`the link to ${l.peer} holds a key of "${role}", a role it does not map`);
      keys.set(role, { ...k, by: k.by as EventId });
    }
    if (new Set(l.weSend.map((w) => `${w.ours} ${w.theirs}`)).size !== l.weSend.length) fail(`the link to ${l.peer} names a sending pair twice`);
    if (!keys.has(l.theirAnchor)) fail(`the link to ${l.peer} holds no anchor key`);
    links.set(l.peer as PursuanceId, {
      ...l,
      peer: l.peer as PursuanceId,
      openedBy: l.openedBy as EventId,
      keys,
      seen: new Set(l.seen.length === new Set(l.seen).size ? l.seen : fail(`the link to ${l.peer} lists a nonce twice`)),
      frozen: l.frozen ? { role: l.frozen.role, n: l.frozen.n, events: l.frozen.events as [EventId, EventId] } : null,
    });
  }
  return links;
}
