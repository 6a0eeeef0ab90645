/**
 * Generates rules/rules.schema.json from the zod schema that every client validates rules
 * with (packages/pursuance/src/rules/schema.ts), so the JSON Schema editors use and the
 * schema the fold enforces cannot drift. `npm run rules:schema` rewrites the file;
 * packages/pursuance/test/templates.test.ts fails when the committed file is stale.
 *
 * The descriptions live here, attached through a private zod registry, so the core schema
 * stays free of editor prose. JSON Schema cannot express the cross-field checks the zod
 * schema makes (roles named by a capability must be declared, workflow states must be
 * declared and unique, the initial state is not a closed one): those are listed in the
 * top-level description, and the zod schema remains the authority.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { z } from 'zod';
import {
  CapabilitySchema,
  RULES_FORMAT,
  RoleIdSchema,
  RoleSchema,
  RulesSchema,
  SuccessionSchema,
  WorkflowSchema,
} from '../packages/pursuance/src/rules/schema.js';

export const RULES_SCHEMA_ID = 'https://pursuance.invalid/rules/rules.schema.json';
export const RULES_SCHEMA_PATH = fileURLToPath(new URL('./rules.schema.json', import.meta.url));

type Meta = { id?: string; title?: string; description?: string };

const SUBJECT_DOCS: Record<string, { title: string; description: string }> = {
  task: {
    title: 'Task capability',
    description:
      'Act on tasks whose audience is covered by `audience` ("*" = any role). An action on a task is allowed only if it is allowed for every role in the task\'s audience. `transition` moves a task between open workflow states; `close` closes and reopens it.',
  },
  role: {
    title: 'Role capability',
    description: 'Give (`assign`) or take away (`remove`) the listed roles ("*" = any role). Assigning a role while inviting a member needs `assign` too.',
  },
  keys: {
    title: 'Key capability',
    description: 'Rotate the keys of the listed roles ("*" = any role), e.g. after a holder leaves. Whoever may rotate a role may also share its keys.',
  },
  member: { title: 'Member capability', description: 'Invite new members, or expel members (founders cannot be expelled).' },
  rules: {
    title: 'Rules capability',
    description:
      'Publish new rules. Unless the author is a founder, the new rules may not give any role a permission the author lacks, nor drop a role the author may not remove.',
  },
  relay: { title: 'Relay capability', description: 'Announce a move of the pursuance to a new relay.' },
};

function registry(): z.core.$ZodRegistry<Meta> {
  const reg = z.registry<Meta>();
  const add = (schema: z.core.$ZodType | undefined, meta: Meta): void => {
    if (!schema) throw new Error(`generate-schema: no schema to describe as ${JSON.stringify(meta)}`);
    reg.add(schema, meta);
  };
  const rules = RulesSchema.shape;
  add(rules.format, { description: `The rules format and version; always "${RULES_FORMAT}".` });
  add(rules.title, { description: "Short name of this set of rules (a template name, or the pursuance's own)." });
  add(rules.description, { description: 'What kind of group these rules are for and how it works, for people joining it.' });
  add(rules.roles, { description: 'The roles, by id (1–64). Each role has its own key per epoch; tasks are sealed to roles.' });

  add(RoleIdSchema, { id: 'RoleId', description: 'A role id: lowercase letters, digits and dashes, starting with a letter, at most 32 characters.' });
  add(RoleSchema, { id: 'Role', title: 'Role', description: 'A role: its authority rank, history policy, and what holders may and may not do.' });
  const role = RoleSchema.shape;
  add(role.title, { description: 'Display name of the role.' });
  add(role.description, { description: 'What holders of this role do.' });
  add(role.rank, {
    description:
      "Authority rank 0–999. Among concurrent actions of the same kind, the higher-ranked author's is applied first (founders rank 1000). A member's rank is the best rank among their roles.",
  });
  add(role.history, {
    description:
      '"all": a new holder receives the keys of every earlier epoch and reads the role\'s history; "since-join": only the key current when they got the role, and later ones.',
  });
  add(role.can, { description: 'Capabilities holders are granted. A member holding several roles has the union of their grants.' });
  add(role.cannot, {
    description: 'Explicit denials. A denial in any role a member holds wins over every grant; its `reason` is shown to whoever is refused.',
  });

  add(CapabilitySchema, { id: 'Capability', title: 'Capability', description: 'One permission, or (under `cannot`) one denial, on one subject.' });
  for (const option of CapabilitySchema.options) {
    const subject = option.shape.subject.value;
    const doc = SUBJECT_DOCS[subject];
    if (!doc) throw new Error(`generate-schema: undocumented capability subject "${subject}"`);
    add(option, doc);
    const shape = option.shape as Record<string, z.core.$ZodType>;
    add(shape.reason, { description: 'Human-readable explanation, shown when this rule decides (used mostly on `cannot`).' });
    const list = shape.audience ?? shape.roles;
    if (list) add(list, { id: 'RoleList', description: '"*" for every role, or a list of declared role ids.' });
  }

  add(WorkflowSchema, {
    id: 'Workflow',
    title: 'Workflow',
    description:
      'The task status workflow. A new task starts in `initial` (which may not be a closed state), and a reopened task returns to it unless another open state is named. Moving between open states needs the `transition` capability and a listed transition; entering a closed state (closing) and leaving one (reopening) need `close` and are not listed as transitions.',
  });
  const wf = WorkflowSchema.shape;
  add(wf.states, { description: 'Every status a task can have (unique).' });
  // `initial` is the very schema every state id uses (shared in schema.ts), so it becomes a $def.
  add(wf.initial, { id: 'StateId', description: 'A workflow state id: lowercase letters, digits and dashes, starting with a letter, at most 32 characters.' });
  add(wf.closed, { description: 'Statuses that count as closed (done, dropped…). Closing picks one of these.' });
  add(wf.transitions, { description: 'Allowed moves between open states.' });

  add(SuccessionSchema, {
    id: 'Succession',
    title: 'Founder succession',
    description:
      'How a member becomes a founder: a founder nominates them; they become a founder when `quorum` founders have endorsed, or by claiming after founders have been inactive.',
  });
  const succ = SuccessionSchema.shape;
  add(succ.quorum, { description: 'Founders (the nominator counts) whose endorsement makes a nominee a founder.' });
  add(succ.inactivityDays, {
    description: 'A nominee may claim the nomination after this many days with no event from any founder; null = never.',
  });
  return reg;
}

/** The JSON Schema for rules documents, as a JSON value. */
export function rulesJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(RulesSchema, { io: 'input', target: 'draft-2020-12', metadata: registry(), unrepresentable: 'throw' }) as Record<
    string,
    unknown
  >;
  const { $schema: dialect, $defs, properties, ...rest } = generated;
  if (typeof properties !== 'object' || properties === null) throw new Error('generate-schema: expected an object schema');
  return {
    $schema: dialect,
    $id: RULES_SCHEMA_ID,
    title: 'Pursuance rules',
    description: [
      'The rules of a pursuance: roles, what each may and may not do, the task workflow, and founder succession.',
      'Generated from packages/pursuance/src/rules/schema.ts by `npm run rules:schema`; do not edit by hand. See rules/README.md.',
      'Clients also check what JSON Schema cannot express: every role named in a capability is declared, workflow states are unique and every state named is declared, and the initial state is not a closed state.',
    ].join(' '),
    ...rest,
    properties: {
      // Editors use `$schema` to find this file; the rules parser ignores it (strip it before parsing).
      $schema: { type: 'string', description: 'Path or URL of this JSON Schema, for editors. Not part of the rules.' },
      ...properties,
      // The zod schema bounds the number of roles with a refinement, which JSON Schema can say directly.
      roles: { ...(properties as Record<string, Record<string, unknown>>).roles, minProperties: 1, maxProperties: 64 },
    },
    ...($defs ? { $defs } : {}),
  };
}

/** The exact text of rules/rules.schema.json. */
export function renderRulesJsonSchema(): string {
  return `${JSON.stringify(rulesJsonSchema(), null, 2)}\n`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(RULES_SCHEMA_PATH, renderRulesJsonSchema());
  process.stdout.write(`wrote ${RULES_SCHEMA_PATH}\n`);
}
