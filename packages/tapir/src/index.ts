/**
 * @packageDocumentation
 * Tapir: authenticated, encrypted, fixed-size-packet channels between onion identities, over
 * an ACN (real Tor, or loopback TCP for development with the same cryptography), with
 * application chains (auth → proof of work → …) that later layers plug into.
 *
 * @example
 * ```ts
 * const acn = new LoopbackACN();
 * const server = new TapirService(acn, Identity.generate());
 * await server.listen(() => new ApplicationChain([new AuthApp()], echoApp));
 * const client = new TapirService(acn, Identity.generate());
 * const conn = await client.connect(server.onion, new ApplicationChain([new AuthApp()]));
 * ```
 */

export {
  AcnClosedError,
  AcnConfigError,
  AcnControlError,
  AcnTimeoutError,
  AcnUnreachableError,
  CapabilityMissingError,
  ConnectionClosedError,
  FrameInvalidError,
  FrameTooLargeError,
  HandshakeInvalidError,
  HandshakeTimeoutError,
  IdentityMismatchError,
  PacketDecryptionError,
  ProofOfWorkInvalidError,
  ProofOfWorkTooHardError,
  ProtocolViolationError,
  TapirError,
  type TapirErrorCode,
  TooManyConnectionsError,
  TranscriptMismatchError,
} from './errors.js';
export { MAX_PLAIN_PAYLOAD, MAX_SEALED_PAYLOAD, PACKET_SIZE, TAPIR_PORT } from './wire-profile.js';
export { encodeFrame, sealPacket } from './frame.js';
export { Connection } from './connection.js';
export { type Application, ApplicationChain } from './application.js';
export { AuthApp } from './auth.js';
export { DEFAULT_POW_DIFFICULTY, MAX_POW_DIFFICULTY, ProofOfWorkApp } from './pow.js';
export { TapirService, type TapirServiceOptions } from './service.js';
export type { ACN } from './acn/acn.js';
export { LoopbackACN } from './acn/loopback-acn.js';
export { type AcnConfig, DEFAULT_TOR_CONTROL, DEFAULT_TOR_SOCKS, acnFromConfig } from './acn/acn-config.js';
