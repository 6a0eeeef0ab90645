import { randomBytes } from 'node:crypto';
import { fromBase64, sha256, toBase64 } from '@pursuance/crypto';
import { z } from 'zod';
import type { Application } from './application.js';
import type { Connection } from './connection.js';
import { ProofOfWorkInvalidError, ProofOfWorkTooHardError, ProtocolViolationError } from './errors.js';
import { POW_CHALLENGE, POW_DIFFICULTY, POW_PROTOCOL_LABEL, POW_SEED, POW_SOLUTION, PROOF_OF_WORK_CAPABILITY } from './wire-profile.js';

/** Operator difficulty is in leading zero bits of SHA-256(solution ‖ challenge). Cwtch uses 16. */
export const DEFAULT_POW_DIFFICULTY = 16;
/** Clients refuse to burn more than this by default (2^24 hashes ≈ tens of seconds here). */
export const DEFAULT_MAX_POW_DIFFICULTY = 24;
export const MAX_POW_DIFFICULTY = 32;
const SOLUTION_SIZE = 32;

const b64 = (size: number) =>
  z
    .string()
    .max(Math.ceil(size / 3) * 4)
    .transform((s, ctx) => {
      try {
        const bytes = fromBase64(s);
        if (bytes.length === size) return bytes;
      } catch {
        // reported below
      }
      ctx.addIssue({ code: 'custom', message: `expected base64 of ${size} bytes` });
      return z.NEVER;
    });

const PowChallengeSchema = z.strictObject({ Seed: b64(32), Difficulty: z.number().int().min(0).max(MAX_POW_DIFFICULTY) });
const PowSolutionSchema = z.strictObject({ Solution: b64(SOLUTION_SIZE) });

export function leadingZeroBits(bytes: Uint8Array): number {
  let bits = 0;
  for (const byte of bytes) {
    if (byte === 0) {
      bits += 8;
      continue;
    }
    return bits + Math.clz32(byte) - 24;
  }
  return bits;
}

export function meetsDifficulty(solution: Uint8Array, challenge: Uint8Array, difficulty: number): boolean {
  return leadingZeroBits(sha256(solution, challenge)) >= difficulty;
}

/**
 * Find a solution. Yields to the event loop every few thousand hashes so a client busy with
 * work keeps serving its other connections.
 */
export async function solveProofOfWork(challenge: Uint8Array, difficulty: number, signal?: AbortSignal): Promise<Uint8Array> {
  const candidate = new Uint8Array(SOLUTION_SIZE);
  candidate.set(randomBytes(24));
  const view = new DataView(candidate.buffer);
  for (let counter = 0; ; counter++) {
    view.setUint32(24, Math.floor(counter / 0x1_0000_0000), false);
    view.setUint32(28, counter >>> 0, false);
    if (meetsDifficulty(candidate, challenge, difficulty)) return candidate;
    if ((counter & 0xfff) === 0xfff) {
      signal?.throwIfAborted();
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
}

export interface ProofOfWorkOptions {
  /** Server side: bits of work demanded from each connection. */
  readonly difficulty?: number;
  /** Client side: refuse servers that demand more than this. */
  readonly maxDifficulty?: number;
}

/**
 * Proof-of-work gate (Tapir's ProofOfWorkApplication). The inbound side picks a random seed
 * and the difficulty; both sides bind them into the connection transcript and derive the
 * challenge from it, so a solution is only valid on this connection.
 */
export class ProofOfWorkApp implements Application {
  public readonly name = 'proof-of-work';
  public readonly capability = PROOF_OF_WORK_CAPABILITY;
  private readonly difficulty: number;
  private readonly maxDifficulty: number;

  public constructor(options: ProofOfWorkOptions = {}) {
    this.difficulty = options.difficulty ?? DEFAULT_POW_DIFFICULTY;
    this.maxDifficulty = options.maxDifficulty ?? DEFAULT_MAX_POW_DIFFICULTY;
    if (!Number.isInteger(this.difficulty) || this.difficulty < 0 || this.difficulty > MAX_POW_DIFFICULTY) {
      throw new RangeError(`difficulty must be an integer in [0, ${MAX_POW_DIFFICULTY}]`);
    }
  }

  public async run(conn: Connection): Promise<void> {
    conn.transcript.newProtocol(POW_PROTOCOL_LABEL);
    if (conn.outbound) await this.solve(conn);
    else await this.demand(conn);
    conn.grantCapability(this.capability);
  }

  private async demand(conn: Connection): Promise<void> {
    const seed = new Uint8Array(randomBytes(32));
    await conn.sendJSON({ Seed: toBase64(seed), Difficulty: this.difficulty });
    const challenge = this.bind(conn, seed, this.difficulty);
    const { Solution } = await conn.expectJSON(PowSolutionSchema);
    if (!meetsDifficulty(Solution, challenge, this.difficulty)) throw new ProofOfWorkInvalidError();
    conn.transcript.add(POW_SOLUTION, Solution);
  }

  private async solve(conn: Connection): Promise<void> {
    const { Seed, Difficulty } = await conn.expectJSON(PowChallengeSchema);
    if (Difficulty > this.maxDifficulty) throw new ProofOfWorkTooHardError(Difficulty, this.maxDifficulty);
    const challenge = this.bind(conn, Seed, Difficulty);
    const solution = await solveProofOfWork(challenge, Difficulty);
    if (conn.isClosed) throw new ProtocolViolationError('connection closed during proof of work');
    await conn.sendJSON({ Solution: toBase64(solution) });
    conn.transcript.add(POW_SOLUTION, solution);
  }

  private bind(conn: Connection, seed: Uint8Array, difficulty: number): Uint8Array {
    conn.transcript.add(POW_SEED, seed);
    conn.transcript.add(POW_DIFFICULTY, String(difficulty));
    return conn.transcript.commit(POW_CHALLENGE, 32);
  }
}
