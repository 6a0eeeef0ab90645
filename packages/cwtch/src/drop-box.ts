import { Identity, randomKey } from '@pursuance/crypto';
import { RelayClient, bucketOf, importKeyBundle, type RelayClientOptions } from '@pursuance/relay';
import type { ACN } from '@pursuance/tapir';
import { sealGroupMessage } from './group-envelope.js';
import { deriveGroupId, groupGenesis } from './group-id.js';
import { encodeGroupInvite, parseGroupInvite } from './group-invite.js';
import { MAX_GROUP_PAYLOAD_PER_MESSAGE, RELAY_CLOCK_SKEW_MS } from './protocol-profile.js';
import { GroupMessageInvalidError } from './errors.js';

/**
 * A drop box: an open group on a relay that anyone holding its invite may post into without
 * revealing who they are. Its invite names no real owner (a throwaway onion stands in), and each
 * post is signed by a fresh throwaway identity and sent over its own relay session (which the
 * relay client already opens on a throwaway identity). So neither the relay nor anyone else
 * reading the box learns who posted, or who made the box; what a post says is the application's
 * business (it seals it to whoever should read it).
 *
 * Readers follow a drop box like any group (CwtchPeer.acceptGroupInvite); its posts arrive as
 * group messages from senders nobody knows. Posters always name the group's genesis as the
 * previous message, so no post makes a reader look for gaps among senders it cannot reach.
 */
export const DROP_BOX_GROUP_NAME = 'drop-box';
const DAY_MS = 86_400_000;

/** A new drop box on the relay whose exported key bundle is `bundleText`; the text is its invite. */
export function newDropBoxInvite(bundleText: string, now: number): string {
  const bundle = importKeyBundle(bundleText);
  const key = randomKey();
  const since = bundle.bucketSeconds === undefined ? undefined : bucketOf(Math.max(0, now - RELAY_CLOCK_SKEW_MS), bundle.bucketSeconds * 1000);
  return encodeGroupInvite(
    {
      groupId: deriveGroupId(key, bundle.boardOnion),
      name: DROP_BOX_GROUP_NAME,
      key,
      relay: bundle.boardOnion,
      // Nobody's: a real owner would name who made the box to everyone who reads its invite.
      owner: Identity.generate().onion,
      members: null,
      // The day only: the invite is public, and the exact minute it was made says more than needed.
      timestamp: Math.floor(now / DAY_MS) * DAY_MS,
      ...(since === undefined ? {} : { since }),
    },
    bundleText,
  );
}

/** Is `name` a drop box's group name (so an application can tell its groups apart)? */
export function isDropBox(name: string): boolean {
  return name === DROP_BOX_GROUP_NAME;
}

/** Is this group a drop box (an open group by that name), whose posts the receive pipeline holds to one message naming the genesis? */
export function isDropBoxGroup(group: { readonly name: string; readonly members: readonly string[] | null }): boolean {
  return group.members === null && isDropBox(group.name);
}

export interface DropBoxPostOptions {
  readonly acn: ACN;
  readonly now?: () => number;
  readonly signal?: AbortSignal;
  readonly client?: Partial<Pick<RelayClientOptions, 'maxPowDifficulty' | 'connectTimeoutMs' | 'handshakeTimeoutMs'>>;
}

/**
 * Post `payload` (one message's worth) into the drop box `inviteText`, as nobody: a throwaway
 * identity signs it, a throwaway relay session carries it (buying one token batch with its own
 * proof of work). Resolves once the relay stored it; rejects with the relay's error otherwise.
 */
export async function postToDropBox(inviteText: string, payload: Uint8Array, options: DropBoxPostOptions): Promise<void> {
  if (payload.length > MAX_GROUP_PAYLOAD_PER_MESSAGE) throw new GroupMessageInvalidError('a drop-box post fits one group message');
  const { invite, bundle } = parseGroupInvite(inviteText);
  const now = options.now ?? Date.now;
  const message = sealGroupMessage({ id: invite.groupId, key: invite.key, relay: invite.relay, members: null }, Identity.generate(), {
    timestamp: now(),
    previous: groupGenesis(invite.groupId),
    payload,
    fragment: undefined,
  });
  const client = new RelayClient({ acn: options.acn, bundle, batchSize: 1, keepalive: false, renewIntervalMs: false, ...options.client, now });
  try {
    const session = await client.openSession(options.signal ? { signal: options.signal } : {});
    try {
      await session.post(message, options.signal ? { signal: options.signal } : {});
    } finally {
      session.close();
    }
  } finally {
    await client.close();
  }
}
