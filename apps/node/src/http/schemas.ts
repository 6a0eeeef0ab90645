import { z } from 'zod';
import { isOnionName } from '@pursuance/crypto';
import { RoleIdSchema, RulesSchema } from '@pursuance/pursuance';

/** Request bodies of the HTTP API, validated with zod (and described in the OpenAPI document). */
export const Onion = z
  .string()
  .refine(isOnionName, 'expected a 56-character onion name')
  .transform((s) => s);
const EventIdSchema = z.string().regex(/^[0-9a-f]{64}$/, 'expected an event id (64 hex characters)');
const roles = z.array(RoleIdSchema).max(64);

export const CreatePursuanceBody = z.strictObject({
  name: z.string().min(1).max(120),
  description: z.string().max(4000).default(''),
  template: z
    .string()
    .regex(/^[a-z0-9-]+$/)
    .optional(),
  rules: RulesSchema.optional(),
});
export const AddMemberBody = z.strictObject({ onion: Onion, name: z.string().min(1).max(120).optional(), roles: roles.default([]) });
export const RemoveMemberBody = z.strictObject({ reason: z.string().max(1000).optional() });
export const AssignRoleBody = z.strictObject({ role: RoleIdSchema });
export const RotateKeysBody = z.strictObject({ roles: roles.min(1) });
export const ChangeRulesBody = z.strictObject({ rules: RulesSchema });
export const CreateTaskBody = z.strictObject({
  audience: roles.min(1),
  parent: EventIdSchema.nullable().optional(),
  title: z.string().min(1).max(300),
  body: z.string().max(20_000).optional(),
  assignees: z.strictObject({ members: z.array(Onion).max(256).optional(), roles: roles.optional() }).optional(),
  labels: z.array(z.string().min(1).max(40)).max(32).optional(),
  due: z.number().int().min(0).nullable().optional(),
});
const side = z.strictObject({ members: z.array(Onion).max(256).optional(), roles: roles.optional() });
export const TaskChangeBody = z.discriminatedUnion('op', [
  z.strictObject({
    op: z.literal('edit'),
    title: z.string().min(1).max(300).optional(),
    body: z.string().max(20_000).optional(),
    labels: z.array(z.string().min(1).max(40)).max(32).optional(),
    due: z.number().int().min(0).nullable().optional(),
  }),
  z.strictObject({ op: z.literal('assign'), add: side.optional(), remove: side.optional() }),
  z.strictObject({ op: z.literal('status'), to: z.string().min(1).max(32) }),
  z.strictObject({ op: z.literal('close'), to: z.string().min(1).max(32).optional(), note: z.string().max(2000).optional() }),
  z.strictObject({ op: z.literal('reopen'), to: z.string().min(1).max(32).optional(), note: z.string().max(2000).optional() }),
  z.strictObject({ op: z.literal('comment'), body: z.string().min(1).max(20_000) }),
  z.strictObject({ op: z.literal('move'), parent: EventIdSchema.nullable() }),
]);
/** Raw signed events, base64, for import/export (invites before group sync, backups). */
export const EventsBody = z.strictObject({ events: z.array(z.string().max(2_000_000)).min(1).max(10_000) });
