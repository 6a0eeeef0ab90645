import { base64Bytes, decodeJSON, encodeJSON } from '@pursuance/codec';
import { toBase64 } from '@pursuance/crypto';
import type { EncryptedGroupMessage } from '@pursuance/relay';
import { z } from 'zod';
import { PeerMessageInvalidError } from './errors.js';
import { isGroupId } from './group-id.js';
import {
  GROUP_CIPHERTEXT_SIZE,
  GROUP_SIGNATURE_SIZE,
  GROUP_SYNC_MESSAGE_SIZE,
  MAX_PEER_MESSAGE_DATA,
  MAX_REPAIR_SIGNATURES_PER_REQUEST,
} from './protocol-profile.js';

/**
 * Gap repair between members, over the p2p channel:
 *   request  (im.cwtch.group.sync.request)  Data = JSON {"GroupID": hex, "Signatures": [base64]}
 *   answers  (im.cwtch.group.sync.message)  Data = ciphertext(4096) ‖ signature(64), one per packet
 *   end      (im.cwtch.group.sync.end)      Data = empty
 * Answers carry the request's ID. The requester verifies every answer exactly as if it came
 * from the relay; a member can withhold but never forge.
 */
export interface RepairRequest {
  readonly groupId: string;
  readonly signatures: readonly Uint8Array[];
}

const RequestSchema = z.strictObject({
  GroupID: z.string().refine(isGroupId, 'group id'),
  Signatures: z.array(base64Bytes(GROUP_SIGNATURE_SIZE)).min(1).max(MAX_REPAIR_SIGNATURES_PER_REQUEST),
});
const fail = (reason: string, cause?: unknown) => new PeerMessageInvalidError(`repair request: ${reason}`, { cause });

export function encodeRepairRequest(request: RepairRequest): Uint8Array {
  return encodeJSON({ GroupID: request.groupId, Signatures: request.signatures.map(toBase64) });
}

export function parseRepairRequest(bytes: Uint8Array): RepairRequest {
  const r = decodeJSON(bytes, RequestSchema, fail, { maxBytes: MAX_PEER_MESSAGE_DATA });
  return { groupId: r.GroupID, signatures: r.Signatures };
}

export function encodeRepairAnswer(message: EncryptedGroupMessage): Uint8Array {
  const out = new Uint8Array(GROUP_SYNC_MESSAGE_SIZE);
  out.set(message.ciphertext, 0);
  out.set(message.signature, GROUP_CIPHERTEXT_SIZE);
  return out;
}

export function parseRepairAnswer(bytes: Uint8Array): EncryptedGroupMessage {
  if (bytes.length !== GROUP_SYNC_MESSAGE_SIZE) throw new PeerMessageInvalidError('repair answer has the wrong size');
  return { ciphertext: bytes.slice(0, GROUP_CIPHERTEXT_SIZE), signature: bytes.slice(GROUP_CIPHERTEXT_SIZE) };
}
