import fc from 'fast-check';
import { Identity } from '@pursuance/crypto';
import type { HttpResult } from './http.js';

/**
 * Random commands a member sends over the API, for the property tests of the read models:
 * task commands weigh most (they take the narrow path: only the tasks they touch are
 * recomputed); members, renames and rotations recompute everything. Commands the rules or the
 * state refuse (a move into its own subtree, a closed task's status) change nothing: that is fine.
 */
export function commandArbitrary(states: readonly string[], titles: fc.Arbitrary<string>) {
  return fc.oneof(
    {
      arbitrary: fc.record({
        op: fc.constant('create' as const),
        parent: fc.option(fc.nat(), { nil: null }),
        audience: fc.constantFrom('member', 'organizer'),
      }),
      weight: 5,
    },
    { arbitrary: fc.record({ op: fc.constant('status' as const), task: fc.nat(), to: fc.constantFrom(...states) }), weight: 2 },
    { arbitrary: fc.record({ op: fc.constant('comment' as const), task: fc.nat() }), weight: 2 },
    { arbitrary: fc.record({ op: fc.constant('edit' as const), task: fc.nat(), title: titles }), weight: 2 },
    { arbitrary: fc.record({ op: fc.constant('move' as const), task: fc.nat(), parent: fc.option(fc.nat(), { nil: null }) }), weight: 3 },
    { arbitrary: fc.record({ op: fc.constant('close' as const), task: fc.nat() }), weight: 1 },
    { arbitrary: fc.record({ op: fc.constant('member' as const), roles: fc.subarray(['member', 'organizer']) }), weight: 1 },
    { arbitrary: fc.record({ op: fc.constant('rename' as const), name: fc.constantFrom('Ada', 'Bea', 'Cy') }), weight: 1 },
    { arbitrary: fc.record({ op: fc.constant('rotate' as const), role: fc.constantFrom('member', 'organizer') }), weight: 1 },
  );
}

export type Command = ReturnType<typeof commandArbitrary> extends fc.Arbitrary<infer C> ? C : never;

/** Run one command against pursuance `id`; `tasks` collects the ids of tasks created so far. */
export async function runCommand(
  call: (method: string, path: string, body?: unknown) => Promise<HttpResult>,
  id: string,
  tasks: string[],
  c: Command,
): Promise<void> {
  const p = `/api/pursuances/${id}`;
  const pick = (i: number | null) => (i === null || tasks.length === 0 ? null : tasks[i % tasks.length]!);
  if (c.op === 'create') {
    const r = await call('POST', `${p}/tasks`, { audience: [c.audience], title: `T${tasks.length}`, parent: pick(c.parent) });
    if (r.status === 201) tasks.push((r.body as { id: string }).id);
  } else if (c.op === 'member') {
    await call('POST', `${p}/members`, { onion: Identity.generate().onion, roles: c.roles });
  } else if (c.op === 'rename') {
    await call('PUT', '/api/profile', { name: c.name });
  } else if (c.op === 'rotate') {
    await call('POST', `${p}/keys/rotate`, { roles: [c.role] });
  } else if (tasks.length > 0) {
    const change =
      c.op === 'status'
        ? { op: 'status', to: c.to }
        : c.op === 'comment'
          ? { op: 'comment', body: 'noted' }
          : c.op === 'edit'
            ? { op: 'edit', title: c.title }
            : c.op === 'move'
              ? { op: 'move', parent: pick(c.parent) }
              : { op: 'close' };
    await call('POST', `${p}/tasks/${pick(c.task)!}/changes`, change);
  }
}
