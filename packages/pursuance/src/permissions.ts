import type { EventKind } from './bodies.js';
import type { TaskAction } from './rules/schema.js';

/**
 * The capability (CASL action on a subject, see rules/compile.ts) an author must hold for each
 * event kind. The fold checks it on every replica and the author checks it before signing;
 * both read it here, so they cannot drift apart. Typed over every EventKind: a new kind does
 * not compile until someone decides what it needs.
 *
 * `null`: no rules capability decides, the fold checks who may itself (see the comments).
 */
export type Permission =
  | { readonly subject: 'Task'; readonly action: TaskAction }
  | { readonly subject: 'Role'; readonly action: 'assign' | 'remove' }
  | { readonly subject: 'Keys'; readonly action: 'rotate' }
  | { readonly subject: 'Member'; readonly action: 'invite' | 'expel' }
  | { readonly subject: 'Rules'; readonly action: 'change' }
  | { readonly subject: 'Relay'; readonly action: 'move' };

export const PERMISSION_OF = {
  // Nobody: a pursuance has exactly one genesis.
  genesis: null,
  'member.add': { subject: 'Member', action: 'invite' },
  'member.remove': { subject: 'Member', action: 'expel' },
  // Any member, for themselves (except the last founder).
  'member.leave': null,
  // Any member, and only for themselves: the body names no member (fold/membership.ts).
  'member.rename': null,
  'role.assign': { subject: 'Role', action: 'assign' },
  'role.remove': { subject: 'Role', action: 'remove' },
  'rules.change': { subject: 'Rules', action: 'change' },
  'keys.rotate': { subject: 'Keys', action: 'rotate' },
  // Holders of the role, or whoever may rotate its keys (fold/keys.ts validateShares).
  'keys.share': null,
  'relay.move': { subject: 'Relay', action: 'move' },
  // Listing or dropping a mirror relay also changes where the pursuance lives: the same capability.
  'relay.add': { subject: 'Relay', action: 'move' },
  'relay.drop': { subject: 'Relay', action: 'move' },
  // Founders nominate and endorse; only the nominee claims (fold/governance.ts).
  'founder.nominate': null,
  'founder.endorse': null,
  'founder.claim': null,
  'task.create': { subject: 'Task', action: 'create' },
  'task.edit': { subject: 'Task', action: 'edit' },
  'task.assign': { subject: 'Task', action: 'assign' },
  'task.status': { subject: 'Task', action: 'transition' },
  'task.close': { subject: 'Task', action: 'close' },
  // Reopening undoes a close: the same capability.
  'task.reopen': { subject: 'Task', action: 'close' },
  'task.comment': { subject: 'Task', action: 'comment' },
  // Moving a task under another parent edits its structure.
  'task.move': { subject: 'Task', action: 'edit' },
  // Writing to an audience without reading it (fold/submissions.ts).
  'submission.create': { subject: 'Task', action: 'submit' },
  // A public profile is a standing invitation to strangers (fold/profiles.ts).
  'profile.publish': { subject: 'Member', action: 'invite' },
  // A link decides what another pursuance's roles may do here: like a rule, it takes the right
  // to change the rules to open or close (fold/links.ts).
  'link.open': { subject: 'Rules', action: 'change' },
  'link.close': { subject: 'Rules', action: 'change' },
  // Any member carries a linked pursuance's announcement in: its anchor's signature is what counts.
  'link.keys': null,
  // Holders of the sending role, over a link that names it (fold/links.ts).
  'link.send': null,
  // Any member carries a task a linked pursuance sent: its credential is what counts.
  'link.task': null,
  // Any member may vouch for a snapshot: the rules say how many must (snapshot/attest.ts).
  'snapshot.attest': null,
} as const satisfies { readonly [K in EventKind]: Permission | null };
