import { randomBytes } from 'node:crypto';
import {
  equalBytes,
  fromHex,
  onionFromPublicKey,
  publicKeyFromOnion,
  sealToIdentity,
  sha256,
  toHex,
  type CanonicalValue,
  type Identity,
  type RoleKeyPair,
  type OnionName,
} from '@pursuance/crypto';
import {
  BODY_SCHEMAS,
  CONTENT_SCHEMAS,
  SubmissionContentSchema,
  displayNameProblem,
  type EventBody,
  type EventKind,
  type RelayMirrorBody,
  type Rotation,
  type Share,
  type TaskContent,
  type TaskContentKind,
} from './bodies.js';
import { signEvent, unsignedCandidate, type EventId, type PursuanceId, type SignedEvent } from './envelope.js';
import { ActionNotAllowedError, ContentUnreadableError, RejectionCode, type Rejection } from './errors.js';
import { Keyring, boundContent, makeRotation, makeShare, newRoleKey, openContent, roleKeyPair, rolePubMismatch, sealContent, type RoleKey } from './keys.js';
import { InvalidProfileError, signProfile, type NewProfile, type Profile } from './profile.js';
import {
  HOUR_MS,
  InvalidAnnouncementError,
  InvalidLinkOfferError,
  announceableKeys,
  announcedRoles,
  sealLinkTask,
  signAnnouncement,
  signCredential,
  signLinkOffer,
  type Announcement,
  type LinkOffer,
  type LinkParcel,
  type LinkTaskContent,
} from './link.js';
import { encodeLinkPost } from './link-post.js';
import { DAY_MS, LINK_KEYS_MAX_DAYS } from './bodies.js';
import { openSubmission, sealSubmission } from './submission.js';
import { InvalidVouchError, signVouch, type Vouch } from './vouch.js';
import { PursuanceLog } from './log.js';
import type { Snapshot } from './snapshot/base.js';
import { PERMISSION_OF } from './permissions.js';
import { checkPlain, checkRole, checkTask } from './rules/compile.js';
import { declaredRole, type RoleId, type Rules, type TaskAction } from './rules/schema.js';
import type { KeyEpoch, LinkGrant, LinkSend, PublicState } from './state.js';
import { buildTaskView, collectKeys, type MemberViewResult } from './view.js';

export interface NewPursuance {
  readonly name: string;
  readonly description?: string;
  readonly rules: Rules;
  /** Other founders (ed25519 public keys); the creator is always a founder. */
  readonly cofounders?: readonly Uint8Array[];
  /** Roles every founder holds from the start (default: every role, so founders read all). */
  readonly founderRoles?: readonly RoleId[];
  readonly relay?: string | null;
  /** The creator's display name, carried in the genesis (a valid display name; see bodies.ts). */
  readonly founderName?: string;
}

export interface NewTask {
  readonly audience: readonly RoleId[];
  readonly parent?: EventId | null;
  readonly title: string;
  readonly body?: string;
  readonly assignees?: { members?: readonly OnionName[]; roles?: readonly RoleId[] };
  readonly labels?: readonly string[];
  readonly due?: number | null;
}

export interface AuthorOptions {
  /**
   * Fresh 32-byte secrets for new role keys, each ALREADY persisted by the caller: a key must
   * exist at rest before anything is signed or sealed with it, or a rotation that leaves its
   * creator out of the lockboxes would lose the key on a restart. Default: random, unkept.
   */
  readonly keySecret?: () => Uint8Array;
  /** This member's decrypted view (for workflow checks); default: built from the log. */
  readonly view?: () => MemberViewResult;
}

/** Rejection codes of a lost key race: the same intent, re-sealed on the current keys, is safe to re-send. */
const KEY_RACE_CODES = new Set<string>([RejectionCode.LOCKBOX_INVALID, RejectionCode.STALE_EPOCH, RejectionCode.UNKNOWN_KEY]);

/**
 * A member acting on a pursuance: builds each event, signs it with the next sequence number
 * on the current heads, and checks it with the very fold every peer runs before returning
 * it. An action the rules forbid never leaves this object: it throws ActionNotAllowedError
 * with the reason (and the denying rule), and nothing is added to the log.
 */
export class PursuanceAuthor {
  public readonly keyring: Keyring;

  public constructor(
    public readonly identity: Identity,
    public readonly log: PursuanceLog,
    keyring?: Keyring,
    private readonly clock: () => number = Date.now,
    private readonly options: AuthorOptions = {},
  ) {
    this.keyring = keyring ?? collectKeys(log, identity);
  }

  /** Create a pursuance: a genesis with the rules, founders, and a first key per role. */
  public static create(identity: Identity, spec: NewPursuance, clock: () => number = Date.now, options: AuthorOptions = {}): PursuanceAuthor {
    if (spec.founderName !== undefined) checkDisplayName(spec.founderName);
    const founders = [identity.publicKey, ...(spec.cofounders ?? []).filter((k) => !equalBytes(k, identity.publicKey))];
    const founderRoles = [...(spec.founderRoles ?? Object.keys(spec.rules.roles))].sort();
    const keys = founderRoles.map((role) => newRoleKey(role, options.keySecret?.()));
    const body: EventBody<'genesis'> = {
      name: spec.name,
      description: spec.description ?? '',
      founders,
      rules: spec.rules,
      members: founders.map((member) => ({
        member,
        ...(spec.founderName !== undefined && equalBytes(member, identity.publicKey) ? { name: spec.founderName } : {}),
        roles: founderRoles,
      })),
      keys: keys.map((k) => makeRotation(k, founders, null)),
      relay: spec.relay ?? null,
      nonce: new Uint8Array(randomBytes(16)),
    };
    const genesis = signEvent(identity, { pursuance: null, seq: 1, parents: [], time: clock(), kind: 'genesis', audience: [], body });
    const keyring = new Keyring();
    for (const k of keys) keyring.add(k);
    return new PursuanceAuthor(identity, new PursuanceLog(genesis), keyring, clock, options);
  }

  public get state(): PublicState {
    return this.log.state();
  }

  /** Learn keys from lockboxes addressed to us that arrived since (call after ingesting events). */
  public refreshKeys(): void {
    collectKeys(this.log, this.identity, this.keyring);
  }

  /** The sequence number the next event of ours takes. */
  #nextSeq(): number {
    return this.log.lastSeq(this.identity.onion) + 1;
  }

  #header<K extends EventKind>(kind: K, body: EventBody<K>, audience: readonly RoleId[], seq: number) {
    return {
      pursuance: fromHex(this.log.id),
      seq,
      parents: this.log.heads().map((id) => fromHex(id)),
      time: this.clock(),
      kind,
      audience,
      body,
    };
  }

  /**
   * Would the fold accept this author's `kind` event with `body` on top of the log as it is now?
   * Built as the next event would be (sequence, heads, clock) and judged by the log's own dry
   * run: the fold's answer, not a second copy of its rules. Nothing is signed or kept.
   */
  public wouldAccept<K extends EventKind>(kind: K, body: EventBody<K>, audience: readonly RoleId[] = []): Rejection | null {
    return this.#check(kind, body, audience);
  }

  #check<K extends EventKind>(kind: K, body: EventBody<K>, audience: readonly RoleId[] = []): Rejection | null {
    return this.log.dryRun(unsignedCandidate(this.identity, this.#header(kind, body, audience, this.#nextSeq())));
  }

  #publish<K extends EventKind>(kind: K, body: EventBody<K>, audience: readonly RoleId[] = [], seq = this.#nextSeq()): SignedEvent<K> {
    if (seq !== this.#nextSeq()) throw new ActionNotAllowedError(RejectionCode.SEQUENCE_GAP, 'the log changed while the event was being built');
    const header = this.#header(kind, body, audience, seq);
    // Checked with the very checks every peer applies (sequence included) BEFORE anything is signed.
    const rejection = this.log.dryRun(unsignedCandidate(this.identity, header));
    if (rejection) throw new ActionNotAllowedError(rejection.code, rejection.reason, rejection.rule);
    const event = signEvent(this.identity, header);
    // Never keep an event we refuse ourselves: the next event would name it as a parent.
    const refused = this.log.addOwn(event);
    if (refused) throw new ActionNotAllowedError(refused.code, refused.reason, refused.rule);
    return event;
  }

  #newKey(role: RoleId): RoleKey {
    return newRoleKey(role, this.options.keySecret?.());
  }

  /**
   * Whether `member` may move the pursuance's relay under the current rules (a move to the same
   * relay re-keys its group: nodes leave that to such members after a departure).
   */
  public mayMoveRelay(member: OnionName = this.identity.onion): boolean {
    const roles = this.state.members.get(member)?.roles;
    if (!roles) return false;
    const { action, subject } = PERMISSION_OF['relay.move'];
    return checkPlain(this.log.applier().ability(member), [...roles].sort(), action, subject).ok;
  }

  #mayRotate(role: RoleId): boolean {
    return this.#mayRotateAs(this.identity.onion, role);
  }

  /** Keys of `role` we hold that `recipient` may receive: the current one, and history where allowed. */
  #sharesFor(role: RoleId, recipients: readonly Uint8Array[], includeHistory: boolean): Share[] {
    const r = this.state.roles.get(role);
    if (!r || r.epochs.length === 0) return [];
    const epochs = includeHistory && declaredRole(this.state.rules, role)?.history === 'all' ? r.epochs : [r.epochs.at(-1)!];
    const out: Share[] = [];
    for (const epoch of epochs) {
      const k = this.keyring.get(epoch.keyIdHex);
      if (k) out.push(makeShare(k, recipients));
    }
    return out;
  }

  #rotation(role: RoleId, excluded: ReadonlySet<OnionName>): Rotation {
    const r = this.state.roles.get(role);
    if (!r || !declaredRole(this.state.rules, role)) throw new ActionNotAllowedError(RejectionCode.UNKNOWN_TARGET, `role "${role}" does not exist`);
    const k = this.#newKey(role);
    const holders = [...r.holders].filter((o) => !excluded.has(o)).sort();
    this.keyring.add(k);
    return makeRotation(
      k,
      holders.map((o) => this.state.members.get(o)!.key),
      this.log.id,
    );
  }

  // --- membership -----------------------------------------------------------------------

  public addMember(memberKey: Uint8Array, options: { name?: string; roles?: readonly RoleId[] } = {}): SignedEvent<'member.add'> {
    return this.#publish('member.add', this.#addMemberBody(memberKey, options));
  }

  /**
   * Would addMember(memberKey, options) be accepted on top of the log as it is now? The same
   * event is built and judged by the log's own dry run; nothing is signed or kept. For
   * deciding ahead of time (an invite pre-approved with roles) without a second copy of the rules.
   */
  public checkAddMember(memberKey: Uint8Array, options: { name?: string; roles?: readonly RoleId[] } = {}): Rejection | null {
    return this.#check('member.add', this.#addMemberBody(memberKey, options));
  }

  #addMemberBody(memberKey: Uint8Array, options: { name?: string; roles?: readonly RoleId[] }): EventBody<'member.add'> {
    if (options.name) checkDisplayName(options.name);
    const roles = [...new Set(options.roles ?? [])].sort();
    const keys = roles.flatMap((role) => this.#sharesFor(role, [memberKey], true));
    return { member: memberKey, ...(options.name ? { name: options.name } : {}), roles, keys };
  }

  /**
   * Expel a member; rotates every role they hold that we may rotate (others become due). With
   * `groupInvite` (a new Cwtch group's invite), the invite is sealed to every member who stays,
   * so the removed member also loses the group: it stops receiving and cannot post there.
   */
  public removeMember(member: OnionName, reason?: string, groupInvite?: Uint8Array): SignedEvent<'member.remove'> {
    const target = this.state.members.get(member);
    if (!target) throw new ActionNotAllowedError(RejectionCode.UNKNOWN_TARGET, `${member} is not a member`);
    const excluded = new Set([member]);
    // Every key they may know (held, received or made), not only their roles' (others become due).
    const known = this.log
      .applier()
      .rolesKnownBy(member)
      .filter((r) => declaredRole(this.state.rules, r));
    const rotations = known.filter((r) => this.#mayRotate(r)).map((r) => this.#rotation(r, excluded));
    const invites = groupInvite
      ? [...this.state.members.values()]
          .filter((m) => m.onion !== member)
          .sort((a, b) => (a.onion < b.onion ? -1 : 1))
          .map((m) => ({ to: m.key, box: sealToIdentity(m.key, groupInvite) }))
      : undefined;
    return this.#publish('member.remove', { member: target.key, ...(reason ? { reason } : {}), rotations, ...(invites ? { invites } : {}) });
  }

  /** Set our own display name in this pursuance (any member; see fold/membership.ts memberRename). */
  public rename(name: string): SignedEvent<'member.rename'> {
    checkDisplayName(name);
    return this.#publish('member.rename', { name });
  }

  public leave(): SignedEvent<'member.leave'> {
    return this.#publish('member.leave', {});
  }

  public assignRole(member: OnionName, role: RoleId): SignedEvent<'role.assign'> {
    const target = this.state.members.get(member);
    if (!target) throw new ActionNotAllowedError(RejectionCode.UNKNOWN_TARGET, `${member} is not a member`);
    return this.#publish('role.assign', { member: target.key, role, keys: this.#sharesFor(role, [target.key], true) });
  }

  public removeRole(member: OnionName, role: RoleId): SignedEvent<'role.remove'> {
    const target = this.state.members.get(member);
    if (!target) throw new ActionNotAllowedError(RejectionCode.UNKNOWN_TARGET, `${member} is not a member`);
    const rotation = this.#mayRotate(role) && this.state.roles.get(role)?.holders.has(member) ? this.#rotation(role, new Set([member])) : null;
    return this.#publish('role.remove', { member: target.key, role, rotation });
  }

  // --- rules, keys, relay, succession -------------------------------------------------------

  public changeRules(rules: Rules): SignedEvent<'rules.change'> {
    return this.#publish('rules.change', { rules });
  }

  public rotateKeys(roles: readonly RoleId[]): SignedEvent<'keys.rotate'> {
    return this.#publish('keys.rotate', { rotations: [...new Set(roles)].sort().map((r) => this.#rotation(r, new Set())) });
  }

  /**
   * Roles due for rotation that fall to us: a holder left without a rotation, or left in a
   * departure a rotation raced (fold/keys.ts validateRotations marks such a key as known to
   * them). Replacing a key falls to the member who made it, while they are a member who may
   * rotate the role. When they are not — they left (often in the very departure that made the
   * role due), were removed, or lost the right — it falls to whoever is first in rendezvous order
   * for the departure among the members who may (#rotationLine): every member works out the
   * same one, so the role is not left waiting for someone who will never rotate it. `skip` names
   * roles the caller already answered for this same departure. Empty when none.
   */
  public dueRotations(skip: (role: RoleId, dueSince: EventId) => boolean = () => false): RoleId[] {
    return this.rotationTurns(skip)
      .filter((t) => t.turn === 0)
      .map((t) => t.role);
  }

  /**
   * Where we stand in line to rotate each role that is due (and that we may rotate): turn 0 is
   * the member dueRotations names; then the other members who may, in the same rendezvous order.
   * A node waits its turn times a stagger before stepping in, so a role is not left due for good
   * when the member it falls to is offline; if two step in, both rotations are valid.
   */
  public rotationTurns(skip: (role: RoleId, dueSince: EventId) => boolean = () => false): { role: RoleId; dueSince: EventId; turn: number }[] {
    const out: { role: RoleId; dueSince: EventId; turn: number }[] = [];
    for (const [role, r] of this.state.roles) {
      const due = r.rotationDueSince;
      if (due === null || !declaredRole(this.state.rules, role) || !this.#mayRotate(role) || skip(role, due)) continue;
      const turn = this.#rotationLine(role, due).indexOf(this.identity.onion);
      if (turn >= 0) out.push({ role, dueSince: due, turn });
    }
    return out.sort((a, b) => (a.role < b.role ? -1 : 1));
  }

  #mayRotateAs(member: OnionName, role: RoleId): boolean {
    const roles = this.state.members.get(member)?.roles;
    return roles !== undefined && checkRole(this.log.applier().ability(member), [...roles].sort(), PERMISSION_OF['keys.rotate'].action, role).ok;
  }

  /**
   * Who replaces the key of a due role, in turn: the key's maker while they are a member who may
   * rotate it, then the other members who may, by SHA-256(departure ‖ role ‖ onion), least first.
   */
  #rotationLine(role: RoleId, departure: EventId): OnionName[] {
    const maker = this.state.roles.get(role)?.epochs.at(-1)?.creator;
    const ranked: { onion: OnionName; rank: string }[] = [];
    for (const onion of this.state.members.keys()) {
      if (onion === maker || !this.#mayRotateAs(onion, role)) continue;
      // Hex of equal-length digests orders as the bytes do.
      ranked.push({ onion, rank: toHex(sha256(new TextEncoder().encode(`${departure}\u0000${role}\u0000${onion}`))) });
    }
    ranked.sort((a, b) => (a.rank < b.rank ? -1 : 1));
    const makerMay = maker !== undefined && this.#mayRotateAs(maker, role);
    return [...(makerMay ? [maker] : []), ...ranked.map((r) => r.onion)];
  }

  /** Give every current holder who lacks it the current key of each role we hold a key for. */
  public shareMissingKeys(): SignedEvent<'keys.share'> | null {
    const shares: Share[] = [];
    for (const [role, r] of this.state.roles) {
      const current = r.epochs.at(-1);
      if (!current || !this.keyring.has(current.keyIdHex)) continue;
      const lacking = [...r.holders].filter((o) => !current.recipients.has(o)).sort();
      if (lacking.length === 0) continue;
      const mine = this.state.members.get(this.identity.onion);
      if (!mine?.roles.has(role) && !this.#mayRotate(role)) continue;
      shares.push(
        makeShare(
          this.keyring.get(current.keyIdHex)!,
          lacking.map((o) => this.state.members.get(o)!.key),
        ),
      );
    }
    return shares.length ? this.#publish('keys.share', { shares }) : null;
  }

  /** Announce a new relay; the new group invite is sealed to every current member. */
  public moveRelay(bundle: string, groupInvite: Uint8Array): SignedEvent<'relay.move'> {
    const invites = [...this.state.members.values()]
      .sort((a, b) => (a.onion < b.onion ? -1 : 1))
      .map((m) => ({ to: m.key, box: sealToIdentity(m.key, groupInvite) }));
    return this.#publish('relay.move', { bundle, invites });
  }

  /**
   * List a mirror relay (its exported key bundle) beside the relay. Nodes post every event to
   * every listed relay; members derive the mirror group from the group key they hold, so no
   * invites are sent.
   */
  public addMirror(bundle: string): SignedEvent<'relay.add'> {
    return this.#publish('relay.add', this.#relayBody('relay.add', bundle));
  }

  /** Stop listing a mirror relay (the relay itself is replaced with moveRelay, never dropped). */
  public dropMirror(bundle: string): SignedEvent<'relay.drop'> {
    return this.#publish('relay.drop', this.#relayBody('relay.drop', bundle));
  }

  /** A mirror event's body, refused before signing when the schema would refuse it (see checkDisplayName). */
  #relayBody(kind: 'relay.add' | 'relay.drop', bundle: string): RelayMirrorBody {
    const parsed = BODY_SCHEMAS[kind].safeParse({ bundle });
    if (!parsed.success) throw new ActionNotAllowedError(RejectionCode.INVALID_SCHEMA, `the relay bundle: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    return parsed.data;
  }

  /** Vouch for a snapshot this member captured from its own history (snapshot/capture.ts). */
  public attestSnapshot(snapshot: Snapshot): SignedEvent<'snapshot.attest'> {
    const { base } = snapshot;
    return this.#publish('snapshot.attest', {
      frontier: base.frontier.map((id) => fromHex(id)),
      snapshot: fromHex(snapshot.hash),
      stateHash: fromHex(base.stateHash),
      events: base.events,
    });
  }

  public nominateFounder(candidate: OnionName): SignedEvent<'founder.nominate'> {
    return this.#publish('founder.nominate', { candidate: publicKeyFromOnion(candidate) });
  }

  public endorseNomination(nomination: EventId): SignedEvent<'founder.endorse'> {
    return this.#publish('founder.endorse', { nomination: fromHex(nomination) });
  }

  public claimNomination(nomination: EventId): SignedEvent<'founder.claim'> {
    return this.#publish('founder.claim', { nomination: fromHex(nomination) });
  }

  // --- tasks ----------------------------------------------------------------------------

  #currentKeys(audience: readonly RoleId[]): RoleKey[] {
    return [...audience].sort().map((role) => {
      const current = this.state.roles.get(role)?.epochs.at(-1);
      if (!current) throw new ActionNotAllowedError(RejectionCode.UNKNOWN_KEY, `role "${role}" has no key yet: rotate its keys first`);
      const k = this.keyring.get(current.keyIdHex);
      if (!k) throw new ActionNotAllowedError(RejectionCode.UNKNOWN_KEY, `you do not hold the current key of role "${role}"`);
      return k;
    });
  }

  #taskAudience(task: EventId): readonly RoleId[] {
    const t = this.state.tasks.get(task);
    if (!t) throw new ActionNotAllowedError(RejectionCode.UNKNOWN_TARGET, 'no such task');
    return t.audience;
  }

  /**
   * The fold's own checks for a task action, run before sealing: without them, an action the
   * rules forbid on an audience whose keys we lack would be refused as UNKNOWN_KEY ("you do
   * not hold the key") instead of naming the rule that denies it.
   */
  #mayTask(action: TaskAction, audience: readonly RoleId[]): void {
    const me = this.state.members.get(this.identity.onion);
    if (!me) throw new ActionNotAllowedError(RejectionCode.NOT_A_MEMBER, `${this.identity.onion} is not a member at this point`);
    for (const role of audience) {
      if (!this.state.roles.has(role) || !declaredRole(this.state.rules, role))
        throw new ActionNotAllowedError(RejectionCode.UNKNOWN_TARGET, `role "${role}" does not exist`);
    }
    const check = checkTask(this.log.applier().ability(this.identity.onion), [...me.roles].sort(), action, audience);
    if (!check.ok) throw new ActionNotAllowedError(RejectionCode.DENIED, check.reason, check.rule);
  }

  /** Seal content for the event about to be signed with sequence number `seq` (see ContentBinding). */
  #sealed(kind: string, task: EventId | null, content: CanonicalValue, audience: readonly RoleId[], seq: number) {
    const binding = { kind, task, pursuance: this.log.id, author: this.identity.publicKey, seq };
    return sealContent(boundContent(binding, content), this.#currentKeys(audience));
  }

  /**
   * The workflow checks readers apply to status changes (view.ts), run before signing: a
   * status the workflow does not allow would be acknowledged, stored for good, then ignored by
   * every reader.
   */
  #checkWorkflow(kind: TaskContentKind, task: EventId, content: CanonicalValue): void {
    if (kind !== 'task.status' && kind !== 'task.close' && kind !== 'task.reopen') return;
    const wf = this.state.rules.workflow;
    const closed = new Set(wf.closed);
    const to = (content as { to: string }).to;
    const refuse = (reason: string): never => {
      throw new ActionNotAllowedError(RejectionCode.INVALID_STATE, reason);
    };
    if (kind === 'task.close') {
      if (!closed.has(to)) refuse(`"${to}" is not a closed state`);
      return;
    }
    if (!wf.states.includes(to)) refuse(`"${to}" is not a state of the workflow`);
    if (closed.has(to)) refuse(kind === 'task.status' ? `"${to}" is a closed state: close the task instead` : `"${to}" is not an open state`);
    if (kind === 'task.reopen') return;
    const view = this.options.view ? this.options.view().tasks.get(task) : buildTaskView(this.log, task, this.keyring, this.identity);
    if (!view?.judged) return;
    const from = view.status ?? wf.initial;
    if (!wf.transitions.some((t) => t.from === from && t.to === to)) refuse(`the workflow has no transition from "${from}" to "${to}"`);
  }

  public createTask(spec: NewTask): SignedEvent<'task.create'> {
    const audience = [...new Set(spec.audience)].sort();
    const content: TaskContent<'task.create'> = {
      title: spec.title,
      body: spec.body ?? '',
      assignees: {
        members: (spec.assignees?.members ?? []).map((o) => publicKeyFromOnion(o)),
        roles: [...(spec.assignees?.roles ?? [])],
      },
      labels: [...(spec.labels ?? [])],
      due: spec.due ?? null,
    };
    if (audience.length > 0) this.#mayTask(PERMISSION_OF['task.create'].action, audience);
    const parsed = CONTENT_SCHEMAS['task.create'].safeParse(content);
    if (!parsed.success) throw new ActionNotAllowedError(RejectionCode.INVALID_SCHEMA, `task content: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    const seq = this.#nextSeq();
    const sealed = this.#sealed('task.create', null, content, audience, seq);
    return this.#publish('task.create', { parent: spec.parent ? fromHex(spec.parent) : null, sealed }, audience, seq);
  }

  #taskEvent<K extends 'task.edit' | 'task.assign' | 'task.status' | 'task.close' | 'task.reopen' | 'task.comment'>(
    kind: K,
    task: EventId,
    content: TaskContent<K>,
  ): SignedEvent<K> {
    const audience = this.#taskAudience(task);
    this.#mayTask(PERMISSION_OF[kind].action, audience);
    // Readers validate the content schema after decrypting; an author that skipped it would get
    // its event acknowledged here and ignored by everyone.
    const parsed = CONTENT_SCHEMAS[kind].safeParse(content);
    if (!parsed.success) throw new ActionNotAllowedError(RejectionCode.INVALID_SCHEMA, `${kind} content: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    this.#checkWorkflow(kind, task, content);
    const seq = this.#nextSeq();
    const sealed = this.#sealed(kind, task, content, audience, seq);
    return this.#publish(kind, { task: fromHex(task), sealed } as EventBody<K>, audience, seq);
  }

  public editTask(task: EventId, patch: TaskContent<'task.edit'>): SignedEvent<'task.edit'> {
    return this.#taskEvent('task.edit', task, patch);
  }

  public assignTask(
    task: EventId,
    change: { add?: { members?: OnionName[]; roles?: RoleId[] }; remove?: { members?: OnionName[]; roles?: RoleId[] } },
  ): SignedEvent<'task.assign'> {
    const side = (s?: { members?: OnionName[]; roles?: RoleId[] }) => ({
      members: (s?.members ?? []).map((o) => publicKeyFromOnion(o)),
      roles: [...(s?.roles ?? [])],
    });
    return this.#taskEvent('task.assign', task, { add: side(change.add), remove: side(change.remove) });
  }

  public setStatus(task: EventId, to: string): SignedEvent<'task.status'> {
    return this.#taskEvent('task.status', task, { to });
  }

  public closeTask(task: EventId, to?: string, note?: string): SignedEvent<'task.close'> {
    return this.#taskEvent('task.close', task, { to: to ?? this.state.rules.workflow.closed[0]!, ...(note ? { note } : {}) });
  }

  public reopenTask(task: EventId, to?: string, note?: string): SignedEvent<'task.reopen'> {
    return this.#taskEvent('task.reopen', task, { to: to ?? this.state.rules.workflow.initial, ...(note ? { note } : {}) });
  }

  public comment(task: EventId, body: string): SignedEvent<'task.comment'> {
    return this.#taskEvent('task.comment', task, { body });
  }

  /**
   * Send a write-only submission (a tip) to `audience`, a role we may `submit` to and need not
   * hold: sealed to the public key of its current epoch, and to ourselves so we can read it back.
   */
  public submit(audience: RoleId, spec: { readonly title: string; readonly body?: string }): SignedEvent<'submission.create'> {
    this.#mayTask(PERMISSION_OF['submission.create'].action, [audience]);
    const parsed = SubmissionContentSchema.safeParse({ title: spec.title, body: spec.body ?? '' });
    if (!parsed.success) throw new ActionNotAllowedError(RejectionCode.INVALID_SCHEMA, `submission: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    const epoch = this.state.roles.get(audience)?.epochs.at(-1);
    if (!epoch?.pub)
      throw new ActionNotAllowedError(RejectionCode.UNKNOWN_KEY, `"${audience}" has no public key yet: its keys must be rotated before anyone submits to it`);
    if (this.plantedRoleKeys().some((p) => p.keyIdHex === epoch.keyIdHex)) {
      throw new ActionNotAllowedError(RejectionCode.LOCKBOX_INVALID, `the public key published for "${audience}" is not its holders' key: rotate it first`);
    }
    const seq = this.#nextSeq();
    const binding = { kind: 'submission.create', task: null, pursuance: this.log.id, author: this.identity.publicKey, seq };
    const body = sealSubmission(binding, parsed.data, { role: audience, keyId: epoch.keyId, pub: epoch.pub }, this.identity.publicKey);
    return this.#publish('submission.create', body, [audience], seq);
  }

  /**
   * Role keys we hold whose published public halves are not the ones our key derives: the
   * rotator planted keys the holders do not hold (a box sealed to them would go to the planter).
   * Only a holder can see this; the fold never has the secret.
   */
  public plantedRoleKeys(): { role: RoleId; keyIdHex: string }[] {
    const out: { role: RoleId; keyIdHex: string }[] = [];
    for (const [role, r] of this.state.roles) {
      for (const epoch of r.epochs) {
        const k = this.keyring.get(epoch.keyIdHex);
        if (k && epoch.pub && rolePubMismatch(k, epoch.pub)) out.push({ role, keyIdHex: epoch.keyIdHex });
      }
    }
    return out;
  }

  /**
   * Publish the pursuance's public profile (profile.ts), signed with the current key of `role`, a
   * role we hold: strangers send their requests to that key, through `inbox`. `now` dates it
   * (it expires `days` later, at a UTC midnight). Reusing `id` keeps the inbox's proofs of work.
   */
  public publishProfile(role: RoleId, spec: Omit<NewProfile, 'pursuance'> & { readonly days: number }): SignedEvent<'profile.publish'> {
    const epoch = this.state.roles.get(role)?.epochs.at(-1);
    const k = epoch ? this.keyring.get(epoch.keyIdHex) : undefined;
    if (!epoch?.pub || !k)
      throw new ActionNotAllowedError(RejectionCode.UNKNOWN_KEY, `you hold no current key of "${role}" with public halves: it signs the profile`);
    let profile: Profile;
    try {
      profile = signProfile({ ...spec, pursuance: this.log.id }, k);
    } catch (err) {
      if (err instanceof InvalidProfileError) throw new ActionNotAllowedError(RejectionCode.INVALID_SCHEMA, err.message);
      throw err;
    }
    return this.#publish('profile.publish', { profile });
  }

  public withdrawProfile(): SignedEvent<'profile.publish'> {
    return this.#publish('profile.publish', { profile: null });
  }

  /** The key pair of the current profile's epoch, when we hold it: what opens its requests and signs its answers. */
  public profileKeys(): RoleKeyPair | null {
    const p = this.state.profile?.profile;
    const k = p ? this.keyring.get(p.keyId) : undefined;
    return k ? roleKeyPair(k) : null;
  }

  // --- links (link.ts, fold/links.ts) ---------------------------------------------------------

  /** The keys of `role` with public halves, oldest first: key n is the n-th (what announcements number). */
  #announceable(role: RoleId): KeyEpoch[] {
    return announceableKeys(this.state, role);
  }

  /** Our statement that key `n` of `role` is ours, signed by `signer`, valid `days` from now. */
  #announce(to: PursuanceId, role: RoleId, n: number, signer: RoleKey, days: number): Announcement {
    if (!Number.isInteger(days) || days < 1 || days > LINK_KEYS_MAX_DAYS) {
      throw new ActionNotAllowedError(RejectionCode.INVALID_SCHEMA, `an announcement lasts 1 to ${LINK_KEYS_MAX_DAYS} days`);
    }
    const epoch = this.#announceable(role)[n - 1]!;
    try {
      return signAnnouncement(
        {
          from: this.log.id,
          to,
          role,
          n,
          keyId: epoch.keyId,
          pub: { sig: epoch.pub!.sig, box: epoch.pub!.box },
          validUntil: (Math.floor(this.clock() / DAY_MS) + days) * DAY_MS,
        },
        signer,
      );
    } catch (err) {
      if (err instanceof InvalidAnnouncementError) throw new ActionNotAllowedError(RejectionCode.INVALID_SCHEMA, err.message);
      throw err;
    }
  }

  /**
   * Our offer to link pursuance `to`: the current key of our role `anchor` (which we hold),
   * announced signed by itself, with our name and `inbox` (where their nodes post to us), all
   * signed by that key. They pin it when they open the link, having checked its key id with us out
   * of band; from then on it signs what we announce to them.
   */
  public linkOffer(to: PursuanceId, anchor: RoleId, days: number, inbox: string): LinkOffer {
    const keys = this.#announceable(anchor);
    const k = keys.length ? this.keyring.get(keys.at(-1)!.keyIdHex) : undefined;
    if (!k || keys.at(-1) !== this.state.roles.get(anchor)?.epochs.at(-1)) {
      throw new ActionNotAllowedError(RejectionCode.UNKNOWN_KEY, `you hold no current key of "${anchor}" with public halves: it anchors the link`);
    }
    try {
      return signLinkOffer(this.#announce(to, anchor, keys.length, k, days), this.state.name, inbox, k);
    } catch (err) {
      if (err instanceof InvalidLinkOfferError) throw new ActionNotAllowedError(RejectionCode.INVALID_SCHEMA, err.message);
      throw err;
    }
  }

  /** Open (or open again, re-pinning and unfreezing) a link from the other pursuance's offer; `ourInbox` is the one our offer to them names. */
  public openLink(spec: {
    readonly offer: LinkOffer;
    readonly name: string;
    readonly theyMay: readonly LinkGrant[];
    readonly ourAnchor: RoleId;
    readonly weSend: readonly LinkSend[];
    readonly ourInbox: string;
  }): SignedEvent<'link.open'> {
    return this.#publish('link.open', {
      name: spec.name,
      offer: spec.offer,
      ourInbox: spec.ourInbox,
      theyMay: spec.theyMay.map((g) => ({ theirRole: g.theirRole, action: g.action, on: g.on })),
      ourAnchor: spec.ourAnchor,
      weSend: spec.weSend.map((w) => ({ ours: w.ours, theirs: w.theirs })),
    });
  }

  public closeLink(peer: PursuanceId): SignedEvent<'link.close'> {
    return this.#publish('link.close', { peer });
  }

  /** Carry an announcement of a linked pursuance into our log (refused here first if the fold would refuse it). */
  public carryLinkKeys(announcement: Announcement): SignedEvent<'link.keys'> {
    return this.#publish('link.keys', { announcement });
  }

  /**
   * What we announce to `peer` over our link to it, for `days`: every key of our anchor role
   * after the first, each signed by the one before it (where we hold that one), then the current
   * key of every other role they hear about (those we send from, and those they may address),
   * signed by our current anchor key. Whoever carries them in takes them in this order and skips
   * what their log already has.
   */
  public linkAnnouncements(peer: PursuanceId, days: number): Announcement[] {
    const link = this.state.links?.get(peer);
    if (!link) throw new ActionNotAllowedError(RejectionCode.UNKNOWN_TARGET, 'there is no link to that pursuance');
    const anchors = this.#announceable(link.ourAnchor);
    const current = anchors.length ? this.keyring.get(anchors.at(-1)!.keyIdHex) : undefined;
    if (!current) throw new ActionNotAllowedError(RejectionCode.UNKNOWN_KEY, `you hold no current key of "${link.ourAnchor}", our anchor for this link`);
    const out: Announcement[] = [];
    for (let n = 2; n <= anchors.length; n++) {
      const before = this.keyring.get(anchors[n - 2]!.keyIdHex);
      if (before) out.push(this.#announce(peer, link.ourAnchor, n, before, days));
    }
    out.push(this.#announce(peer, link.ourAnchor, anchors.length, current, days));
    for (const role of announcedRoles(link).slice(1)) {
      const keys = this.#announceable(role);
      if (keys.length) out.push(this.#announce(peer, role, keys.length, current, days));
    }
    return out;
  }

  /**
   * Send a task over our link to `peer`, for our role `ours` (which we hold) to their role
   * `theirs`: the content sealed to the key of theirs we last heard announced, a credential signed
   * by our current key of `ours`, and our log's record of the send (`link.send`, judged here
   * first, so a member without the role is refused before anything leaves). The parcel is what
   * travels to them; any of their members carries it into their log.
   */
  public sendOverLink(
    peer: PursuanceId,
    spec: { readonly ours: RoleId; readonly theirs: RoleId } & LinkTaskContent,
    /** The transport's limit on one post (link-post.ts): a parcel over it is refused before anything is signed into the log. */
    maxPostBytes = Number.POSITIVE_INFINITY,
  ): { event: SignedEvent<'link.send'>; parcel: LinkParcel } {
    const link = this.state.links?.get(peer);
    if (!link) throw new ActionNotAllowedError(RejectionCode.UNKNOWN_TARGET, 'there is no link to that pursuance');
    const content = SubmissionContentSchema.safeParse({ title: spec.title, body: spec.body });
    if (!content.success) throw new ActionNotAllowedError(RejectionCode.INVALID_SCHEMA, `invalid task: ${content.error.issues[0]?.message ?? ''}`);
    const theirs = link.keys.get(spec.theirs);
    const ours = this.#announceable(spec.ours);
    const current = ours.at(-1);
    const key = current && current === this.state.roles.get(spec.ours)?.epochs.at(-1) ? this.keyring.get(current.keyIdHex) : undefined;
    if (!theirs) throw new ActionNotAllowedError(RejectionCode.UNKNOWN_KEY, `no key of their "${spec.theirs}" is known here: wait for their announcement`);
    if (!key)
      throw new ActionNotAllowedError(RejectionCode.UNKNOWN_KEY, `you hold no current key of "${spec.ours}" with public halves: only its holders send for it`);
    const box = sealLinkTask(peer, spec.theirs, theirs.keyId, theirs.box, content.data);
    const credential = signCredential(
      {
        from: this.log.id,
        to: peer,
        role: spec.ours,
        n: ours.length,
        action: 'create',
        on: spec.theirs,
        digest: sha256(box),
        hour: Math.floor(this.clock() / HOUR_MS),
      },
      key,
    );
    const parcel = { credential, keyId: theirs.keyId, box };
    const size = encodeLinkPost({ t: 'task', p: parcel }).length;
    if (size > maxPostBytes) {
      throw new ActionNotAllowedError(
        RejectionCode.INVALID_SCHEMA,
        `the task is too long to send over a link (${size} bytes sealed, at most ${maxPostBytes}): shorten it`,
      );
    }
    // Judged before it is signed, with every check the fold makes (the role held, the pair, their key's expiry).
    const event = this.#publish('link.send', { peer, ours: spec.ours, theirs: spec.theirs, digest: sha256(box) });
    return { event, parcel };
  }

  /**
   * Vouch, as our role `role`, for `applicant` (an identity key) joining `peer` by request
   * (vouch.ts). Only a holder of the role's current key can, for a role we announce to them (our
   * anchor, or one the link maps), over a link that is open here. Nothing enters our log: whether
   * the vouch counts is theirs to decide, by what their side of the link lets our role do.
   */
  public vouch(peer: PursuanceId, role: RoleId, applicant: Uint8Array): Vouch {
    const link = this.state.links?.get(peer);
    if (!link) throw new ActionNotAllowedError(RejectionCode.UNKNOWN_TARGET, 'there is no link to that pursuance');
    if (!announcedRoles(link).includes(role)) throw new ActionNotAllowedError(RejectionCode.DENIED, `"${role}" is no role this link tells them about`);
    const keys = this.#announceable(role);
    const current = keys.at(-1);
    const key = current && current === this.state.roles.get(role)?.epochs.at(-1) ? this.keyring.get(current.keyIdHex) : undefined;
    if (!key)
      throw new ActionNotAllowedError(RejectionCode.UNKNOWN_KEY, `you hold no current key of "${role}" with public halves: only its holders vouch for it`);
    try {
      return signVouch({ from: this.log.id, to: peer, role, n: keys.length, applicant, hour: Math.floor(this.clock() / HOUR_MS) }, key);
    } catch (err) {
      if (err instanceof InvalidVouchError) throw new ActionNotAllowedError(RejectionCode.INVALID_SCHEMA, err.message);
      throw err;
    }
  }

  /** Carry a task a linked pursuance sent into our log (refused here first if the fold would refuse it). */
  public carryLinkTask(parcel: LinkParcel): SignedEvent<'link.task'> {
    return this.#publish('link.task', parcel, [parcel.credential.on]);
  }

  public moveTask(task: EventId, parent: EventId | null): SignedEvent<'task.move'> {
    return this.#publish('task.move', { task: fromHex(task), parent: parent ? fromHex(parent) : null }, this.#taskAudience(task));
  }

  // --- lost races -------------------------------------------------------------------------

  /**
   * One of our own events that the fold rejected after the fact (a concurrent event won): when
   * it lost only a key race (a lockbox or seal on a key rotated concurrently) the same intent is
   * signed again on the current state — it is then checked like any new action, so it throws
   * ActionNotAllowedError if the intent is no longer allowed. Returns null when there is nothing
   * safe to re-send: the event was accepted, is not ours, lost for another reason (the group
   * decided otherwise), or its intent is already fulfilled.
   */
  public retryLostRace(event: SignedEvent): SignedEvent | null {
    if (event.author !== this.identity.onion) return null;
    const rejection = this.log.rejectionOf(event.id);
    if (!rejection || !KEY_RACE_CODES.has(rejection.code)) return null;
    const kind = event.header.kind;
    switch (kind) {
      case 'member.add': {
        const b = event.header.body as EventBody<'member.add'>;
        if (this.state.members.has(onionFromPublicKey(b.member))) return null;
        return this.addMember(b.member, { ...(b.name ? { name: b.name } : {}), roles: b.roles });
      }
      case 'role.assign': {
        const b = event.header.body as EventBody<'role.assign'>;
        const target = this.state.members.get(onionFromPublicKey(b.member));
        if (!target || target.roles.has(b.role)) return null;
        return this.assignRole(target.onion, b.role);
      }
      case 'keys.share':
        return this.shareMissingKeys();
      case 'task.create':
      case 'task.edit':
      case 'task.assign':
      case 'task.status':
      case 'task.close':
      case 'task.reopen':
      case 'task.comment':
        return this.#resealTask(event as SignedEvent<TaskContentKind>);
      case 'submission.create':
        return this.#resubmit(event as SignedEvent<'submission.create'>);
      default:
        return null;
    }
  }

  /** Re-send our submission with the same content (read from the copy sealed to us) to the audience's current key. */
  #resubmit(event: SignedEvent<'submission.create'>): SignedEvent | null {
    const role = event.header.audience[0]!;
    let opened: CanonicalValue | null;
    try {
      opened = openSubmission(event.header.body, this.log.id, role, event.header.author, { keyring: new Keyring(), me: this.identity });
    } catch (err) {
      if (err instanceof ContentUnreadableError) return null;
      throw err;
    }
    const parsed = SubmissionContentSchema.safeParse((opened as { content?: unknown } | null)?.content);
    return parsed.success ? this.submit(role, parsed.data) : null;
  }

  /** Re-send our task event with the same content, sealed to the audience's current keys. */
  #resealTask(event: SignedEvent<TaskContentKind>): SignedEvent | null {
    const kind = event.header.kind;
    let opened: CanonicalValue;
    try {
      opened = openContent((event.header.body as EventBody<'task.edit'>).sealed, this.keyring);
    } catch (err) {
      if (err instanceof ContentUnreadableError) return null;
      throw err;
    }
    const wrapper = opened as { content?: CanonicalValue };
    const parsed = CONTENT_SCHEMAS[kind].safeParse(wrapper.content);
    if (!parsed.success) return null;
    if (kind === 'task.create') {
      const c = parsed.data as TaskContent<'task.create'>;
      const parent = (event.header.body as EventBody<'task.create'>).parent;
      return this.createTask({
        audience: event.header.audience,
        parent: parent ? (Buffer.from(parent).toString('hex') as EventId) : null,
        title: c.title,
        body: c.body,
        assignees: { members: c.assignees.members.map((k) => onionFromPublicKey(k)), roles: c.assignees.roles },
        labels: c.labels,
        due: c.due,
      });
    }
    const task = Buffer.from((event.header.body as EventBody<'task.edit'>).task).toString('hex') as EventId;
    if (!this.state.tasks.has(task)) return null;
    return this.#taskEvent(kind, task, parsed.data);
  }
}

/**
 * Refuse a display name the event schema would refuse, before anything is signed: the dry run
 * judges rules, not schemas, and signing an invalid body throws a decoding error instead.
 */
function checkDisplayName(name: string): void {
  const problem = displayNameProblem(name);
  if (problem !== null) throw new ActionNotAllowedError(RejectionCode.INVALID_SCHEMA, `the name ${problem}`);
}
