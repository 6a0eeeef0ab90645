import { sha256 } from '@pursuance/crypto';
import { meetsDifficulty, solveProofOfWork } from '@pursuance/tapir';
import { RENEWAL_POW_DOMAIN } from './protocol-profile.js';

/**
 * Session renewal work: SHA-256(solution ‖ SHA-256(domain ‖ challenge)) must start with `bits`
 * zero bits. The challenge is the board's, fresh per session and per renewal, so work can be
 * neither precomputed nor shared between sessions.
 */
const domain = new TextEncoder().encode(RENEWAL_POW_DOMAIN);

function renewalTarget(challenge: Uint8Array): Uint8Array {
  return sha256(domain, challenge);
}

export function meetsRenewal(solution: Uint8Array, challenge: Uint8Array, bits: number): boolean {
  return meetsDifficulty(solution, renewalTarget(challenge), bits);
}

export function solveRenewal(challenge: Uint8Array, bits: number, signal?: AbortSignal): Promise<Uint8Array> {
  return solveProofOfWork(renewalTarget(challenge), bits, signal);
}
