import { toHex } from '@pursuance/crypto';
import { RejectionCode } from '../errors.js';
import { accept, reject, type Handler } from './context.js';

/**
 * Any member may vouch for a snapshot; the fold records the claim and changes nothing. Whether
 * the claim is TRUE is for whoever relies on it: a joiner counts attesters (snapshot/attest.ts),
 * a member holding the history recomputes it (snapshot/verify.ts) and flags a false one. Only
 * the shape of the frontier is judged here: sorted, distinct, and none of it this event itself.
 */
export const attestSnapshot: Handler<'snapshot.attest'> = (_ctx, e) => {
  const frontier = e.header.body.frontier.map((id) => toHex(id));
  for (let i = 1; i < frontier.length; i++) {
    if (!(frontier[i - 1]! < frontier[i]!)) return reject(RejectionCode.INVALID_SCHEMA, 'a snapshot frontier is a sorted list of distinct events');
  }
  if (frontier.includes(e.id)) return reject(RejectionCode.INVALID_SCHEMA, 'an attestation cannot be on its own frontier');
  return accept(() => undefined);
};
