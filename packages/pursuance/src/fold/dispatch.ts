import type { EventKind } from '../bodies.js';
import type { SignedEvent } from '../envelope.js';
import { RejectionCode } from '../errors.js';
import { reject, type FoldContext, type Handler, type Outcome } from './context.js';
import { claim, endorse, nominate, relayAdd, relayDrop, relayMove, rulesChange } from './governance.js';
import { keysRotate, keysShare } from './keys.js';
import { memberAdd, memberLeave, memberRemove, memberRename, roleAssign, roleRemove } from './membership.js';
import { taskContent, taskCreate, taskMove } from './tasks.js';
import { attestSnapshot } from './snapshots.js';
import { submissionCreate } from './submissions.js';
import { profilePublish } from './profiles.js';
import { linkClose, linkKeys, linkOpen, linkSend, linkTask } from './links.js';

/**
 * Which handler judges each kind. Typed as a mapped type over EventKind: a kind added to
 * BODY_SCHEMAS (bodies.ts) without an entry here fails to compile, so no new kind can fall
 * through to another kind's rules; and each handler receives its own kind's body type.
 */
const HANDLERS: { readonly [K in EventKind]: Handler<K> } = {
  // A genesis is the log's first event (log.ts builds the initial state from it); any other is refused.
  genesis: () => reject(RejectionCode.INVALID_GENESIS, 'a pursuance has exactly one genesis'),
  'member.add': memberAdd,
  'member.remove': memberRemove,
  'member.leave': memberLeave,
  'member.rename': memberRename,
  'role.assign': roleAssign,
  'role.remove': roleRemove,
  'rules.change': rulesChange,
  'keys.rotate': keysRotate,
  'keys.share': keysShare,
  'relay.move': relayMove,
  'relay.add': relayAdd,
  'relay.drop': relayDrop,
  'founder.nominate': nominate,
  'founder.endorse': endorse,
  'founder.claim': claim,
  'task.create': taskCreate,
  'task.edit': taskContent,
  'task.assign': taskContent,
  'task.status': taskContent,
  'task.close': taskContent,
  'task.reopen': taskContent,
  'task.comment': taskContent,
  'task.move': taskMove,
  'profile.publish': profilePublish,
  'link.open': linkOpen,
  'link.keys': linkKeys,
  'link.close': linkClose,
  'link.send': linkSend,
  'link.task': linkTask,
  'submission.create': submissionCreate,
  'snapshot.attest': attestSnapshot,
};

/** Judge one event from a member with its kind's handler. */
export function dispatch<K extends EventKind>(ctx: FoldContext, e: SignedEvent<K>): Outcome {
  const kind = e.header.kind;
  // Decoded events only carry listed kinds (the header schema's enum), but a SignedEvent can be
  // handed to the log as an object: an unlisted kind is refused as decoding would refuse it, and
  // an own-property check keeps names such as `constructor` from finding Object.prototype.
  if (!Object.hasOwn(HANDLERS, kind)) return reject(RejectionCode.INVALID_SCHEMA, `${kind} is not an event kind`);
  const handler: Handler<K> = HANDLERS[kind];
  return handler(ctx, e);
}
