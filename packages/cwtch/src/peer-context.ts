import type { EventEmitter } from 'node:events';
import type { OnionName } from '@pursuance/crypto';
import type { ParsedGroupInvite } from './group-invite.js';
import type { DeliveredGroupMessage, GapReport } from './group-log.js';
import type { MessageSource } from './group-manager.js';
import type { Overlay } from './overlays.js';
import type { Contact } from './records.js';
import type { RepairOutcome, WITHHELD_REASON } from './repair.js';

/**
 * What CwtchPeer shares with the collaborators it delegates to: the events they raise on its
 * behalf (one emitter, so applications subscribe in one place) and its lifecycle flags. Kept
 * apart from cwtch-peer.ts so the collaborators need not import the facade that imports them.
 */
export interface ReceivedDirectMessage {
  readonly from: OnionName;
  readonly id: string;
  readonly overlay: Overlay;
  readonly contactState: Contact['state'];
}

export interface GroupMessage extends DeliveredGroupMessage {
  /** The payload as an overlay, when it is one. */
  readonly overlay: Overlay | undefined;
}

export interface FullGapReport extends GapReport {
  /** Missing signatures no reachable member could supply: possibly withheld by the relay. */
  readonly withheld: readonly string[];
}

export interface CwtchPeerEvents {
  contactRequest: [OnionName];
  message: [ReceivedDirectMessage];
  delivered: [{ to: OnionName; id: string }];
  deliveryFailed: [{ to: OnionName; id: string; attempts: number; nextAttemptAt: number; code: string }];
  groupInvite: [{ from: OnionName; invite: ParsedGroupInvite; text: string }];
  groupMessage: [GroupMessage];
  groupMessagePosted: [{ relay: string; signature: string }];
  groupMessageAcked: [{ groupId: string; signature: string }];
  groupMessageRejected: [{ groupId: string; source: MessageSource; code: string }];
  gap: [{ groupId: string; signature: string }];
  gapRepaired: [{ groupId: string; signatures: string[]; from: OnionName }];
  gapUnrepaired: [{ groupId: string; signatures: string[]; reason: typeof WITHHELD_REASON }];
  repairFinished: [RepairOutcome];
  groupMoved: [{ from: string; to: string }];
  relaySynced: [{ relay: string; count: number }];
  relayDown: [{ relay: string; code: string | undefined }];
  /** A relay named the bucket our next fetch from it starts at (the cursor moved on). */
  relayFrontier: [{ relay: string; bucket: number }];
  /** Something went wrong that the peer recovered from (codes only, never contents). */
  warning: [{ code: string; where: string }];
}

/** Where collaborators raise the peer's events: the CwtchPeer itself. */
export type PeerEvents = Pick<EventEmitter<CwtchPeerEvents>, 'emit'>;

/**
 * The peer's lifecycle, read (never written) by collaborators: work that needs the network
 * waits for `started`, and nothing new begins once `stopped`.
 */
export interface PeerLifecycle {
  readonly started: boolean;
  readonly stopped: boolean;
}

/** An error's stable code for a warning event: contents never leave the peer. */
export const codeOf = (err: unknown): string => (err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : 'ERROR');
