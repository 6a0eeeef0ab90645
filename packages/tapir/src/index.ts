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
export * from './errors.js';
export * from './wire-profile.js';
export * from './frame.js';
export * from './transcript.js';
export * from './connection.js';
export * from './application.js';
export * from './auth.js';
export * from './pow.js';
export * from './service.js';
export * from './acn/acn.js';
export * from './acn/loopback-acn.js';
export * from './acn/tor-control-reply.js';
export * from './acn/tor-control-args.js';
export * from './acn/tor-control.js';
export * from './acn/tor-acn.js';
export * from './acn/acn-config.js';
