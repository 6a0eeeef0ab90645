import type { AssigneeChange, HistoryChange } from './types.js';
import { englishWords, type Translate } from './words.js';

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

/**
 * The event kinds the node signs, each with its words in the history area of the catalogs
 * (`history.kind.member.add` for 'member.add'). Listed, rather than looked up, so a kind the
 * dashboard does not know yet (or one that names a catalog branch) shows as itself.
 */
export const KNOWN_KINDS: ReadonlySet<string> = new Set([
  'genesis',
  'member.add',
  'member.remove',
  'member.rename',
  'member.leave',
  'role.assign',
  'role.remove',
  'rules.change',
  'keys.rotate',
  'keys.share',
  'relay.move',
  'relay.add',
  'relay.drop',
  'founder.nominate',
  'founder.endorse',
  'founder.claim',
  'task.create',
  'task.edit',
  'task.assign',
  'task.status',
  'task.close',
  'task.reopen',
  'task.comment',
  'task.move',
  'submission.create',
  'snapshot.attest',
]);

/**
 * A history sentence's key: said of someone else ("ada creó"), or, with `you`, of the reader, who
 * the page names "you" ("tú creaste"): the languages that conjugate need both.
 */
const said = (key: string, you: boolean) => (you ? `history.you.${key}` : `history.${key}`);

/**
 * What an event of `kind` did, said of its author ("changed the status"), `you` when that is the
 * reader; in English without `t`.
 */
export function describeKind(kind: string, t: Translate = englishWords().t, you = false): string {
  return KNOWN_KINDS.has(kind) ? t(said(`kind.${kind}`, you)) : kind;
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

/**
 * How the history names things: status titles, people, roles, tasks and dates as the view shows
 * them, and the catalogs' `t` and `locale` for its own words and numbers.
 */
export interface HistoryWords extends PluralWords {
  readonly t: Translate;
  status(id: string): string;
  person(onion: string): string;
  role(id: string): string;
  /** A task's title, or how to speak of it when it cannot be read. */
  task(id: string): string;
  date(ms: number): string;
  /** The reader's node address: the history says "you" of them, as the author and as an assignee. */
  readonly me?: string | null;
}

/** A list in words: "a", "a and b", "a, b and c" (the last joiner is the language's). */
function listed(items: readonly string[], t: Translate): string {
  return items.length <= 1 ? (items[0] ?? '') : t('history.list', { rest: items.slice(0, -1).join(', '), last: items.at(-1)! });
}

function assignees(side: AssigneeChange, w: HistoryWords): string {
  return listed(
    [
      ...side.members.map((m) => w.t('history.assign.person', { name: m === w.me ? w.t('history.assign.you') : w.person(m) })),
      ...side.roles.map((r) => w.t('history.assign.role', { role: w.role(r) })),
    ],
    w.t,
  );
}

const quoted = (s: string, t: Translate) => t('history.quoted', { text: s });

function editWords(c: HistoryChange, w: HistoryWords, you: boolean): string[] {
  const { t } = w;
  const k = (key: string) => said(`edit.${key}`, you);
  const parts: string[] = [];
  if (c.title)
    parts.push(
      c.title.from === undefined
        ? t(k('titleSet'), { title: quoted(c.title.to, t) })
        : t(k('titleChanged'), { from: quoted(c.title.from, t), to: quoted(c.title.to, t) }),
    );
  if (c.body) {
    const { fromLength, toLength } = c.body;
    const length = () => countIn(w, 'history.edit.characters', toLength);
    if (toLength === 0) parts.push(t(k('bodyRemoved')));
    else if (!fromLength) parts.push(t(k('bodyWritten'), { length: length() }));
    else parts.push(t(k('bodyChanged'), { from: fromLength.toLocaleString(w.locale.value), length: length() }));
  }
  if (c.labels?.added.length) parts.push(t(k('labelsAdded'), { labels: listed(c.labels.added, t) }, c.labels.added.length));
  if (c.labels?.removed.length) parts.push(t(k('labelsRemoved'), { labels: listed(c.labels.removed, t) }, c.labels.removed.length));
  if (c.due) {
    const { from, to } = c.due;
    if (to === null) parts.push(from ? t(k('dueRemovedWas'), { from: w.date(from) }) : t(k('dueRemoved')));
    else parts.push(from ? t(k('dueMoved'), { from: w.date(from), to: w.date(to) }) : t(k('dueSet'), { to: w.date(to) }));
  }
  return parts;
}

/** Where a task sits in the tree, as the start (`from`) or end (`to`) of a move, or the place it moved `within`. */
function where(slot: 'from' | 'to' | 'within', parent: string | null, w: HistoryWords, you: boolean): string {
  const key = (end: string) => (slot === 'within' ? said(`move.within.${end}`, you) : `history.move.${slot}.${end}`);
  return parent === null ? w.t(key('top')) : w.t(key('under'), { title: quoted(w.task(parent), w.t) });
}

/**
 * One task history entry in words, old → new where the node could read the change: "moved it
 * from Open to In progress", "renamed it from “A” to “B”", "assigned mo; unassigned role
 * Organizer". Without a change (a sealed event, a comment, the creation) it says only what kind
 * of change it was. Said to the reader ("creaste") when they are `entry.author`.
 */
export function describeHistory(entry: { readonly kind: string; readonly author?: string; readonly change?: HistoryChange }, w: HistoryWords): string {
  const { t } = w;
  const you = entry.author !== undefined && entry.author === w.me;
  const kind = () => describeKind(entry.kind, t, you);
  const c = entry.change;
  if (!c) return kind();
  const parts: string[] = [];
  const noted = (what: string) => (c.note ? t('history.withNote', { what, note: quoted(c.note, t) }) : what);
  switch (entry.kind) {
    case 'task.status':
      if (c.status)
        parts.push(
          c.status.from === undefined
            ? t(said('status.movedTo', you), { to: w.status(c.status.to) })
            : t(said('status.moved', you), { from: w.status(c.status.from), to: w.status(c.status.to) }),
        );
      break;
    case 'task.close':
      parts.push(noted(c.status ? t(said('close.as', you), { status: w.status(c.status.to) }) : t(said('close.plain', you))));
      break;
    case 'task.reopen':
      parts.push(noted(c.status ? t(said('reopen.in', you), { status: w.status(c.status.to) }) : t(said('reopen.plain', you))));
      break;
    case 'task.edit':
      parts.push(...editWords(c, w, you));
      break;
    case 'task.assign':
      if (c.assigned) parts.push(t(said('assign.assigned', you), { who: assignees(c.assigned, w) }));
      if (c.unassigned) parts.push(t(said('assign.unassigned', you), { who: assignees(c.unassigned, w) }));
      break;
    case 'task.move':
      if (c.parent)
        parts.push(
          c.parent.from === c.parent.to
            ? where('within', c.parent.to, w, you)
            : t(said('move.between', you), { from: where('from', c.parent.from, w, you), to: where('to', c.parent.to, w, you) }),
        );
      break;
  }
  if (c.refused)
    parts.push(parts.length ? t('history.refused.partly', { reason: c.refused }) : t('history.refused.whole', { kind: kind(), reason: c.refused }));
  return parts.length ? parts.join('; ') : t('history.nothingChanged', { kind: kind() });
}
