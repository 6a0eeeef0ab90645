/**
 * @packageDocumentation
 * The only package that touches key bytes and primitives: ed25519 identities and their Tor v3
 * onion names, X25519, NaCl secretbox/box, the password KDF, fixed-size padding and the
 * canonical encoding used for everything signed.
 *
 * @example
 * ```ts
 * const alice = Identity.generate();
 * const sig = alice.sign(canonicalEncode({ hello: 'world' }));
 * verifySignature(canonicalEncode({ hello: 'world' }), sig, publicKeyFromOnion(alice.onion)); // true
 * ```
 */
export * from './errors.js';
export * from './bytes.js';
export * from './hash.js';
export * from './onion.js';
export * from './ed25519.js';
export * from './x25519.js';
export * from './nacl.js';
export * from './kdf.js';
export * from './padding.js';
export * from './canonical.js';
export * from './identity.js';
export * from './anonymous-box.js';
