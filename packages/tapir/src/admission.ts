import { randomBytes } from 'node:crypto';
import { equalBytes, hmacSha256, sha256, toBase64 } from '@pursuance/crypto';
import { base64Bytes, decodeJSON, encodeJSON } from '@pursuance/codec';
import { z } from 'zod';
import type { Connection } from './connection.js';
import { ProofOfWorkInvalidError, ProofOfWorkTooHardError, ProtocolViolationError, TapirError, WireVersionError } from './errors.js';
import { DEFAULT_MAX_POW_DIFFICULTY, MAX_POW_DIFFICULTY, meetsDifficulty, solveProofOfWork } from './pow.js';
import {
  ADMISSION_HELLO,
  ADMISSION_NONCE_SIZE,
  ADMISSION_POW_DOMAIN,
  ADMISSION_PROTOCOL_LABEL,
  ADMISSION_REPLY,
  ADMISSION_SEED_SIZE,
  ADMISSION_TICKET_SIZE,
  TAPIR_WIRE_VERSION,
} from './wire-profile.js';

/**
 * Admission (since tapir wire version 2): the exchange in front of every application chain that lets
 * a service under pressure demand proof of work before it spends any handshake work.
 *
 *   dialler → service  AdmissionHello {"TapirHello": 3, "Solution": null | {"Ticket", "Nonce"}}
 *   service → dialler  Admission      {"TapirAdmission": 3, "Demand": null | {"Ticket", "Bits"}}
 *
 * `Demand: null` admits: the application chain (auth…) starts. A demand carries a fresh ticket
 * the service issued (random seed, expiry, bits, MAC under a per-service secret); the dialler
 * answers with another hello whose nonce makes SHA-256(nonce ‖ SHA-256(domain ‖ ticket)) start
 * with `Bits` zero bits. A ticket is single-use but not bound to the socket: a dialler evicted
 * while it was solving redials and presents the solved ticket in its first hello, so it is
 * admitted before a flood of fresh sockets can push it out again. Both sides bind every
 * admission message into the transcript, so the auth commitment covers them.
 */

/** Service-side admission settings (all limits; see README for why these defaults). */
export interface AdmissionOptions {
  /** Connections in setup (admission + handshake) from which work is demanded. Default 16. */
  readonly threshold?: number;
  /** Bits demanded at the threshold; +1 per doubling of the load above it. 0 = never demand. Default 12. */
  readonly bits?: number;
  /** Cap on the bits demanded. Default 20. */
  readonly maxBits?: number;
}

export const DEFAULT_ADMISSION_THRESHOLD = 16;
export const DEFAULT_ADMISSION_BITS = 12;
export const DEFAULT_ADMISSION_MAX_BITS = 20;
/** A service answers at most this many stale tickets on one connection with a fresh demand. */
const MAX_ADMISSION_ROUNDS = 3;

export interface AdmissionPolicy {
  readonly threshold: number;
  readonly bits: number;
  readonly maxBits: number;
}

export function admissionPolicy(options: AdmissionOptions = {}, maxPending = Number.POSITIVE_INFINITY): AdmissionPolicy {
  const bits = options.bits ?? DEFAULT_ADMISSION_BITS;
  const maxBits = options.maxBits ?? Math.max(bits, DEFAULT_ADMISSION_MAX_BITS);
  // Work must be demanded before the handshake pool is full, or a full pool of free
  // admissions would leave nothing to evict in favour of a paying newcomer.
  const threshold = Math.min(options.threshold ?? DEFAULT_ADMISSION_THRESHOLD, maxPending);
  for (const [name, value, max] of [
    ['bits', bits, MAX_POW_DIFFICULTY],
    ['maxBits', maxBits, MAX_POW_DIFFICULTY],
  ] as const) {
    if (!Number.isInteger(value) || value < 0 || value > max) throw new RangeError(`admission ${name} must be an integer in [0, ${max}]`);
  }
  if (maxBits < bits) throw new RangeError('admission maxBits must be at least bits');
  if (!Number.isInteger(threshold) || threshold < 1) throw new RangeError('admission threshold must be a positive integer');
  return { threshold, bits, maxBits };
}

/**
 * Bits of work demanded of a newcomer while `load` other connections are in setup: none below
 * the threshold, then `bits`, one more per doubling of the load, capped at `maxBits`. Each bit
 * doubles an attacker's cost per admitted connection; the honest dialler pays it once.
 */
export function admissionDifficulty(load: number, policy: AdmissionPolicy): number {
  if (policy.bits === 0 || load < policy.threshold) return 0;
  let doublings = 0;
  while (policy.threshold * 2 ** (doublings + 1) <= load) doublings += 1;
  return Math.min(policy.maxBits, policy.bits + doublings);
}

// ---------------------------------------------------------------------------------------------
// Messages.
// ---------------------------------------------------------------------------------------------

const ticketField = base64Bytes(ADMISSION_TICKET_SIZE);
const nonceField = base64Bytes(ADMISSION_NONCE_SIZE);
const version = z.number().int().min(1).max(255);

const HelloSchema = z.strictObject({
  TapirHello: version,
  Solution: z.union([z.null(), z.strictObject({ Ticket: ticketField, Nonce: nonceField })]),
});
const ReplySchema = z.strictObject({
  TapirAdmission: version,
  Demand: z.union([z.null(), z.strictObject({ Ticket: ticketField, Bits: z.number().int().min(1).max(MAX_POW_DIFFICULTY) })]),
});

export interface AdmissionSolution {
  readonly ticket: Uint8Array;
  readonly nonce: Uint8Array;
}
export interface AdmissionHello {
  readonly version: number;
  readonly solution: AdmissionSolution | undefined;
}
export interface AdmissionReply {
  readonly version: number;
  readonly demand: { readonly ticket: Uint8Array; readonly bits: number } | undefined;
}

export function encodeAdmissionHello(solution?: AdmissionSolution): Uint8Array {
  return encodeJSON({
    TapirHello: TAPIR_WIRE_VERSION,
    Solution: solution === undefined ? null : { Ticket: toBase64(solution.ticket), Nonce: toBase64(solution.nonce) },
  });
}

export function encodeAdmissionReply(demand?: { ticket: Uint8Array; bits: number }): Uint8Array {
  return encodeJSON({ TapirAdmission: TAPIR_WIRE_VERSION, Demand: demand === undefined ? null : { Ticket: toBase64(demand.ticket), Bits: demand.bits } });
}

/** A version-1 peer's first packet is its auth message: say so rather than "malformed". */
function versionOneOr(payload: Uint8Array, reason: string, cause: unknown, what: string): TapirError {
  try {
    const parsed: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
    if (typeof parsed === 'object' && parsed !== null && 'LongTermPublicKey' in parsed) {
      return new WireVersionError(`peer speaks tapir wire version 1 (no admission); this side speaks ${TAPIR_WIRE_VERSION}`);
    }
  } catch {
    // not JSON at all: a plain protocol violation
  }
  return new ProtocolViolationError(`${what}: ${reason}`, { cause });
}

/** Service side: parse a dialler's hello. Malformed → PROTOCOL_VIOLATION; another version → WIRE_VERSION_UNSUPPORTED. */
export function parseAdmissionHello(payload: Uint8Array): AdmissionHello {
  const hello = decodeJSON(payload, HelloSchema, (reason, cause) => versionOneOr(payload, reason, cause, 'admission hello'));
  // A dialler names the highest version it speaks; this service speaks only its own.
  if (hello.TapirHello < TAPIR_WIRE_VERSION)
    throw new WireVersionError(`dialler speaks tapir wire version ${hello.TapirHello}, this service ${TAPIR_WIRE_VERSION}`);
  return {
    version: TAPIR_WIRE_VERSION,
    solution: hello.Solution === null ? undefined : { ticket: hello.Solution.Ticket, nonce: hello.Solution.Nonce },
  };
}

/** Dialler side: parse the service's admission reply. */
export function parseAdmissionReply(payload: Uint8Array): AdmissionReply {
  const reply = decodeJSON(payload, ReplySchema, (reason, cause) => versionOneOr(payload, reason, cause, 'admission reply'));
  if (reply.TapirAdmission !== TAPIR_WIRE_VERSION) {
    throw new WireVersionError(`service chose tapir wire version ${reply.TapirAdmission}, this dialler speaks ${TAPIR_WIRE_VERSION}`);
  }
  return { version: reply.TapirAdmission, demand: reply.Demand === null ? undefined : { ticket: reply.Demand.Ticket, bits: reply.Demand.Bits } };
}

// ---------------------------------------------------------------------------------------------
// Tickets (service side).
// ---------------------------------------------------------------------------------------------

const encoder = new TextEncoder();

/** The hash the nonce is searched against: domain-separated, so no other SHA-256 work is reusable. */
export function admissionChallenge(ticket: Uint8Array): Uint8Array {
  return sha256(encoder.encode(ADMISSION_POW_DOMAIN), ticket);
}

export type TicketVerdict = 'ok' | 'forged' | 'stale' | 'short';

/** Remembered redeemed tickets at most; beyond it (after dropping expired ones) tickets are stale. */
const MAX_REDEEMED = 1 << 17;

/**
 * Issues and redeems admission tickets. A ticket needs no server state until it is redeemed
 * (its MAC proves the service issued it), so a flood of demands costs nothing to remember;
 * redeemed seeds are kept until their ticket expires, so each ticket admits once.
 */
export class AdmissionTickets {
  readonly #secret = new Uint8Array(randomBytes(32));
  readonly #ttlMs: number;
  readonly #now: () => number;
  /** Redeemed seed (hex) → expiry; insertion order is nearly expiry order. */
  readonly #redeemed = new Map<string, number>();

  public constructor(ttlMs: number, now: () => number = Date.now) {
    this.#ttlMs = ttlMs;
    this.#now = now;
  }

  public issue(bits: number): Uint8Array {
    const ticket = new Uint8Array(ADMISSION_TICKET_SIZE);
    ticket.set(randomBytes(ADMISSION_SEED_SIZE));
    const view = new DataView(ticket.buffer);
    const expiry = this.#now() + this.#ttlMs;
    view.setUint16(ADMISSION_SEED_SIZE, Math.floor(expiry / 2 ** 32), false);
    view.setUint32(ADMISSION_SEED_SIZE + 2, expiry >>> 0, false);
    ticket[ADMISSION_SEED_SIZE + 6] = bits;
    ticket.set(this.#mac(ticket), ADMISSION_SEED_SIZE + 7);
    return ticket;
  }

  /** Check a presented solution; 'ok' also marks the ticket used. */
  public redeem(solution: AdmissionSolution): TicketVerdict {
    const { ticket, nonce } = solution;
    if (ticket.length !== ADMISSION_TICKET_SIZE || nonce.length !== ADMISSION_NONCE_SIZE) return 'forged';
    const mac = ticket.subarray(ADMISSION_SEED_SIZE + 7);
    if (!equalBytes(mac, this.#mac(ticket))) return 'forged';
    const view = new DataView(ticket.buffer, ticket.byteOffset, ticket.byteLength);
    const expiry = view.getUint16(ADMISSION_SEED_SIZE, false) * 2 ** 32 + view.getUint32(ADMISSION_SEED_SIZE + 2, false);
    const bits = ticket[ADMISSION_SEED_SIZE + 6]!;
    if (!meetsDifficulty(nonce, admissionChallenge(ticket), bits)) return 'short';
    const now = this.#now();
    const seed = Buffer.from(ticket.subarray(0, ADMISSION_SEED_SIZE)).toString('hex');
    if (expiry <= now || this.#redeemed.has(seed)) return 'stale';
    if (this.#redeemed.size >= MAX_REDEEMED) {
      for (const [key, until] of this.#redeemed) if (until <= now) this.#redeemed.delete(key);
      if (this.#redeemed.size >= MAX_REDEEMED) return 'stale';
    }
    this.#redeemed.set(seed, expiry);
    return 'ok';
  }

  #mac(ticket: Uint8Array): Uint8Array {
    return hmacSha256(this.#secret, ticket.subarray(0, ADMISSION_SEED_SIZE + 7)).subarray(0, 16);
  }
}

// ---------------------------------------------------------------------------------------------
// The exchange.
// ---------------------------------------------------------------------------------------------

/** What the service side of admission needs from its service. */
export interface AdmissionGate {
  readonly tickets: AdmissionTickets;
  /** Bits to demand of this connection now (0 = admit without work). */
  difficultyFor(conn: Connection): number;
  /** The connection is admitted (`paid`: it presented valid work); make room among handshakes. */
  admit(conn: Connection, paid: boolean): void;
  /** A demand was sent. */
  demanded?(bits: number): void;
}

async function readHello(conn: Connection): Promise<AdmissionHello> {
  const payload = await conn.expect();
  conn.transcript.add(ADMISSION_HELLO, payload);
  try {
    return parseAdmissionHello(payload);
  } catch (error) {
    // No second message on a channel whose peer broke the protocol.
    if (error instanceof TapirError) conn.close(error);
    throw error;
  }
}

async function sendReply(conn: Connection, demand?: { ticket: Uint8Array; bits: number }): Promise<void> {
  const payload = encodeAdmissionReply(demand);
  conn.transcript.add(ADMISSION_REPLY, payload);
  await conn.send(payload);
}

/**
 * Service side. Nothing here costs more than a few hashes: no key generation, no Diffie-Hellman,
 * no signature, until `gate.admit` has been called.
 */
export async function admitInbound(conn: Connection, gate: AdmissionGate): Promise<void> {
  conn.transcript.newProtocol(ADMISSION_PROTOCOL_LABEL);
  let hello = await readHello(conn);
  for (let round = 0; ; round++) {
    if (hello.solution !== undefined) {
      const verdict = gate.tickets.redeem(hello.solution);
      if (verdict === 'ok') {
        gate.admit(conn, true);
        await sendReply(conn);
        return;
      }
      if (verdict === 'forged') throw new ProofOfWorkInvalidError('admission ticket was not issued by this service');
      if (verdict === 'short') throw new ProofOfWorkInvalidError('admission proof of work does not meet its ticket');
      // Stale (expired or already used): an honest dialler that took too long gets a new demand.
      if (round >= MAX_ADMISSION_ROUNDS) throw new ProofOfWorkInvalidError('too many stale admission tickets');
    }
    const bits = gate.difficultyFor(conn);
    if (bits === 0) {
      gate.admit(conn, false);
      await sendReply(conn);
      return;
    }
    await sendReply(conn, { ticket: gate.tickets.issue(bits), bits });
    gate.demanded?.(bits);
    hello = await readHello(conn);
    if (hello.solution === undefined) {
      const error = new ProtocolViolationError('expected a solution to the admission demand');
      conn.close(error);
      throw error;
    }
  }
}

/** A dialler's solved ticket, carried from a connection that closed to the next attempt. */
export interface AdmissionCarry {
  solved?: AdmissionSolution;
  /** The service has demanded work: it is under pressure, so a dropped connection was likely evicted, not refused. */
  demanded?: boolean;
}

export interface OutboundAdmissionOptions {
  /** Refuse services demanding more bits than this. */
  readonly maxBits?: number;
  readonly signal?: AbortSignal;
  /** Shared across redials of one `connect`: a ticket solved on a connection that died is presented on the next. */
  readonly carry?: AdmissionCarry;
}

/**
 * Dialler side. Solving goes on even if the service drops the connection meanwhile (a flood
 * evicts connections still in admission oldest first): the solution is kept in `carry` for the
 * redial, and the connection's closing error is thrown once it is ready.
 */
export async function admitOutbound(conn: Connection, options: OutboundAdmissionOptions = {}): Promise<void> {
  const carry = options.carry ?? {};
  const maxBits = options.maxBits ?? DEFAULT_MAX_POW_DIFFICULTY;
  conn.transcript.newProtocol(ADMISSION_PROTOCOL_LABEL);
  let hello = encodeAdmissionHello(carry.solved);
  for (;;) {
    conn.transcript.add(ADMISSION_HELLO, hello);
    await conn.send(hello);
    const payload = await conn.expect();
    conn.transcript.add(ADMISSION_REPLY, payload);
    let reply: AdmissionReply;
    try {
      reply = parseAdmissionReply(payload);
    } catch (error) {
      if (error instanceof TapirError) conn.close(error);
      throw error;
    }
    // Admitted, or a demand: either way the solution we presented (if any) is spent.
    carry.solved = undefined;
    if (reply.demand === undefined) return;
    const { ticket, bits } = reply.demand;
    carry.demanded = true;
    if (bits > maxBits) {
      const error = new ProofOfWorkTooHardError(bits, maxBits);
      conn.close(error);
      throw error;
    }
    const nonce = await solveProofOfWork(admissionChallenge(ticket), bits, options.signal);
    carry.solved = { ticket, nonce };
    if (conn.isClosed) await conn.expect(); // rejects with the closing error
    hello = encodeAdmissionHello(carry.solved);
  }
}
