/**
 * The dashboard keeps a copy of the node's length limits (its bundle must not import the node
 * app): the copy must say what the node's request schemas enforce, or a form would let through
 * text the node refuses (or refuse text it takes).
 */
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { DISPLAY_NAME_MAX } from '@pursuance/pursuance';
import { LIMITS } from '../../apps/dashboard/src/lib/limits.js';
import {
  CreatePursuanceBody,
  CreateTaskBody,
  DeclineBody,
  ProfileTextBody,
  PublishProfileBody,
  RemoveMemberBody,
  SendJoinRequestBody,
  TaskChangeBody,
} from '../../apps/node/src/http/schemas.js';

type Json = { properties?: Record<string, Json>; anyOf?: Json[]; oneOf?: Json[]; items?: Json; maxLength?: number; const?: unknown };

function json(schema: z.ZodType): Json {
  return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Json;
}

/** The `maxLength` of `field`, in the object schema (or the union member whose `op` is `op`). */
function maxLength(schema: z.ZodType, field: string, op?: string): number | undefined {
  const root = json(schema);
  const objects = [root, ...(root.anyOf ?? []), ...(root.oneOf ?? [])];
  const object = op === undefined ? objects.find((o) => o.properties?.[field]) : objects.find((o) => o.properties?.op?.const === op);
  return object?.properties?.[field]?.maxLength;
}

/** The `maxLength` of each item of the array `field`. */
function itemMaxLength(schema: z.ZodType, field: string): number | undefined {
  return json(schema).properties?.[field]?.items?.maxLength;
}

describe("the dashboard's copy of the node's length limits", () => {
  it('matches the request schemas', () => {
    expect(LIMITS.taskTitle).toBe(maxLength(CreateTaskBody, 'title'));
    expect(LIMITS.taskBody).toBe(maxLength(CreateTaskBody, 'body'));
    expect(LIMITS.comment).toBe(maxLength(TaskChangeBody, 'body', 'comment'));
    expect(LIMITS.description).toBe(maxLength(CreatePursuanceBody, 'description'));
    expect(LIMITS.reason).toBe(maxLength(RemoveMemberBody, 'reason'));
    expect(LIMITS.name).toBe(DISPLAY_NAME_MAX);
    expect(LIMITS.profileAbout).toBe(maxLength(PublishProfileBody, 'about'));
    expect(LIMITS.profileAsk).toBe(itemMaxLength(PublishProfileBody, 'asks'));
    expect(LIMITS.answer).toBe(itemMaxLength(SendJoinRequestBody, 'answers'));
    expect(LIMITS.declineNote).toBe(maxLength(DeclineBody, 'note'));
    expect(LIMITS.pasted).toBe(maxLength(ProfileTextBody, 'profile'));
  });
});
