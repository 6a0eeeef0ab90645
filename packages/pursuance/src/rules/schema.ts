import { z } from 'zod';

/**
 * Rules are data: a JSON document that declares a pursuance's roles, what each may do, its
 * task workflow and its founder-succession policy. The JSON Schema in rules/ is generated
 * from this zod schema (`npm run rules:schema`), so the two cannot drift.
 */
export const RULES_FORMAT = 'pursuance-rules/1';

export const RoleIdSchema = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'role ids are lowercase letters, digits and dashes, starting with a letter');
export type RoleId = z.infer<typeof RoleIdSchema>;

const roleList = z.union([z.literal('*'), z.array(RoleIdSchema).min(1).max(64)]);
const reason = z.string().min(1).max(500).optional();

/**
 * Task actions take an `audience`: the roles whose tasks the capability covers ('*' = any).
 * `submit` is write-only: sending a submission (a tip) to the audience without holding its key.
 */
export const TASK_ACTIONS = ['create', 'edit', 'assign', 'comment', 'transition', 'close', 'submit'] as const;
export type TaskAction = (typeof TASK_ACTIONS)[number];

export const CapabilitySchema = z.discriminatedUnion('subject', [
  z.strictObject({ subject: z.literal('task'), action: z.enum(TASK_ACTIONS), audience: roleList, reason }),
  z.strictObject({ subject: z.literal('role'), action: z.enum(['assign', 'remove']), roles: roleList, reason }),
  z.strictObject({ subject: z.literal('keys'), action: z.enum(['rotate']), roles: roleList, reason }),
  z.strictObject({ subject: z.literal('member'), action: z.enum(['invite', 'expel']), reason }),
  z.strictObject({ subject: z.literal('rules'), action: z.enum(['change']), reason }),
  z.strictObject({ subject: z.literal('relay'), action: z.enum(['move']), reason }),
]);
export type Capability = z.infer<typeof CapabilitySchema>;

export const RoleSchema = z.strictObject({
  title: z.string().min(1).max(80),
  description: z.string().max(1000).default(''),
  /** Authority rank 0–999: orders concurrent conflicting actions (higher first). Founders rank above all roles. */
  rank: z.number().int().min(0).max(999),
  /** Whether a new holder receives the keys of epochs before they joined. */
  history: z.enum(['all', 'since-join']),
  can: z.array(CapabilitySchema).max(64).default([]),
  /** Explicit denials; they win over any grant from any role the member holds. */
  cannot: z.array(CapabilitySchema).max(64).default([]),
});
export type Role = z.infer<typeof RoleSchema>;

const StateIdSchema = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/);

export const WorkflowSchema = z
  .strictObject({
    states: z.array(StateIdSchema).min(2).max(32),
    initial: StateIdSchema,
    /** States that count as closed; entering or leaving one needs the `close` capability. */
    closed: z.array(StateIdSchema).min(1),
    transitions: z
      .array(z.strictObject({ from: StateIdSchema, to: StateIdSchema }))
      .min(1)
      .max(256),
  })
  .superRefine((w, ctx) => {
    const states = new Set(w.states);
    if (states.size !== w.states.length) ctx.addIssue({ code: 'custom', message: 'workflow states must be unique' });
    for (const s of [w.initial, ...w.closed, ...w.transitions.flatMap((t) => [t.from, t.to])]) {
      if (!states.has(s)) ctx.addIssue({ code: 'custom', message: `workflow names an undeclared state "${s}"` });
    }
    if (w.closed.includes(w.initial)) ctx.addIssue({ code: 'custom', message: 'the initial state cannot be a closed state' });
  });
export type Workflow = z.infer<typeof WorkflowSchema>;

export const SuccessionSchema = z.strictObject({
  /** Founders (the nominator included) who must sign before a nominee becomes a founder. */
  quorum: z.number().int().min(1).max(64),
  /** Or: a nominee may claim after this many days with no event from any founder (null = never). */
  inactivityDays: z.number().int().min(1).max(3650).nullable(),
});

/**
 * A record keyed by member-chosen ids. zod builds the parsed record by assignment, where an own
 * "__proto__" key (CBOR maps may carry one) sets the prototype instead and silently vanishes, so
 * signed rules would hold a role no replica sees: refuse it before parsing, like any invalid id.
 * The cast keeps the record's own input and output types; the pre-check returns its input as is.
 */
function idRecord<K extends z.ZodString, V extends z.ZodType>(key: K, value: V) {
  const record = z.record(key, value);
  const guarded = z.preprocess((raw, ctx) => {
    if (typeof raw === 'object' && raw !== null && Object.hasOwn(raw, '__proto__')) {
      ctx.addIssue({ code: 'custom', message: '"__proto__" is not a valid id' });
    }
    return raw;
  }, record);
  return guarded as unknown as typeof record;
}

/**
 * Who must vouch for a snapshot before a joiner starts from it (snapshot/attest.ts): `attesters`
 * distinct members, drawn from the founders or from any member. Optional, so rules written
 * before snapshots existed keep their exact form (and hash); absent means DEFAULT_SNAPSHOTS.
 */
export const SnapshotsSchema = z.strictObject({
  attesters: z.number().int().min(1).max(64),
  from: z.enum(['founders', 'members']),
});
export type SnapshotsRule = z.infer<typeof SnapshotsSchema>;
/** Two founders (or every founder, where there are fewer). */
export const DEFAULT_SNAPSHOTS: SnapshotsRule = { attesters: 2, from: 'founders' };

export const RulesSchema = z
  .strictObject({
    format: z.literal(RULES_FORMAT),
    title: z.string().min(1).max(120),
    description: z.string().max(4000).default(''),
    roles: idRecord(RoleIdSchema, RoleSchema).refine((r) => Object.keys(r).length >= 1 && Object.keys(r).length <= 64, {
      message: 'declare between 1 and 64 roles',
    }),
    workflow: WorkflowSchema,
    succession: SuccessionSchema,
    snapshots: SnapshotsSchema.optional(),
  })
  .superRefine((rules, ctx) => {
    const ids = new Set(Object.keys(rules.roles));
    for (const [roleId, role] of Object.entries(rules.roles)) {
      for (const cap of [...role.can, ...role.cannot]) {
        const named = cap.subject === 'task' ? cap.audience : 'roles' in cap ? cap.roles : '*';
        if (named === '*') continue;
        for (const r of named) {
          if (!ids.has(r)) ctx.addIssue({ code: 'custom', message: `role "${roleId}" names an undeclared role "${r}"` });
        }
      }
    }
  });
export type Rules = z.infer<typeof RulesSchema>;

/**
 * A role the rules declare, looked up as an OWN property: role ids are chosen by members, and a
 * plain `rules.roles[id]` would find Object.prototype's `constructor` for a role nobody declared.
 */
export function declaredRole(rules: Rules, id: string): Role | undefined {
  return Object.hasOwn(rules.roles, id) ? rules.roles[id] : undefined;
}
/** The rules as written in JSON (defaults not yet applied). */
export type RulesInput = z.input<typeof RulesSchema>;
