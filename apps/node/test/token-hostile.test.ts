import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_SCRYPT_PARAMS } from '@pursuance/crypto';
import { startNode, type RunningNode } from '../src/index.js';
import { http, type HttpResult } from './support/http.js';

/**
 * The node's API token against near misses: every credential that is not exactly the token,
 * and the token where it is not accepted (the query string of anything but a GET), is refused
 * with 401 BAD_TOKEN, on a real node listening on 127.0.0.1.
 */
let dir: string;
let node: RunningNode;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'node-token-'));
  node = await startNode({ dataDir: dir, password: 'token test password', scrypt: TEST_SCRYPT_PARAMS, logger: false });
});
afterAll(async () => {
  await node?.close();
  await rm(dir, { recursive: true, force: true });
});

const swapCase = (s: string): string => [...s].map((c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join('');
const withAuthorization = (value: string) => ({ headers: { authorization: value } });
const body = { name: 'Must not exist', template: 'activist-cell' };

function expectRefused(result: HttpResult, what: string): void {
  expect(result.status, what).toBe(401);
  expect(result.body, what).toMatchObject({ code: 'BAD_TOKEN' });
}

describe('API token near misses', () => {
  it('the token is what this test thinks it is (the near misses below are near)', () => {
    expect(node.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(swapCase(node.token)).not.toBe(node.token);
  });

  it('refuses empty, truncated, extended and re-cased tokens in the Authorization header', async () => {
    const t = node.token;
    const misses: [string, string][] = [
      ['empty header', ''],
      ['scheme only, trailing space', 'Bearer '],
      ['scheme only', 'Bearer'],
      ['one character', `Bearer ${t.slice(0, 1)}`],
      ['half the token', `Bearer ${t.slice(0, 21)}`],
      ['strict prefix (all but the last character)', `Bearer ${t.slice(0, -1)}`],
      ['token plus one character', `Bearer ${t}A`],
      ['token plus one character (first swapped out)', `Bearer ${t.slice(1)}A`],
      ['wrong case', `Bearer ${swapCase(t)}`],
      ['another scheme', `Basic ${t}`],
    ];
    for (const [what, value] of misses) {
      expectRefused(await http(node.port, 'GET', '/api/pursuances', withAuthorization(value)), `GET, ${what}`);
      expectRefused(await http(node.port, 'POST', '/api/pursuances', { ...withAuthorization(value), body }), `POST, ${what}`);
    }
  });

  it('refuses near misses in the query string of a GET (the EventSource path)', async () => {
    const t = node.token;
    for (const [what, value] of [
      ['empty', ''],
      ['strict prefix', t.slice(0, -1)],
      ['token plus one character', `${t}A`],
      ['wrong case', swapCase(t)],
    ] as const) {
      expectRefused(await http(node.port, 'GET', `/api/pursuances?token=${encodeURIComponent(value)}`), `query, ${what}`);
    }
  });

  it('refuses the right token in the query string of a POST', async () => {
    const query = `token=${node.token}`;
    expectRefused(await http(node.port, 'POST', `/api/pursuances?${query}`, { body }), 'POST create');
    expectRefused(await http(node.port, 'POST', `/api/admin/rebuild?${query}`), 'POST rebuild');
  });

  it('nothing was created by the refused requests; the exact token works in the header and on a GET query', async () => {
    expect((await http(node.port, 'GET', '/api/pursuances', { token: node.token })).body).toEqual([]);
    expect((await http(node.port, 'GET', `/api/pursuances?token=${node.token}`)).status).toBe(200);
    const created = await http(node.port, 'POST', '/api/pursuances', { token: node.token, body: { name: 'Allowed', template: 'activist-cell' } });
    expect(created.status).toBe(201);
    const list = (await http(node.port, 'GET', '/api/pursuances', { token: node.token })).body as { name: string }[];
    expect(list.map((p) => p.name)).toEqual(['Allowed']);
  });
});
