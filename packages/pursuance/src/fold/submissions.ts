import { ANONYMOUS_BOX_OVERHEAD, ROLE_BOX_OVERHEAD, toHex } from '@pursuance/crypto';
import { RejectionCode } from '../errors.js';
import { CONTENT_PADDING_BUCKET } from '../keys.js';
import { PERMISSION_OF } from '../permissions.js';
import { checkTask } from '../rules/compile.js';
import { accept, denied, reject, type Handler } from './context.js';
import { staleEpoch } from './tasks.js';

/**
 * Write-only submissions (tip lines): a member allowed to `submit` to an audience role seals to
 * the public key of its current epoch without holding the role. The fold sees only public facts:
 * the right to submit, the epoch (current for the author, and published with public keys) and
 * the sizes. Whether the boxes open and carry content bound to this event is for holders and the
 * submitter to judge (view.ts), as for any sealed content. An accepted submission opens a task of
 * the audience, so its holders triage, comment and close it like any other task.
 */
export const submissionCreate: Handler<'submission.create'> = (ctx, e) => {
  const { state } = ctx;
  const b = e.header.body;
  const audience = e.header.audience;
  if (audience.length !== 1) return reject(RejectionCode.INVALID_SCHEMA, 'a submission goes to exactly one audience role');
  const role = audience[0]!;
  if (!ctx.declared(role)) return reject(RejectionCode.UNKNOWN_TARGET, `role "${role}" does not exist`);
  const check = checkTask(ctx.ability(e.author), ctx.rolesOf(e.author), PERMISSION_OF['submission.create'].action, audience);
  if (!check.ok) return denied(check);
  const r = state.roles.get(role)!;
  const epoch = r.epochsById.get(toHex(b.keyId));
  if (!epoch) return reject(RejectionCode.UNKNOWN_KEY, `no rotation introduced this key for "${role}"`);
  if (!epoch.pub) return reject(RejectionCode.UNKNOWN_KEY, `this key of "${role}" has no public key: it must be rotated before anyone submits to it`);
  const stale = staleEpoch(ctx, e, r, epoch);
  if (stale) return stale;
  // Both boxes hold the same padded plaintext: equal sizes, a whole number of padding buckets.
  const padded = b.box.length - ROLE_BOX_OVERHEAD;
  if (b.self.length - ANONYMOUS_BOX_OVERHEAD !== padded || padded <= 0 || padded % CONTENT_PADDING_BUCKET !== 0) {
    return reject(RejectionCode.INVALID_SCHEMA, 'a submission is padded content sealed twice, to the audience and to its author, at equal sizes');
  }
  // Written before its author could know of a later rotation (staleEpoch let it through), to a key
  // that reached someone who no longer holds the role: they can read it, so it is marked. After a
  // routine rotation everyone who knew the old key still holds the role, and nothing is marked.
  const knownToALeaver = [...epoch.recipients].some((o) => !r.holders.has(o));
  const staleKey = epoch.epoch < r.epochs.length - 1 && knownToALeaver ? { staleKey: true as const } : {};
  return accept(() => {
    state.tasks.set(e.id, { id: e.id, audience: [role], parent: null, createdBy: e.author, closed: false, children: new Set(), ...staleKey });
  });
};
