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
  ConnectionEvictedError,
  CounterExhaustedError,
  type EvictionReason,
  FrameInvalidError,
  FrameTooLargeError,
  HandshakeInvalidError,
  HandshakeTimeoutError,
  IdleTimeoutError,
  IdentityMismatchError,
  PacketDecryptionError,
  PacketReflectedError,
  PacketReorderedError,
  PacketReplayedError,
  ProofOfWorkInvalidError,
  ProofOfWorkTooHardError,
  ProtocolViolationError,
  TapirError,
  type TapirErrorCode,
  TooManyConnectionsError,
  TranscriptMismatchError,
  WireVersionError,
} from './errors.js';
export { MAX_PLAIN_PAYLOAD, MAX_SEALED_PAYLOAD, PACKET_SIZE, TAPIR_PORT, TAPIR_WIRE_VERSION } from './wire-profile.js';
export { encodeFrame, sealPacket } from './frame.js';
export { Connection } from './connection.js';
export { ChannelCipher, type SessionKeys } from './channel-cipher.js';
export { type Application, ApplicationChain } from './application.js';
export { AuthApp, deriveSessionKeys } from './auth.js';
export { DEFAULT_POW_DIFFICULTY, MAX_POW_DIFFICULTY, ProofOfWorkApp, meetsDifficulty, solveProofOfWork } from './pow.js';
export {
  type AdmissionOptions,
  type AdmissionPolicy,
  DEFAULT_ADMISSION_BITS,
  DEFAULT_ADMISSION_MAX_BITS,
  DEFAULT_ADMISSION_THRESHOLD,
  admissionDifficulty,
} from './admission.js';
export { TapirService, type ServiceMetrics, type TapirServiceOptions } from './service.js';
export type { ACN, ACNListener, AcnState, AcnStatus, BootstrapStatus, ListenOptions, OpenOptions, TorStatus } from './acn/acn.js';
export { type OpenRetryInfo, type ReconnectFailureInfo, TorACN, type TorACNOptions } from './acn/tor-acn.js';
export type { ReconnectPolicy, TorACNClock } from './acn/tor-control-backoff.js';
export { LoopbackACN } from './acn/loopback-acn.js';
export {
  type AcnConfig,
  type AcnPlan,
  DEFAULT_TOR_CONTROL,
  DEFAULT_TOR_SOCKS,
  type ManagedTorPlan,
  type OpenAcnOptions,
  type PlanDefaults,
  type TorPreset,
  type TorPresetName,
  acnFromConfig,
  openAcn,
  planAcn,
  readTorrcFile,
  torPreset,
} from './acn/acn-config.js';
export {
  type LaunchTorOptions,
  type ManagedTor,
  type RelaunchTorOptions,
  type TorBootstrapProgress,
  type TorExit,
  findTorBinary,
  launchTor,
} from './acn/managed-tor.js';
export { DEFAULT_RELAUNCH_POLICY, type ManagedTorACNOptions, type RelaunchEvent, ManagedTorACN } from './acn/managed-tor-acn.js';
export { AcnConfigFileSchema } from './acn/acn-config-file.js';
export {
  ACN_SETTINGS,
  acnConfigFromFlags,
  flagAttribute,
  TOR_CONTROL_PASSWORD_ENV,
  TOR_CONTROL_PASSWORD_FILE_FLAG,
  type AcnSetting,
} from './acn/acn-settings.js';
export { TorAbortedError, TorBootstrapTimeoutError, TorConfigError, TorDataDirectoryBusyError, TorLaunchError, TorNotFoundError } from './errors.js';
