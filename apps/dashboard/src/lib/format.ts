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
  'member.rename': 'changed their name',
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

const PLURALS = new Intl.PluralRules('en');

/**
 * A count with its noun in the right form: `count(1, 'comment', 'comments')` → "1 comment",
 * `count(2, …)` → "2 comments" (by the language's plural rules, so 0 takes the plural; digits grouped).
 */
export function count(n: number, one: string, other: string): string {
  return `${n.toLocaleString('en')} ${PLURALS.select(n) === 'one' ? one : other}`;
}

/** How close a text is to its length limit: the counter shows from 90 % of it on (or once over). */
export function lengthNote(length: number, max: number): { readonly show: boolean; readonly over: boolean; readonly text: string } {
  const left = max - length;
  return {
    show: length >= Math.floor(max * 0.9),
    over: left < 0,
    text:
      left < 0
        ? `${count(-left, 'character', 'characters')} over the limit of ${max.toLocaleString('en')}`
        : `${count(left, 'character', 'characters')} left of ${max.toLocaleString('en')}`,
  };
}
