/** Small display helpers. */
export function shortOnion(onion: string): string {
  return onion.length > 16 ? `${onion.slice(0, 8)}…${onion.slice(-4)}` : onion;
}

export function shortId(id: string): string {
  return id.slice(0, 10);
}

export function formatTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  return new Date(ms).toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

export function formatDate(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  return new Date(ms).toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
}

/** `<input type="date">` value ↔ epoch ms (UTC midnight, so a date means the same day everywhere). */
export function dateInputToMs(value: string): number | null {
  if (!value) return null;
  const ms = Date.parse(`${value}T00:00:00Z`);
  return Number.isNaN(ms) ? null : ms;
}

export function msToDateInput(ms: number | null): string {
  if (ms === null) return '';
  return new Date(ms).toISOString().slice(0, 10);
}

const KIND_WORDS: Record<string, string> = {
  genesis: 'created the pursuance',
  'member.add': 'added a member',
  'member.remove': 'removed a member',
  'member.leave': 'left',
  'role.assign': 'assigned a role',
  'role.remove': 'removed a role',
  'rules.change': 'changed the rules',
  'keys.rotate': 'rotated keys',
  'keys.share': 'shared keys',
  'relay.move': 'moved the relay',
  'founder.nominate': 'nominated a founder',
  'founder.endorse': 'endorsed a nomination',
  'founder.claim': 'claimed founder status',
  'task.create': 'created the task',
  'task.edit': 'edited',
  'task.assign': 'changed assignees',
  'task.status': 'changed the status',
  'task.close': 'closed',
  'task.reopen': 'reopened',
  'task.comment': 'commented',
  'task.move': 'moved it in the tree',
};

export function describeKind(kind: string): string {
  return KIND_WORDS[kind] ?? kind;
}

export function parseLabels(text: string): string[] {
  return [
    ...new Set(
      text
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    ),
  ];
}
