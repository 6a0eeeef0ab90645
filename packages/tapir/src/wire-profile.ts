/**
 * Every byte-level choice of the tapir wire format in one place, so a correction (e.g. once
 * Go Cwtch's exact bytes can be checked) is a one-file change. Confidence per PROTOCOL.md:
 * [D] documented, [R] recollection/our choice. Wire compatibility with Go Cwtch is NOT claimed.
 */

/** [D] Every packet on the wire is exactly this many bytes. */
export const PACKET_SIZE = 8192;
/** [R] Length prefix: unsigned LEB128 (Go uvarint) written into a fixed 2-byte slot. */
export const LENGTH_PREFIX_SIZE = 2;
/** [R] XSalsa20-Poly1305 nonce and tag once a session key is set: 24 + 16 + 8152 = 8192. */
export const NONCE_SIZE = 24;
export const TAG_SIZE = 16;
/** The framed plaintext that is sealed per packet after authentication. */
export const SEALED_FRAME_SIZE = PACKET_SIZE - NONCE_SIZE - TAG_SIZE; // 8152
/** Largest application payload in one packet. */
export const MAX_PLAIN_PAYLOAD = PACKET_SIZE - LENGTH_PREFIX_SIZE; // 8190
export const MAX_SEALED_PAYLOAD = SEALED_FRAME_SIZE - LENGTH_PREFIX_SIZE; // 8150

/** [R] Virtual onion port tapir services listen on. */
export const TAPIR_PORT = 9878;

/** [D] Capability strings granted by the standard applications. */
export const AUTHENTICATION_CAPABILITY = 'AuthenticationCapability';
export const PROOF_OF_WORK_CAPABILITY = 'SuccessfulProofOfWorkCapability';

/** [R] Merlin labels. */
export const TRANSCRIPT_LABEL = 'tapir-transcript';
export const AUTH_PROTOCOL_LABEL = 'auth-app';
export const AUTH_OUTBOUND_HOSTNAME = 'outbound-hostname';
export const AUTH_INBOUND_HOSTNAME = 'inbound-hostname';
export const AUTH_OUTBOUND_CHALLENGE = 'outbound-challenge';
export const AUTH_INBOUND_CHALLENGE = 'inbound-challenge';
export const AUTH_COMMITMENT = '3dh-auth-challenge';
export const POW_PROTOCOL_LABEL = 'pow-app';
export const POW_SEED = 'pow-seed';
export const POW_DIFFICULTY = 'pow-difficulty';
export const POW_CHALLENGE = 'pow-challenge';
export const POW_SOLUTION = 'pow-solution';

/** Transcript commitments are Merlin challenge_bytes of this length. */
export const COMMITMENT_SIZE = 64;

/**
 * [O] Tapir wire version. Version 2 puts an admission exchange (AdmissionHello / Admission, see
 * admission.ts and the README) in front of every application chain, so a busy service can
 * demand proof of work before it spends any handshake work. Version 1 (no admission, the auth
 * message first) is not spoken any more: a v1 peer is refused with WIRE_VERSION_UNSUPPORTED.
 */
export const TAPIR_WIRE_VERSION = 2;
/** [O] Merlin labels of the admission exchange (bound into the transcript before auth). */
export const ADMISSION_PROTOCOL_LABEL = 'admission';
export const ADMISSION_HELLO = 'admission-hello';
export const ADMISSION_REPLY = 'admission-reply';
/** [O] Domain separation of admission proof of work from every other SHA-256 use. */
export const ADMISSION_POW_DOMAIN = 'tapir-admission-pow-v2';
/** [O] Ticket = seed (16) ‖ expiry ms, uint48 BE (6) ‖ bits (1) ‖ HMAC-SHA-256 truncated (16). */
export const ADMISSION_SEED_SIZE = 16;
export const ADMISSION_TICKET_SIZE = ADMISSION_SEED_SIZE + 6 + 1 + 16;
/** [O] The client's nonce: SHA-256(nonce ‖ SHA-256(domain ‖ ticket)) must have `bits` leading zeros. */
export const ADMISSION_NONCE_SIZE = 32;
