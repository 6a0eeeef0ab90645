/**
 * @packageDocumentation
 * The untrusted relay, framework-free: Privacy Pass tokens over VOPRF(ristretto255, SHA-512),
 * the token service and message board as tapir applications, the storage port with an
 * in-memory implementation, the signed key bundle, and the client library.
 *
 * @example
 * ```ts
 * const relay = await RelayServer.start({ acn, boardIdentity, tokenIdentity, tokenKeys: TokenKeyring.generate(),
 *   store: new MemoryRelayStore(), powDifficulty: 16 });
 * const bundle = await trustKeyBundle(relay.exportedBundle, new MemoryKeyBundlePins());
 * const client = new RelayClient({ acn, bundle });
 * const session = await client.openSession();
 * await session.post({ ciphertext, signature });   // buys tokens on demand
 * const all = await session.replay();
 * ```
 */

export {
  KeyBundleChangedError,
  KeyBundleInvalidError,
  MalformedRequestError,
  MalformedResponseError,
  OperationAbortedError,
  PostRejectedError,
  RelayError,
  type RelayErrorCode,
  ReplayInterruptedError,
  SessionClosedError,
  SessionUnresponsiveError,
  RenewalRefusedError,
  SlowConsumerError,
  StoreClosedError,
  StoreFailedError,
  TokenBatchInvalidError,
  VoprfNotLoadedError,
  TokenInvalidError,
  TokenKeyUnprovenError,
  TokenProofInvalidError,
  TokenScheduleEndedError,
  TokenSpentError,
  TokensUnavailableError,
  TooManyFailedSpendsError,
} from './errors.js';
export {
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_BUCKET_SECONDS,
  MIN_BUCKET_SECONDS,
  MAX_BUCKET_SECONDS,
  MAX_BUCKET_INDEX,
  DEFAULT_RENEWAL_BITS,
  MAX_RENEWAL_BITS,
  GROUP_CIPHERTEXT_SIZE,
  GROUP_PADDED_PLAINTEXT_SIZE,
  GROUP_SIGNATURE_SIZE,
  MESSAGES_PER_MB,
  SESSION_RENEW_INTERVAL_MS,
} from './protocol-profile.js';
export type { EncryptedGroupMessage } from './group-message.js';
export { type VoprfKeyPair, blindInputs, loadVoprf, evaluateBlindedBatch, finalizeBatch, generateVoprfKeyPair, voprfKeyPairFromSecret } from './voprf.js';
export { type SpentToken, newTokenInputs, spendToken, verifySpentToken } from './tokens.js';
export {
  encodeBareMessage,
  encodeBucketRequest,
  encodeBucketResult,
  encodeNewMessage,
  encodePing,
  encodePong,
  encodePostRequest,
  encodePostResult,
  encodeRenewRequest,
  encodeRenewResult,
  encodeReplayResult,
  parseBoardRequest,
  type RenewOutcome,
} from './board-protocol.js';
export { encodeTokenRequest } from './token-protocol.js';
export {
  type KeyBundle,
  MemoryKeyBundlePins,
  type SignedKeyBundle,
  exportKeyBundle,
  importKeyBundle,
  legacyBundleOnion,
  sameKeys,
  addsBuckets,
  signKeyBundle,
  trustKeyBundle,
} from './key-bundle.js';
export {
  type PostOutcome,
  type PostRecord,
  type RelayStore,
  type RelayStoreOptions,
  type StoreStats,
  type StoredMessage,
  PRUNE_BATCH,
  STORAGE_DAY_MS,
  capPruneCount,
  firstKeptDay,
  messagesToPrune,
  storageDay,
  DEFAULT_BUCKET_MS,
  bucketOf,
} from './store.js';
export { MemoryRelayStore } from './memory-store.js';
export { relayCause } from './tapir-errors.js';
export { TokenService } from './token-service.js';
export {
  type EpochKeyProof,
  type TokenEpochSchedule,
  TokenEpochScheduleError,
  TokenKeyring,
  checkSchedule,
  defaultSchedule,
  deriveEpochKey,
  epochAt,
  epochEndMs,
  epochRoot,
  epochStartMs,
  isIssuable,
  isRedeemable,
  isSpendable,
  oldestRedeemable,
  redeemUntilMs,
  verifyEpochKey,
} from './token-epochs.js';
export { type TokenResponse, encodeTokenResponse, parseTokenResponse } from './token-protocol.js';
export { TokenWallet } from './token-wallet.js';
export { BoardServer } from './board-server.js';
export { BoardSession, type KeepaliveOptions } from './board-session.js';
export { meetsRenewal, solveRenewal } from './renewal.js';
export { RelayServer } from './relay-server.js';
export { RelayClient, type RelayClientOptions } from './relay-client.js';
