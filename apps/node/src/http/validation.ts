import { applyDecorators, Injectable, type PipeTransform } from '@nestjs/common';
import { ApiBody, ApiParam, ApiQuery } from '@nestjs/swagger';
import { z } from 'zod';
import { NodeError } from '../domain/errors.js';

/** Where a request value comes from; names the field in messages ("path id", "body title"). */
export type RequestPart = 'body' | 'params' | 'query';

export interface FieldIssue {
  /** Dotted path inside the part (`assignees.members.0`); '' for the part as a whole. */
  readonly field: string;
  readonly message: string;
}

/**
 * A request whose body, path or query does not fit the route's schema. `field` is the first
 * offending field (so a form can show the message beside it); `issues` lists up to ten.
 */
export class RequestValidationError extends NodeError {
  public readonly code = 'INVALID_REQUEST';
  public constructor(
    public readonly part: RequestPart,
    public readonly issues: readonly FieldIssue[],
  ) {
    const first = issues[0] ?? { field: '', message: 'is not valid' };
    super(sentence(part, first), { field: first.field });
  }
}

/**
 * The one place a controller's input is checked: a Nest pipe over a zod schema. The handler
 * gets the schema's output, typed (each schema in schemas.ts doubles as its DTO type), and the
 * same schema feeds the OpenAPI document through ApiInput.
 */
@Injectable()
export class ZodValidationPipe<S extends z.ZodType> implements PipeTransform<unknown, z.output<S>> {
  public constructor(
    private readonly schema: S,
    private readonly part: RequestPart,
  ) {}

  public transform(value: unknown): z.output<S> {
    const parsed = this.schema.safeParse(value);
    if (parsed.success) return parsed.data;
    throw new RequestValidationError(
      this.part,
      parsed.error.issues.slice(0, 10).map((issue) => describeIssue(issue, value)),
    );
  }
}

/** `@Body(valid.body(Schema))`, `@Param(valid.params(Schema))`, `@Query(valid.query(Schema))`. */
export const valid = {
  body: <S extends z.ZodType>(schema: S) => new ZodValidationPipe(schema, 'body'),
  params: <S extends z.ZodType>(schema: S) => new ZodValidationPipe(schema, 'params'),
  query: <S extends z.ZodType>(schema: S) => new ZodValidationPipe(schema, 'query'),
};

const jsonSchema = (s: z.ZodType, io: 'input' | 'output' = 'input') => z.toJSONSchema(s, { io, unrepresentable: 'any' }) as Record<string, unknown>;

/**
 * Document a route's inputs in the OpenAPI document from the very schemas its pipes validate
 * with: each path parameter and query parameter from its object schema's shape, the body whole.
 */
export function ApiInput(input: { params?: z.ZodObject; query?: z.ZodObject; body?: z.ZodType; bodyRequired?: boolean }): MethodDecorator {
  const decorators: MethodDecorator[] = [];
  for (const [name, s] of Object.entries(input.params?.shape ?? {})) decorators.push(ApiParam({ name, required: true, schema: jsonSchema(s as z.ZodType) }));
  for (const [name, s] of Object.entries(input.query?.shape ?? {})) {
    decorators.push(ApiQuery({ name, required: !(s as z.ZodType).safeParse(undefined).success, schema: jsonSchema(s as z.ZodType) }));
  }
  if (input.body) decorators.push(ApiBody({ schema: jsonSchema(input.body), required: input.bodyRequired ?? true }));
  return applyDecorators(...decorators);
}

/** A response shape for the OpenAPI document. */
export const responseSchema = (s: z.ZodType) => ({ schema: jsonSchema(s, 'output') });

// --- plain-words messages ------------------------------------------------------------------

const MAX_NAME = 60;
const shown = (key: PropertyKey): string => {
  const s = String(key);
  return s.length > MAX_NAME ? `${s.slice(0, MAX_NAME)}…` : s;
};

function sentence(part: RequestPart, issue: FieldIssue): string {
  const where = issue.field === '' ? WHOLE[part] : `${PART_LABEL[part]}"${issue.field}"`;
  return `${where} ${issue.message}.`;
}

const WHOLE: Record<RequestPart, string> = { body: 'The request body', params: 'The address (path)', query: 'The query string' };
const PART_LABEL: Record<RequestPart, string> = { body: '', params: 'The path part ', query: 'The query parameter ' };

const article = (t: string): string => (/^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`);
const TYPE_NAMES = new Map([
  ['int', 'whole number'],
  ['nan', 'number'],
  ['record', 'object'],
  ['tuple', 'array'],
]);

/** One zod issue as a field path and a plain sentence (never echoing the value sent). */
export function describeIssue(issue: z.core.$ZodIssue, value: unknown): FieldIssue {
  const path = issue.path.map(shown);
  switch (issue.code) {
    case 'invalid_type':
      return { field: path.join('.'), message: isMissing(value, issue.path) ? 'is required' : mustBe(issue.expected) };
    case 'too_small':
      return { field: path.join('.'), message: tooSmall(issue.origin, Number(issue.minimum), issue.exact === true) };
    case 'too_big':
      return { field: path.join('.'), message: tooBig(issue.origin, Number(issue.maximum), issue.exact === true) };
    case 'unrecognized_keys': {
      const keys = issue.keys.slice(0, 5).map((k) => `"${shown(k)}"`);
      return { field: [...path, shown(issue.keys[0] ?? '')].join('.'), message: `is not a field this request takes (unknown: ${keys.join(', ')})` };
    }
    case 'invalid_union':
      return {
        field: (issue.discriminator && path.at(-1) !== issue.discriminator ? [...path, issue.discriminator] : path).join('.'),
        message: unionMessage(issue),
      };
    case 'invalid_value':
      return { field: path.join('.'), message: `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}` };
    case 'invalid_format':
    case 'custom':
      return { field: path.join('.'), message: formatMessage(issue.message) };
    default:
      return { field: path.join('.'), message: 'is not valid' };
  }
}

/** Is nothing there at `path` (own properties only: the value came from JSON or the URL)? */
function isMissing(value: unknown, path: readonly PropertyKey[]): boolean {
  let at: unknown = value;
  for (const key of path) {
    if (typeof at !== 'object' || at === null) return true;
    at = Object.getOwnPropertyDescriptor(at, key)?.value;
  }
  return at === undefined;
}

/** The node's schemas word their checks to follow a field name ("must be …"); others' are quoted. */
function formatMessage(message: string): string {
  if (/^(must|is) /.test(message)) return message;
  if (message.startsWith('Invalid')) return 'is not in the expected format';
  return `is not valid (${message})`;
}

function mustBe(expected: string): string {
  return `must be ${article(TYPE_NAMES.get(expected) ?? expected)}`;
}

function tooSmall(origin: string, min: number, exact: boolean): string {
  if (origin === 'string') return exact ? `must be exactly ${min} characters long` : min <= 1 ? 'must not be empty' : `must be at least ${min} characters long`;
  if (origin === 'array' || origin === 'set') return min <= 1 ? 'must list at least one entry' : `must list at least ${min} entries`;
  return `must be at least ${min}`;
}

function tooBig(origin: string, max: number, exact: boolean): string {
  if (origin === 'string') return exact ? `must be exactly ${max} characters long` : `is too long (at most ${max} characters)`;
  if (origin === 'array' || origin === 'set') return `has too many entries (at most ${max})`;
  return `must be at most ${max}`;
}

function unionMessage(issue: z.core.$ZodIssueInvalidUnion): string {
  const options = 'options' in issue ? issue.options : undefined;
  if (issue.discriminator && options?.length) return `must be one of ${options.map((v) => JSON.stringify(v)).join(', ')}`;
  return 'does not match any accepted form';
}
