/**
 * Every byte-level choice of the tapir wire format in one place, so a correction (e.g. once
 * Go Cwtch's exact bytes can be checked) is a one-file change. Confidence per PROTOCOL.md:
 * [D] documented, [R] recollection/our choice. Wire compatibility with Go Cwtch is NOT claimed.
 */

/** [D] Every packet on the wire is exactly this many bytes. */
export const PACKET_SIZE = 8192;
/** [R] Length prefix: unsigned LEB128 (Go uvarint) written into a fixed 2-byte slot. */
export const LENGTH_PREFIX_SIZE = 2;
/**
 * [O] Sealed packets (version 3): XSalsa20-Poly1305 under the key of the packet's direction, with
 * an implicit nonce: the packet's counter in that direction (0, 1, 2, …) as a uint64 little-endian
 * in the first 8 of the 24 nonce bytes, the rest zero. Only tag ‖ ciphertext travel: 16 + 8176 =
 * 8192. A receiver opens packet n with nonce n and nothing else, so a replayed, reordered or
 * reflected packet fails authentication and closes the session (see channel-cipher.ts).
 */
export const NONCE_SIZE = 24;
export const COUNTER_SIZE = 8;
export const TAG_SIZE = 16;
/** The framed plaintext that is sealed per packet after authentication. */
export const SEALED_FRAME_SIZE = PACKET_SIZE - TAG_SIZE; // 8176
/** Largest application payload in one packet. */
export const MAX_PLAIN_PAYLOAD = PACKET_SIZE - LENGTH_PREFIX_SIZE; // 8190
export const MAX_SEALED_PAYLOAD = SEALED_FRAME_SIZE - LENGTH_PREFIX_SIZE; // 8174
/**
 * [O] Packets a session may carry in one direction. The counter is a uint64 on the wire; we stop
 * at 2^53 − 1 (JavaScript's exact integers), 70 exabytes, far past any session: the session
 * closes with COUNTER_EXHAUSTED rather than ever reusing a nonce.
 */
export const MAX_PACKET_COUNTER = Number.MAX_SAFE_INTEGER;

/**
 * [O] Session keys (version 3): HKDF-SHA-256 with the concatenated 3DH results as input keying
 * material, the transcript's challenge under SESSION_KEYS_CHALLENGE as salt (so every key is bound
 * to the admission exchange, both hostnames and both auth messages), and one info string per
 * direction. The two directions never share a key, so a packet sent back to its sender does not
 * open there.
 */
export const SESSION_KEYS_CHALLENGE = 'session-keys';
export const SESSION_KEY_OUTBOUND_INFO = 'tapir-v3 session key: dialler to service';
export const SESSION_KEY_INBOUND_INFO = 'tapir-v3 session key: service to dialler';

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
 * [O] Tapir wire version. Version 2 put an admission exchange (AdmissionHello / Admission, see
 * admission.ts and the README) in front of every application chain, so a busy service can
 * demand proof of work before it spends any handshake work. Version 3 keeps that exchange and
 * seals packets under one key per direction with counter nonces (above). Earlier versions are
 * not spoken: such a peer is refused with WIRE_VERSION_UNSUPPORTED.
 */
export const TAPIR_WIRE_VERSION = 3;
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
