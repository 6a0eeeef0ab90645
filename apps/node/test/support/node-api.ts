import { expect } from 'vitest';
import { http, type HttpResult } from './http.js';

/** What a test needs of a running node to call its API: where it listens and its token. */
export interface ApiNode {
  readonly port: number;
  readonly token: string;
}

/** One API call with the node's token; the result as it came. */
export const call = (n: ApiNode, method: string, path: string, body?: unknown): Promise<HttpResult> =>
  http(n.port, method, path, { token: n.token, ...(body === undefined ? {} : { body }) });

/** One API call that must succeed: its body, or an error naming the call and the node's answer. */
export async function ok<T>(n: ApiNode, method: string, path: string, body?: unknown): Promise<T> {
  const r = await call(n, method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path} → ${r.status} ${r.text}`);
  return r.body as T;
}

export const at = (pursuance: string, path = ''): string => `/api/pursuances/${pursuance}${path}`;

/** The node refused with this status and code, and said why in words. */
export function refusal(r: HttpResult, status: number, code: string, what = ''): void {
  const body = r.body as { code?: string; message?: unknown };
  expect({ status: r.status, code: body.code }, `${what} ${r.text}`).toEqual({ status, code });
  expect(typeof body.message).toBe('string');
}
