import type { AssigneeChange, HistoryChange } from './types.js';

/** Small display helpers. */
export function shortOnion(onion: string): string {
  return onion.length > 16 ? `${onion.slice(0, 8)}…${onion.slice(-4)}` : onion;
}

export function shortId(id: string): string {
  return id.slice(0, 10);
}

/** A moment as people read it: in `locale` (the dashboard's chosen language) or else the browser's. */
export function formatTime(ms: number | null | undefined, locale?: string): string {
  if (ms === null || ms === undefined) return '—';
  return new Date(ms).toLocaleString(locale, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

export function formatDate(ms: number | null | undefined, locale?: string): string {
  if (ms === null || ms === undefined) return '—';
  return new Date(ms).toLocaleDateString(locale, { year: 'numeric', month: 'short', day: 'numeric' });
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

/** What `countIn` needs of vue-i18n: `useI18n()` in a component, `app.i18n.global` elsewhere. */
export interface PluralWords {
  t(key: string, named: Record<string, unknown>, plural: number): string;
  readonly locale: { readonly value: string };
}

/**
 * `count` in the chosen language: a catalog entry in two branches, `'{n} comment | {n} comments'`
 * (English and Spanish both take the plural for 0, as `count` does), with `{n}` digit-grouped
 * for the language. `named` fills the entry's other placeholders.
 */
export function countIn(words: PluralWords, key: string, n: number, named: Record<string, unknown> = {}): string {
  return words.t(key, { ...named, n: n.toLocaleString(words.locale.value) }, n);
}

/**
 * How close a text is to its length limit: the counter shows from 90 % of it on (or once over).
 * In English unless `words` are given (then `common.length.over` / `common.length.left`).
 */
export function lengthNote(length: number, max: number, words?: PluralWords): { readonly show: boolean; readonly over: boolean; readonly text: string } {
  const left = max - length;
  const text = words
    ? countIn(words, left < 0 ? 'common.length.over' : 'common.length.left', Math.abs(left), { max: max.toLocaleString(words.locale.value) })
    : left < 0
      ? `${count(-left, 'character', 'characters')} over the limit of ${max.toLocaleString('en')}`
      : `${count(left, 'character', 'characters')} left of ${max.toLocaleString('en')}`;
  return { show: length >= Math.floor(max * 0.9), over: left < 0, text };
}

/** How the history names things: status titles, people, roles, tasks and dates as the view shows them. */
export interface HistoryWords {
  status(id: string): string;
  person(onion: string): string;
  role(id: string): string;
  /** A task's title, or how to speak of it when it cannot be read. */
  task(id: string): string;
  date(ms: number): string;
}

/** A list in words: "a", "a and b", "a, b and c". */
function listed(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)!}`;
}

function assignees(side: AssigneeChange, w: HistoryWords): string {
  return listed([...side.members.map((m) => w.person(m)), ...side.roles.map((r) => `role ${w.role(r)}`)]);
}

const quoted = (s: string) => `“${s}”`;

function editWords(c: HistoryChange, w: HistoryWords): string[] {
  const parts: string[] = [];
  if (c.title)
    parts.push(c.title.from === undefined ? `set the title to ${quoted(c.title.to)}` : `renamed it from ${quoted(c.title.from)} to ${quoted(c.title.to)}`);
  if (c.body) {
    const { fromLength, toLength } = c.body;
    if (toLength === 0) parts.push('removed the description');
    else if (!fromLength) parts.push(`wrote a description (${count(toLength, 'character', 'characters')})`);
    else parts.push(`changed the description (${fromLength.toLocaleString('en')} → ${count(toLength, 'character', 'characters')})`);
  }
  if (c.labels?.added.length) parts.push(`added the ${c.labels.added.length === 1 ? 'label' : 'labels'} ${listed(c.labels.added)}`);
  if (c.labels?.removed.length) parts.push(`removed the ${c.labels.removed.length === 1 ? 'label' : 'labels'} ${listed(c.labels.removed)}`);
  if (c.due) {
    const { from, to } = c.due;
    if (to === null) parts.push(from ? `removed the due date (was ${w.date(from)})` : 'removed the due date');
    else parts.push(from ? `moved the due date from ${w.date(from)} to ${w.date(to)}` : `set the due date to ${w.date(to)}`);
  }
  return parts;
}

function where(parent: string | null, w: HistoryWords): string {
  return parent === null ? 'the top level' : `under ${quoted(w.task(parent))}`;
}

/**
 * One task history entry in words, old → new where the node could read the change: "moved it
 * from Open to In progress", "renamed it from “A” to “B”", "assigned mo; unassigned role
 * Organizer". Without a change (a sealed event, a comment, the creation) it says only what kind
 * of change it was.
 */
export function describeHistory(entry: { readonly kind: string; readonly change?: HistoryChange }, w: HistoryWords): string {
  const c = entry.change;
  if (!c) return describeKind(entry.kind);
  const parts: string[] = [];
  const note = c.note ? ` — ${quoted(c.note)}` : '';
  switch (entry.kind) {
    case 'task.status':
      if (c.status)
        parts.push(
          c.status.from === undefined ? `moved it to ${w.status(c.status.to)}` : `moved it from ${w.status(c.status.from)} to ${w.status(c.status.to)}`,
        );
      break;
    case 'task.close':
      parts.push(`closed it${c.status ? ` as ${w.status(c.status.to)}` : ''}${note}`);
      break;
    case 'task.reopen':
      parts.push(`reopened it${c.status ? ` in ${w.status(c.status.to)}` : ''}${note}`);
      break;
    case 'task.edit':
      parts.push(...editWords(c, w));
      break;
    case 'task.assign':
      if (c.assigned) parts.push(`assigned ${assignees(c.assigned, w)}`);
      if (c.unassigned) parts.push(`unassigned ${assignees(c.unassigned, w)}`);
      break;
    case 'task.move':
      if (c.parent)
        parts.push(
          c.parent.from === c.parent.to ? `moved it within ${where(c.parent.to, w)}` : `moved it from ${where(c.parent.from, w)} to ${where(c.parent.to, w)}`,
        );
      break;
  }
  if (c.refused) parts.push(`${parts.length ? 'partly refused' : `${describeKind(entry.kind)}: refused`} by the workflow (${c.refused})`);
  return parts.length ? parts.join('; ') : `${describeKind(entry.kind)} (nothing changed)`;
}
