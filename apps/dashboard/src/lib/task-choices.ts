import { foldText, searchWords } from './search-text.js';
import type { TaskListItem } from './types.js';

/**
 * Tasks offered at once in a task picker (a parent for a new task, a new parent for a moved
 * one). A board holds thousands of tasks: a `<select>` of every one is slow to render on each
 * change of the list and useless to scroll, so the picker offers this many and a search narrows them.
 */
export const MAX_TASK_CHOICES = 50;

export interface TaskChoices {
  /** What the picker lists: the chosen task first when it is a valid choice, then matches in the list's order. */
  readonly shown: readonly TaskListItem[];
  /** How many valid choices match the search (the chosen task counted only if it matches). */
  readonly matching: number;
}

// Folding a title costs more than comparing it; the store replaces a task's item whenever it changes, so an item's folded title never goes stale.
const folded = new WeakMap<TaskListItem, string>();
function foldedTitle(task: TaskListItem): string {
  let f = folded.get(task);
  if (f === undefined) {
    f = foldText(task.title ?? '');
    folded.set(task, f);
  }
  return f;
}

/** A word this long may be the start of a task id; a shorter one would match ids by chance (one in 16 for a single letter). */
export const MIN_ID_PREFIX = 8;

/** Every word is in the title, or starts the task's id (an id copied from an address finds its task). */
function matches(task: TaskListItem, words: readonly string[]): boolean {
  if (words.length === 0) return true;
  const title = foldedTitle(task);
  return words.every((w) => title.includes(w) || (w.length >= MIN_ID_PREFIX && task.id.startsWith(w)));
}

/**
 * What a task picker shows for `query`: up to `limit` of `choices` whose titles hold every word
 * of it, in the list's order, and the chosen task (if it is one of the choices) first whatever
 * the search, so the `<select>` can always show what is chosen.
 */
export function taskChoices(choices: readonly TaskListItem[], query: string, chosen: string, limit = MAX_TASK_CHOICES): TaskChoices {
  const words = searchWords(query);
  const picked = chosen === '' ? undefined : choices.find((t) => t.id === chosen);
  const shown: TaskListItem[] = picked ? [picked] : [];
  let matching = 0;
  for (const task of choices) {
    if (!matches(task, words)) continue;
    matching++;
    if (task !== picked && shown.length - (picked ? 1 : 0) < limit) shown.push(task);
  }
  return { shown, matching };
}
