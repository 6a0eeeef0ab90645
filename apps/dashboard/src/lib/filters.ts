import { foldText, searchWords } from './search-text.js';
import type { TaskListItem } from './types.js';

/** Local filters and search over the tasks this member can read (nothing leaves the browser). */
export interface TaskFilters {
  label: string;
  /** '' any, 'me', 'unassigned', 'member:<onion>', 'role:<id>' */
  assignee: string;
  /** '' any, 'overdue', 'week' (due within 7 days), 'none' (no due date), 'has' */
  due: string;
  /** '' any, or a role id in the task's audience */
  audience: string;
  search: string;
  showClosed: boolean;
}

export function emptyFilters(): TaskFilters {
  return { label: '', assignee: '', due: '', audience: '', search: '', showClosed: true };
}

const DAY = 86_400_000;

// Folding a task's text costs more than searching it, and the search runs on every keystroke
// over the whole board; the store replaces a task's item whenever it changes, so this never goes stale.
const searched = new WeakMap<TaskListItem, string>();
/** The text the board's search looks in (title, body, labels, comments), folded as the search's words are. */
function searchedText(task: TaskListItem): string {
  let text = searched.get(task);
  if (text === undefined) {
    text = foldText(`${task.title ?? ''}\n${task.body ?? ''}\n${task.labels.join(' ')}\n${task.comments.map((c) => c.body).join('\n')}`);
    searched.set(task, text);
  }
  return text;
}

export function isAssignedTo(task: TaskListItem, me: string, myRoles: readonly string[]): boolean {
  const a = task.assignees;
  if (!a) return false;
  return a.members.includes(me) || a.roles.some((r) => myRoles.includes(r));
}

/** `words`: `f.search`'s words (searchWords), worked out once for a whole list, never per task. */
export function matchesFilters(
  task: TaskListItem,
  f: TaskFilters,
  ctx: { me: string; myRoles: readonly string[]; now: number },
  words: readonly string[],
): boolean {
  if (!task.readable) return false;
  if (!f.showClosed && task.closed) return false;
  if (f.label && !task.labels.includes(f.label)) return false;
  if (f.audience && !task.audience.includes(f.audience)) return false;
  if (f.assignee) {
    const a = task.assignees ?? { members: [], roles: [] };
    if (f.assignee === 'me' && !isAssignedTo(task, ctx.me, ctx.myRoles)) return false;
    if (f.assignee === 'unassigned' && (a.members.length > 0 || a.roles.length > 0)) return false;
    if (f.assignee.startsWith('member:') && !a.members.includes(f.assignee.slice(7))) return false;
    if (f.assignee.startsWith('role:') && !a.roles.includes(f.assignee.slice(5))) return false;
  }
  if (f.due) {
    if (f.due === 'none' && task.due !== null) return false;
    if (f.due === 'has' && task.due === null) return false;
    if (f.due === 'overdue' && (task.due === null || task.due >= ctx.now || task.closed)) return false;
    if (f.due === 'week' && (task.due === null || task.due < ctx.now || task.due > ctx.now + 7 * DAY)) return false;
  }
  if (words.length > 0) {
    const hay = searchedText(task);
    if (!words.every((w) => hay.includes(w))) return false;
  }
  return true;
}

export function filterTasks(tasks: readonly TaskListItem[], f: TaskFilters, ctx: { me: string; myRoles: readonly string[]; now: number }): TaskListItem[] {
  const words = searchWords(f.search);
  return tasks.filter((t) => matchesFilters(t, f, ctx, words));
}

export function allLabels(tasks: readonly TaskListItem[]): string[] {
  const set = new Set<string>();
  for (const t of tasks) for (const l of t.labels) set.add(l);
  return [...set].sort();
}

/** Group tasks by workflow status, in workflow order (unknown statuses are dropped). */
export function groupByStatus(tasks: readonly TaskListItem[], states: readonly string[]): Map<string, TaskListItem[]> {
  const out = new Map<string, TaskListItem[]>(states.map((s) => [s, []]));
  for (const t of tasks) if (t.status !== null) out.get(t.status)?.push(t);
  return out;
}

export interface TreeNode {
  readonly task: TaskListItem;
  readonly children: TreeNode[];
}

/**
 * The task tree among readable tasks. A task whose parent this member cannot read is shown at
 * the top level, so nothing readable is hidden.
 */
export function buildTree(tasks: readonly TaskListItem[]): TreeNode[] {
  const byId = new Map(tasks.filter((t) => t.readable).map((t) => [t.id, { task: t, children: [] as TreeNode[] }]));
  const roots: TreeNode[] = [];
  for (const node of byId.values()) {
    const parent = node.task.parent ? byId.get(node.task.parent) : undefined;
    (parent ? parent.children : roots).push(node);
  }
  return roots;
}

/** Ids of a task and everything below it (a task cannot move under these). */
export function subtreeIds(tasks: readonly TaskListItem[], id: string): Set<string> {
  const children = new Map<string, string[]>();
  for (const t of tasks) if (t.parent) children.set(t.parent, [...(children.get(t.parent) ?? []), t.id]);
  const out = new Set<string>();
  const stack = [id];
  while (stack.length) {
    const x = stack.pop()!;
    if (out.has(x)) continue;
    out.add(x);
    stack.push(...(children.get(x) ?? []));
  }
  return out;
}
