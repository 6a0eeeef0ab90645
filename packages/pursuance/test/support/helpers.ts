import { readFileSync } from 'node:fs';
import { type Identity } from '@pursuance/crypto';
import { PursuanceAuthor, PursuanceLog, RulesSchema, type EventId, type Rules } from '../../src/index.js';

export function template(name: string): Rules {
  const json = JSON.parse(readFileSync(new URL(`../../../../rules/templates/${name}.json`, import.meta.url), 'utf8')) as Record<string, unknown>;
  delete json.$schema;
  return RulesSchema.parse(json);
}

/** A deterministic clock so tests never depend on wall time. */
export function clock(start = 1_800_000_000_000, step = 1000): () => number {
  let t = start;
  return () => (t += step);
}

/** Bring `to` up to date with every event `from` has (as sync would). */
export function syncInto(to: PursuanceAuthor, from: PursuanceLog): void {
  to.log.addAll([...from.events()].map((e) => e.bytes));
  to.refreshKeys();
}

/** A member's author object over their own copy of the log, built from the founder's genesis. */
export function joinAs(identity: Identity, from: PursuanceLog, now: () => number): PursuanceAuthor {
  const log = new PursuanceLog(from.genesis.bytes);
  log.addAll([...from.events()].map((e) => e.bytes));
  return new PursuanceAuthor(identity, log, undefined, now);
}

/** Every event in the causal past of `id` that the log holds (its parents, theirs, …), not `id` itself. */
export function ancestorsOf(log: PursuanceLog, id: EventId): Set<EventId> {
  const seen = new Set<EventId>();
  const stack = [...log.event(id)!.parentIds];
  while (stack.length) {
    const p = stack.pop()!;
    if (seen.has(p)) continue;
    seen.add(p);
    const e = log.event(p);
    if (e) stack.push(...e.parentIds);
  }
  return seen;
}
