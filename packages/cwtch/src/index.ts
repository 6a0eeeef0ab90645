/**
 * @packageDocumentation
 * The Cwtch peer, framework-free: a profile sealed at rest behind a small storage port,
 * contacts and direct messages over authenticated tapir links (acks, retries, a queue that
 * survives restarts), public attributes, overlays, and groups on untrusted relays — invites
 * carrying the relay's signed bundle, fixed-size encrypted and signed group messages with
 * fragmentation, trial decryption, the previous-signature chain with gap detection and repair
 * from other members, and moving a group to another relay.
 *
 * @example
 * ```ts
 * const alice = await CwtchPeer.create({ store: new MemoryProfileStore(), acn, password, displayName: 'alice' });
 * await alice.start();
 * const relay = await alice.addRelay(exportedBundle);
 * const groupId = await alice.createGroup({ name: 'crew', relay });
 * await alice.addContact(bob.onion);
 * await alice.inviteToGroup(groupId, bob.onion);
 * await alice.postToGroup(groupId, { o: OVERLAY.chat, d: 'hello' });
 * ```
 */
export * from './errors.js';
export * from './protocol-profile.js';
export * from './store.js';
export * from './vault.js';
export * from './records.js';
export * from './backoff.js';
export * from './peer-protocol.js';
export * from './overlays.js';
export * from './attributes.js';
export * from './group-id.js';
export * from './group-invite.js';
export * from './fragments.js';
export * from './group-envelope.js';
export * from './group-log.js';
export * from './group-manager.js';
export * from './repair-protocol.js';
export * from './peer-links.js';
export * from './outbox.js';
export * from './relay-sync.js';
export * from './repair.js';
export * from './cwtch-peer.js';
