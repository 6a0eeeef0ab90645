/**
 * @packageDocumentation
 * The untrusted relay, framework-free: Privacy Pass tokens over VOPRF(ristretto255, SHA-512),
 * the token service and message board as tapir applications, the storage port with an
 * in-memory implementation, the signed key bundle, and the client library.
 *
 * @example
 * ```ts
 * const relay = await RelayServer.start({ acn, boardIdentity, tokenIdentity, tokenKey: generateVoprfKeyPair(),
 *   store: new MemoryRelayStore(), powDifficulty: 16 });
 * const bundle = await trustKeyBundle(relay.exportedBundle, new MemoryKeyBundlePins());
 * const client = new RelayClient({ acn, bundle });
 * const session = await client.openSession();
 * await session.post({ ciphertext, signature });   // buys tokens on demand
 * const all = await session.replay();
 * ```
 */
export * from './errors.js';
export * from './protocol-profile.js';
export * from './group-message.js';
export * from './voprf.js';
export * from './tokens.js';
export * from './wire-json.js';
export * from './board-protocol.js';
export * from './token-protocol.js';
export * from './key-bundle.js';
export * from './store.js';
export * from './memory-store.js';
export * from './tapir-errors.js';
export * from './token-service.js';
export * from './token-purchase.js';
export * from './token-wallet.js';
export * from './board-server.js';
export * from './board-connection.js';
export * from './board-session.js';
export * from './relay-server.js';
export * from './relay-client.js';
