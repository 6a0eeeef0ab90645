import type { CwtchPeer, CwtchPeerEvents } from '@pursuance/cwtch';

/**
 * What the sync service needs of a Cwtch peer: its groups and their histories, posting,
 * group invites and re-keying, relays' health, and its events. Narrow on purpose, so the
 * service's batching, health and reconcile logic can be tested against a small fake.
 */
export type SyncPeer = PeerEvents &
  Pick<
    CwtchPeer,
    | 'setGroupMembership'
    | 'groups'
    | 'group'
    | 'currentGroupId'
    | 'groupHistory'
    | 'groupMessages'
    | 'gapReport'
    | 'isRelaySynced'
    | 'relayCatchUp'
    | 'postToGroup'
    | 'createGroup'
    | 'mirrorGroup'
    | 'groupInvite'
    | 'acceptGroupInvite'
    | 'setGroupRetired'
    | 'addRelay'
    | 'relays'
    | 'contact'
    | 'addContact'
    | 'inviteToGroup'
    | 'directMessages'
  >;

/** Subscribing to the peer's events (what EventEmitter<CwtchPeerEvents> offers, minus chaining). */
export interface PeerEvents {
  on<K extends keyof CwtchPeerEvents>(event: K, listener: (...args: CwtchPeerEvents[K]) => void): unknown;
  off<K extends keyof CwtchPeerEvents>(event: K, listener: (...args: CwtchPeerEvents[K]) => void): unknown;
}

/** What services reading drop boxes need of the peer (joining by request, links): following inboxes, and their messages. */
export type DropBoxPeer = PeerEvents & Pick<CwtchPeer, 'acceptGroupInvite' | 'group' | 'groups' | 'groupHistory' | 'setGroupRetired'>;
