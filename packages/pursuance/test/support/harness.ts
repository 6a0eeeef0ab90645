/**
 * Shared test support for the template, capability and illegal-event suites: a small
 * in-memory "network" of members each holding their own log, and helpers that build events
 * by hand (bypassing PursuanceAuthor's dry run) the way a malicious or buggy client would.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { canonicalEncode, concatBytes, fromHex, type CanonicalValue, type Identity } from '@pursuance/crypto';
import { expect } from 'vitest';
import {
  ActionNotAllowedError,
  PursuanceAuthor,
  PursuanceLog,
  RulesSchema,
  buildMemberView,
  signEvent,
  type EventId,
  type MemberViewResult,
  type NewPursuance,
  type RejectionCode,
  type Rules,
  type SignedEvent,
} from '../../src/index.js';
import { boundContent, sealContent, type Keyring, type RoleKey } from '../../src/keys.js';
import type { EventBody, EventKind, Sealed } from '../../src/bodies.js';
import type { RoleId } from '../../src/rules/schema.js';
import { headerValue } from '../../src/envelope.js';

export const TEMPLATES_DIR = new URL('../../../../rules/templates/', import.meta.url);

/** Every template file name (without .json). */
export function templateNames(): string[] {
  return readdirSync(TEMPLATES_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}

/** A template as written (the `$schema` editor hint included). */
export function templateJson(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(`${name}.json`, TEMPLATES_DIR), 'utf8')) as Record<string, unknown>;
}

/** A template parsed by the zod schema (the `$schema` hint is not part of the rules). */
export function loadTemplate(name: string): Rules {
  const { $schema: _hint, ...rules } = templateJson(name);
  return RulesSchema.parse(rules);
}

/** The envelope's signing domain (envelope.ts), for events signed entirely by hand. */
export const EVENT_DOMAIN = new TextEncoder().encode('pursuance/event/v1\n');

/** Sign any header value (any fields, any kind) exactly as envelope.ts does, and encode the envelope. */
export function signRaw(signer: Identity, header: Record<string, CanonicalValue>): Uint8Array {
  const sig = signer.sign(concatBytes(EVENT_DOMAIN, canonicalEncode(header)));
  return canonicalEncode({ event: header, sig });
}

/** A verified event's header as a plain canonical value (a deep copy), to alter and re-sign. */
export function rawHeader(e: SignedEvent): Record<string, CanonicalValue> {
  return headerValue(structuredClone(e.header));
}

export interface ForgeOptions {
  readonly seq?: number;
  readonly parents?: readonly EventId[];
  readonly time?: number;
}

/**
 * Sign an event as `identity` on top of `log` (its heads, its next sequence number), without
 * asking whether the rules allow it: what a client that skips the dry run would publish.
 */
export function forge<K extends EventKind>(
  identity: Identity,
  log: PursuanceLog,
  kind: K,
  body: EventBody<K>,
  audience: readonly RoleId[] = [],
  options: ForgeOptions = {},
): SignedEvent<K> {
  return signEvent(identity, {
    pursuance: fromHex(log.id),
    seq: options.seq ?? log.lastSeq(identity.onion) + 1,
    parents: (options.parents ?? log.heads()).map((id) => fromHex(id)),
    time: options.time ?? 1_900_000_000_000,
    kind,
    audience,
    body,
  });
}

/**
 * Sealed task content for `audience`, bound to `kind` and `task` like the author's. Roles whose
 * current key `keyring` holds are sealed properly; for the others the forger names the role's
 * current (public) key id over random bytes: structurally valid, readable by nobody.
 */
export function sealAs(
  log: PursuanceLog,
  keyring: Keyring,
  kind: string,
  task: EventId | null,
  content: CanonicalValue,
  audience: readonly RoleId[],
  by: Identity,
  seq: number = log.lastSeq(by.onion) + 1,
): Sealed {
  const roles = [...new Set(audience)].sort();
  const current = roles.map((role) => log.state().roles.get(role)!.epochs.at(-1)!);
  const held = current.map((epoch) => keyring.get(epoch.keyIdHex)).filter((k): k is RoleKey => k !== undefined);
  const bound = boundContent({ kind, task, pursuance: log.id, author: by.publicKey, seq }, content);
  const sealed = held.length > 0 ? sealContent(bound, held) : { keys: [], ct: new Uint8Array(randomBytes(256)) };
  const keys = roles.map((role, i) => {
    const real = sealed.keys.find((k) => k.role === role);
    return real ?? { role, keyId: current[i]!.keyId, wrapped: new Uint8Array(randomBytes(72)) };
  });
  return { keys, ct: sealed.ct };
}

/** Sealed content under exactly the given keys (old, planted, whatever the test needs), bound to `by`'s next event in `log`. */
export function sealWith(keys: readonly RoleKey[], kind: string, task: EventId | null, content: CanonicalValue, log: PursuanceLog, by: Identity): Sealed {
  return sealContent(boundContent({ kind, task, pursuance: log.id, author: by.publicKey, seq: log.lastSeq(by.onion) + 1 }, content), keys);
}

/** Assert that `fn` is refused by the author with `code`, and that the reason says `reason`. */
export function expectRefused(fn: () => unknown, code: RejectionCode, reason?: string | RegExp): ActionNotAllowedError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'the action should have been refused').toBeInstanceOf(ActionNotAllowedError);
  const err = caught as ActionNotAllowedError;
  expect(err.code, err.message).toBe(code);
  if (reason !== undefined) expect(err.message).toMatch(reason);
  return err;
}

/**
 * Members of one pursuance, each with their own log, as if connected by a relay that
 * eventually delivers everything. `act` syncs the actor first, so their event descends from
 * everything published so far (a live member), then delivers it to everyone.
 */
export class Network {
  readonly #members = new Map<string, PursuanceAuthor>();

  public constructor(public readonly now: () => number) {}

  public static create(name: string, identity: Identity, spec: NewPursuance, now: () => number): Network {
    const net = new Network(now);
    net.#members.set(name, PursuanceAuthor.create(identity, spec, now));
    return net;
  }

  public get founder(): PursuanceAuthor {
    return this.#members.values().next().value!;
  }

  public member(name: string): PursuanceAuthor {
    const m = this.#members.get(name);
    if (!m) throw new Error(`no member ${name} in this test network`);
    return m;
  }

  public names(): string[] {
    return [...this.#members.keys()];
  }

  /** Start a client for `identity` (who must already have been invited) holding every event so far. */
  public join(name: string, identity: Identity): PursuanceAuthor {
    this.sync();
    const log = new PursuanceLog(this.founder.log.genesis.bytes);
    log.addAll([...this.founder.log.events()].map((e) => e.bytes));
    const author = new PursuanceAuthor(identity, log, undefined, this.now);
    this.#members.set(name, author);
    return author;
  }

  /** Deliver every event any member has to every member; members pick up keys sent to them. */
  public sync(): void {
    const all = new Map<EventId, Uint8Array>();
    for (const m of this.#members.values()) for (const e of m.log.events()) all.set(e.id, e.bytes);
    for (const m of this.#members.values()) {
      for (const [id, bytes] of all) if (!m.log.event(id)) m.log.add(bytes);
      m.refreshKeys();
    }
  }

  public act<T>(name: string, action: (author: PursuanceAuthor) => T): T {
    this.sync();
    const result = action(this.member(name));
    this.sync();
    return result;
  }

  /** What `name` can read, from the keys the log delivers to them. */
  public view(name: string): MemberViewResult {
    const m = this.member(name);
    return buildMemberView(m.log, m.identity);
  }

  /** For each member, which of the named tasks they can read (decrypt), sorted by name. */
  public readMatrix(tasks: Record<string, EventId>): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const name of this.names()) {
      const view = this.view(name);
      out[name] = Object.entries(tasks)
        .filter(([, id]) => view.tasks.get(id)?.readable === true)
        .map(([label]) => label)
        .sort();
    }
    return out;
  }

  /** Every member's state hash (after a sync): one distinct value when they agree. */
  public stateHashes(): Set<string> {
    this.sync();
    return new Set([...this.#members.values()].map((m) => m.log.stateHash()));
  }
}
