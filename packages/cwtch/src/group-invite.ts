import { fromBase64, isOnionName, toBase64, type OnionName } from '@pursuance/crypto';
import { parseJSONText } from '@pursuance/codec';
import { MAX_BUCKET_INDEX, RelayError, importKeyBundle, type SignedKeyBundle } from '@pursuance/relay';
import { z } from 'zod';
import { InviteInvalidError } from './errors.js';
import { deriveGroupId, isGroupId } from './group-id.js';
import {
  GROUP_INVITE_PREFIX,
  GROUP_INVITE_VERSION,
  GROUP_KEY_SIZE,
  INVITE_SEPARATOR,
  MAX_GROUP_MEMBERS,
  MAX_GROUP_NAME_LENGTH,
  MAX_INVITE_LENGTH,
  TOFU_BUNDLE_PREFIX,
} from './protocol-profile.js';

/**
 * Group invites, as overlay 101 carries them:
 *   "tofubundle:" + <relay's exported signed key bundle> + "||" + "torv3" + base64(JSON(invite))
 * The invite JSON follows Cwtch's GroupInvite ([D] GroupID, GroupName, SharedKey, ServerHost,
 * Timestamp) plus [O] Version, Owner, Members (null = no member list) and Since (the relay bucket
 * the group's messages start at, so a joiner fetches from there, not from the relay's start; absent
 * when unknown, and then a joiner fetches everything the relay holds). Parsing checks the
 * bundle's signature, that the bundle is the invite's relay, and that the group id really is
 * derived from (key, relay); pinning the bundle is the caller's step (it needs the profile).
 */
export interface GroupInvite {
  readonly groupId: string;
  readonly name: string;
  readonly key: Uint8Array;
  readonly relay: OnionName;
  readonly owner: OnionName;
  readonly members: readonly OnionName[] | null;
  readonly timestamp: number;
  /** The relay bucket the group's messages start at, if known. */
  readonly since?: number;
}

export interface ParsedGroupInvite {
  readonly invite: GroupInvite;
  /** The exported bundle string as carried (to pin, and to pass on in later invites). */
  readonly bundleText: string;
  readonly bundle: SignedKeyBundle;
}

const onion = z.string().max(64).refine(isOnionName, 'onion name');
const InviteSchema = z.strictObject({
  Version: z.literal(GROUP_INVITE_VERSION),
  GroupID: z.string().refine(isGroupId, 'group id'),
  GroupName: z.string().max(MAX_GROUP_NAME_LENGTH),
  SharedKey: z.string().length(44),
  ServerHost: onion,
  Timestamp: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  Owner: onion,
  Members: z.array(onion).max(MAX_GROUP_MEMBERS).nullable(),
  Since: z.number().int().min(0).max(MAX_BUCKET_INDEX).optional(),
});

const fail = (reason: string, cause?: unknown) => new InviteInvalidError(`group invite: ${reason}`, { cause });

export function encodeGroupInvite(invite: GroupInvite, bundleText: string): string {
  const json = JSON.stringify({
    Version: GROUP_INVITE_VERSION,
    GroupID: invite.groupId,
    GroupName: invite.name,
    SharedKey: toBase64(invite.key),
    ServerHost: invite.relay,
    Timestamp: invite.timestamp,
    Owner: invite.owner,
    Members: invite.members,
    ...(invite.since === undefined ? {} : { Since: invite.since }),
  });
  const text = TOFU_BUNDLE_PREFIX + bundleText + INVITE_SEPARATOR + GROUP_INVITE_PREFIX + toBase64(new TextEncoder().encode(json));
  if (text.length > MAX_INVITE_LENGTH) throw fail('invite too long (too many members?)');
  return text;
}

export function parseGroupInvite(text: string): ParsedGroupInvite {
  if (typeof text !== 'string' || text.length > MAX_INVITE_LENGTH) throw fail('too long');
  if (!text.startsWith(TOFU_BUNDLE_PREFIX)) throw fail(`does not start with ${TOFU_BUNDLE_PREFIX}`);
  const parts = text.slice(TOFU_BUNDLE_PREFIX.length).split(INVITE_SEPARATOR);
  if (parts.length !== 2) throw fail('needs exactly one separator');
  const [bundleText, invitePart] = parts as [string, string];
  if (!invitePart.startsWith(GROUP_INVITE_PREFIX)) throw fail(`invite part does not start with ${GROUP_INVITE_PREFIX}`);
  let json: string;
  try {
    json = new TextDecoder('utf-8', { fatal: true }).decode(fromBase64(invitePart.slice(GROUP_INVITE_PREFIX.length)));
  } catch (cause) {
    throw fail('invite part is not base64 UTF-8', cause);
  }
  const raw = parseJSONText(json, InviteSchema, fail, { maxLength: MAX_INVITE_LENGTH });
  let key: Uint8Array;
  try {
    key = fromBase64(raw.SharedKey);
  } catch (cause) {
    throw fail('shared key is not base64', cause);
  }
  if (key.length !== GROUP_KEY_SIZE) throw fail('shared key is not 32 bytes');
  const relay = raw.ServerHost;
  if (deriveGroupId(key, relay) !== raw.GroupID) throw fail('group id is not derived from this key and relay');
  const owner = raw.Owner;
  const members = raw.Members;
  if (members !== null && (!members.includes(owner) || new Set(members).size !== members.length))
    throw fail('member list must name the owner, each member once');
  let bundle: SignedKeyBundle;
  try {
    bundle = importKeyBundle(bundleText);
  } catch (cause) {
    if (cause instanceof RelayError) throw fail(`relay bundle refused (${cause.code})`, cause);
    throw cause;
  }
  if (bundle.boardOnion !== relay) throw fail('relay bundle is for another relay');
  return {
    invite: {
      groupId: raw.GroupID,
      name: raw.GroupName,
      key,
      relay,
      owner,
      members,
      timestamp: raw.Timestamp,
      ...(raw.Since === undefined ? {} : { since: raw.Since }),
    },
    bundleText,
    bundle,
  };
}
