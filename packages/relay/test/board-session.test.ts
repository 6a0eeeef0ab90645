import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Identity, toHex } from '@pursuance/crypto';
import { BoardSession, type KeepaliveOptions } from '../src/board-session.js';
import { encodeBareMessage, encodeNewMessage, encodePong, encodePostResult, encodeReplayResult } from '../src/board-protocol.js';
import { MalformedResponseError, PostRejectedError, SessionClosedError, SessionUnresponsiveError } from '../src/errors.js';
import type { EncryptedGroupMessage } from '../src/group-message.js';
import { POST_FAILURE_CODES, type PostFailureCode } from '../src/protocol-profile.js';
import { FakeChannel, looseTokens, settle } from './support/fake-channel.js';
import { randomMessage } from './support/fixtures.js';

const board = Identity.generate().onion;
const local = Identity.generate().onion;
const hex = (m: EncryptedGroupMessage) => toHex(m.signature);

type Outcome = 'ok' | PostFailureCode;
const outcome = fc.constantFrom<Outcome>('ok', ...POST_FAILURE_CODES);
/** What the test does next: post the next message, or the relay answers / pushes, or a ping. */
const step = fc.constantFrom('post', 'answer', 'answer', 'push', 'ping');

/** How each post ended, as seen by its caller. */
type Seen = Outcome | 'closed' | `other:${string}`;

function seen(err: unknown): Seen {
  if (err instanceof PostRejectedError) return err.reason as PostFailureCode;
  if (err instanceof SessionClosedError) return 'closed';
  return `other:${String(err)}`;
}

/**
 * A session on a fake channel, and a relay model that answers requests strictly in the order
 * they were written, each post with the verdict assigned to its message.
 */
function harness(window: number, outcomes: readonly Outcome[]) {
  const channel = new FakeChannel();
  const session = new BoardSession(channel, looseTokens, board, local, { window, keepalive: false });
  const messages = outcomes.map(() => randomMessage());
  const verdict = new Map(messages.map((m, i) => [hex(m), outcomes[i]!]));
  const results: (Seen | undefined)[] = outcomes.map(() => undefined);
  let posted = 0;
  let answered = 0;
  let maxInFlight = 0;
  const postsAnswered = () => channel.requests.slice(0, answered).filter((r) => r.kind === 'post').length;
  const postsWritten = () => channel.requests.filter((r) => r.kind === 'post').length;
  return {
    channel,
    session,
    messages,
    results,
    get posted() {
      return posted;
    },
    get answered() {
      return answered;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    postsAnswered,
    postsWritten,
    postNext(): void {
      const i = posted++;
      session.post(messages[i]!).then(
        () => (results[i] = 'ok'),
        (err: unknown) => (results[i] = seen(err)),
      );
    },
    /** The relay answers the oldest unanswered request; false when there is none. */
    answerNext(): boolean {
      const request = channel.requests[answered];
      if (request === undefined) return false;
      answered += 1;
      if (request.kind === 'ping') channel.deliver(encodePong());
      else if (request.kind === 'post') {
        const v = verdict.get(hex(request.message))!;
        channel.deliver(encodePostResult(v === 'ok' ? { ok: true } : { ok: false, code: v }));
      } else channel.deliver(encodeReplayResult(0));
      return true;
    },
    observe(): void {
      maxInFlight = Math.max(maxInFlight, postsWritten() - postsAnswered());
    },
  };
}

describe('pipelined posts: acknowledgements matched by position', () => {
  it('any interleaving of posts, answers, pushes and pings gives every post exactly its own verdict, in send order, within the window', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.array(outcome, { minLength: 1, maxLength: 24 }),
        fc.array(step, { maxLength: 80 }),
        async (window, outcomes, schedule) => {
          const h = harness(window, outcomes);
          let pushes = 0;
          let pushed = 0;
          let pongs = 0;
          h.session.on('message', () => pushed++);
          for (const s of schedule) {
            if (s === 'post' && h.posted < outcomes.length) h.postNext();
            if (s === 'answer') h.answerNext();
            if (s === 'push') {
              pushes += 1;
              h.channel.deliver(encodeNewMessage(randomMessage()));
            }
            if (s === 'ping') void h.session.ping().then(() => pongs++);
            await settle();
            h.observe();
          }
          while (h.posted < outcomes.length) h.postNext();
          await settle();
          // Drain: before each answer the window is full (as full as what is left allows).
          for (;;) {
            h.observe();
            const unanswered = outcomes.length - h.postsAnswered();
            expect(h.postsWritten() - h.postsAnswered()).toBe(Math.min(window, unanswered));
            if (!h.answerNext()) break;
            await settle();
          }
          expect(h.results).toEqual(outcomes);
          const written = h.channel.requests.flatMap((r) => (r.kind === 'post' ? [hex(r.message)] : []));
          expect(written).toEqual(h.messages.map(hex));
          expect(h.maxInFlight).toBeLessThanOrEqual(window);
          expect(pushed).toBe(pushes);
          expect(pongs).toBe(h.channel.requests.filter((r) => r.kind === 'ping').length);
          expect(h.session.isClosed).toBe(false);
        },
      ),
      { numRuns: 150 },
    );
  });

  /** A packet that cannot be the answer to the oldest pending request (or to no request). */
  const hostile = fc.constantFrom('wrong-kind', 'replay-result', 'bare-message', 'garbage');

  it('an extra, out-of-order or unsolicited answer from a hostile relay closes the session with a typed error; only unanswered posts fail', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.array(outcome, { minLength: 1, maxLength: 16 }),
        fc.array(step, { maxLength: 40 }),
        hostile,
        async (window, outcomes, schedule, attack) => {
          const h = harness(window, outcomes);
          const pings: Promise<unknown>[] = [];
          for (const s of schedule) {
            if (s === 'post' && h.posted < outcomes.length) h.postNext();
            if (s === 'answer') h.answerNext();
            if (s === 'push') h.channel.deliver(encodeNewMessage(randomMessage()));
            if (s === 'ping') pings.push(h.session.ping().catch((e: unknown) => e));
            await settle();
          }
          const answeredPosts = h.postsAnswered();
          const head = h.channel.requests[h.answered];
          if (attack === 'wrong-kind') {
            // An answer of the other kind than the one due (a pong for a post, a post result
            // for a ping), or either when nothing at all is pending.
            h.channel.deliver(head?.kind === 'post' ? encodePong() : encodePostResult({ ok: true }));
          }
          if (attack === 'replay-result') h.channel.deliver(encodeReplayResult(1));
          if (attack === 'bare-message') h.channel.deliver(encodeBareMessage(randomMessage()));
          if (attack === 'garbage') h.channel.deliver(new TextEncoder().encode('{"MessageType":3}'));
          const closeError = await h.session.closed;
          expect(closeError).toBeInstanceOf(MalformedResponseError);
          expect((closeError as MalformedResponseError).code).toBe('MALFORMED_RESPONSE');
          while (h.posted < outcomes.length) h.postNext();
          await settle();
          // Posts answered before the attack keep their verdicts; every other one is closed.
          expect(h.results.slice(0, answeredPosts)).toEqual(outcomes.slice(0, answeredPosts));
          expect(h.results.slice(answeredPosts).every((r) => r === 'closed')).toBe(true);
          for (const p of await Promise.all(pings)) if (p !== undefined) expect(p).toBeInstanceOf(SessionClosedError);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('a refused post is reported for exactly that post, the ones around it succeed', async () => {
    const h = harness(4, ['ok', 'TOKEN_SPENT', 'ok', 'STORE_FAILED', 'ok']);
    for (let i = 0; i < 5; i++) h.postNext();
    await settle();
    expect(h.postsWritten()).toBe(4);
    while (h.answerNext()) await settle();
    expect(h.results).toEqual(['ok', 'TOKEN_SPENT', 'ok', 'STORE_FAILED', 'ok']);
  });

  it('a post cancelled by its signal before it is written is never written; the next ones go out in order', async () => {
    const h = harness(1, ['ok', 'ok', 'ok']);
    const [a, b, c] = h.messages as [EncryptedGroupMessage, EncryptedGroupMessage, EncryptedGroupMessage];
    const abort = new AbortController();
    const first = h.session.post(a);
    const second = h.session.post(b, { signal: abort.signal });
    const third = h.session.post(c);
    await settle();
    abort.abort();
    await expect(second).rejects.toMatchObject({ code: 'ABORTED' });
    while (h.answerNext()) await settle();
    await first;
    await third;
    expect(h.channel.requests.map((r) => (r.kind === 'post' ? hex(r.message) : r.kind))).toEqual([hex(a), hex(c)]);
  });
});

describe('keepalive (fake timers)', () => {
  const keepalive: KeepaliveOptions = { intervalMs: 1_000, timeoutMs: 3_000 };
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Move the fake clock, then let this turn's I/O check (a real setImmediate) run. */
  async function advance(ms: number): Promise<void> {
    await vi.advanceTimersByTimeAsync(ms);
    await settle();
  }

  function idleSession() {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const channel = new FakeChannel();
    const session = new BoardSession(channel, looseTokens, board, local, { keepalive });
    const pings = () => channel.requests.filter((r) => r.kind === 'ping').length;
    return { channel, session, pings };
  }

  it('pings an idle session every interval while the relay answers, and keeps it open', async () => {
    const { channel, session, pings } = idleSession();
    await advance(keepalive.intervalMs - 1);
    expect(pings()).toBe(0);
    await advance(1);
    expect(pings()).toBe(1);
    for (let i = 2; i <= 5; i++) {
      channel.deliver(encodePong());
      await advance(keepalive.intervalMs);
      expect(pings()).toBe(i);
    }
    expect(session.isClosed).toBe(false);
  });

  it('closes the session with SessionUnresponsiveError exactly when an unanswered ping reaches the timeout', async () => {
    const { session, pings } = idleSession();
    await advance(keepalive.intervalMs);
    expect(pings()).toBe(1);
    await advance(keepalive.timeoutMs - 1);
    expect(session.isClosed).toBe(false);
    await advance(1);
    const error = await session.closed;
    expect(error).toBeInstanceOf(SessionUnresponsiveError);
    expect(error).toMatchObject({ code: 'SESSION_UNRESPONSIVE', timeoutMs: keepalive.timeoutMs });
    // Only one ping was ever sent: while it was pending, the idle timer stayed off.
    expect(pings()).toBe(1);
  });

  it('an outstanding post with no answer ends the session after the timeout; every packet heard re-arms it', async () => {
    const { channel, session, pings } = idleSession();
    const post = session.post(randomMessage()).catch((e: unknown) => e);
    await advance(0);
    expect(channel.requests.map((r) => r.kind)).toEqual(['post']);
    // Live pushes keep coming: the relay is alive, only slow to acknowledge.
    for (let i = 0; i < 4; i++) {
      await advance(keepalive.timeoutMs - 1);
      channel.deliver(encodeNewMessage(randomMessage()));
      await advance(0);
    }
    expect(session.isClosed).toBe(false);
    await advance(keepalive.timeoutMs);
    expect(await post).toBeInstanceOf(SessionClosedError);
    expect(await session.closed).toBeInstanceOf(SessionUnresponsiveError);
    expect(pings()).toBe(0);
  });

  it('a post answered in time leaves the session idle again: the next ping comes one interval later', async () => {
    const { channel, session, pings } = idleSession();
    const post = session.post(randomMessage());
    await advance(keepalive.timeoutMs - 1);
    channel.deliver(encodePostResult({ ok: true }));
    await post;
    await advance(keepalive.intervalMs - 1);
    expect(pings()).toBe(0);
    await advance(1);
    expect(pings()).toBe(1);
    expect(session.isClosed).toBe(false);
  });
});
