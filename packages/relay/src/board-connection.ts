import { randomBytes } from 'node:crypto';
import type { Connection } from '@pursuance/tapir';
import type { BoardServer } from './board-server.js';
import {
  encodeBareMessage,
  encodeBucketResult,
  encodePong,
  encodePostResult,
  encodeRenewResult,
  encodeReplayResult,
  parseBoardRequest,
  type BoardRequest,
} from './board-protocol.js';
import { meetsRenewal } from './renewal.js';
import { ReplayInterruptedError, SlowConsumerError, TooManyFailedSpendsError } from './errors.js';
import { BOARD_SYNCED_CAPABILITY, RENEWAL_CHALLENGE_SIZE } from './protocol-profile.js';
import type { StoredMessage } from './store.js';
import { relayCause, toTapirError } from './tapir-errors.js';

type Job = () => Promise<void>;

/**
 * One client session on the board. Requests are read in order; posts are processed
 * concurrently (so one client's pipelined posts share a group commit) but answered strictly in
 * request order: clients match answers to requests by position (the protocol has no ids).
 * Everything this session sends — post results, replays, pongs, live pushes — goes through one
 * serial job queue, so the client sees a consistent stream.
 *
 * Replay follows Cwtch: ReplayResult{n}, then n bare messages in storage order, then live
 * pushes; a bucket fetch is the same with BucketResult{n, frontier}. Messages stored while the replay runs are buffered (or, past a bound, re-read from
 * the store) and sent after it, skipping those already in the replayed range by seq, so
 * nothing falls in the gap and a long replay costs bounded memory.
 */
export class BoardConnection {
  readonly #server: BoardServer;
  readonly #conn: Connection;
  readonly #jobs: Job[] = [];
  #pumping = false;
  #state: 'idle' | 'syncing' | 'synced' = 'idle';
  #syncBuffer: StoredMessage[] = [];
  /** The sync buffer hit its bound and dropped messages: catch up from the store instead. */
  #syncOverflow = false;
  #queuedPushes = 0;
  #queuedPongs = 0;
  #inflight = 0;
  #slotFree: (() => void) | undefined;
  #failedSpends = 0;
  /** The session fetched by bucket: its pongs tell it where its next fetch may start. */
  #bucketed = false;
  /** What the next renewal must solve; replaced on every successful renewal, so work is never reused. */
  #challenge = new Uint8Array(randomBytes(RENEWAL_CHALLENGE_SIZE));

  public constructor(server: BoardServer, conn: Connection) {
    this.#server = server;
    this.#conn = conn;
  }

  public async run(): Promise<void> {
    this.#server.register(this);
    let endCode: string | undefined;
    void this.#conn.closed.then((error) => {
      endCode = relayCause(error)?.code;
      this.#jobs.length = 0;
      this.#syncBuffer = [];
      this.#server.unregister(this, endCode);
    });
    for (;;) {
      if (this.#inflight >= this.#server.limits.maxPipelinedPosts) {
        // Stop reading: the client's further requests wait in the socket (TCP backpressure).
        await new Promise<void>((resolve) => (this.#slotFree = resolve));
      }
      const payload = await this.#conn.expect();
      let request: BoardRequest;
      try {
        request = parseBoardRequest(payload);
      } catch (err) {
        throw toTapirError(err);
      }
      // Posting and syncing renew the session against the service's idle timeout and keep it
      // off the eviction list's head; so does a renewal with valid work. A ping (keepalive) or a
      // live subscription that only receives does not: holding a session open costs work.
      if (request.kind === 'post') {
        this.#conn.markActive();
        this.#post(request);
      } else if (request.kind === 'ping') {
        this.#pong();
      } else if (request.kind === 'renew') {
        this.#renew(request.solution);
      } else if (request.kind === 'fetch') {
        this.#conn.markActive();
        this.#bucketed = true;
        const from = request.fromBucket;
        this.#enqueue(() => this.#sync(async () => (await this.#server.store.seqBeforeBucket(from)) + 1, encodeBucketResult));
      } else {
        this.#conn.markActive();
        const since = request.since;
        // [S] Cwtch semantics: from the named message itself; an unknown signature means everything.
        const fromSeq = async () => (since === undefined ? 1 : ((await this.#server.store.seqOf(since)) ?? 1));
        this.#enqueue(() => this.#sync(fromSeq, encodeReplayResult));
      }
    }
  }

  /** Called by the server for every newly stored message. */
  public push(message: StoredMessage, payload: Uint8Array): void {
    const limit = this.#server.limits.maxPendingPushes;
    if (this.#state === 'syncing') {
      // A long replay must not cost unbounded memory: past the bound, stop buffering and
      // let the replay catch up from the store.
      if (this.#syncBuffer.length < limit) this.#syncBuffer.push(message);
      else this.#syncOverflow = true;
      return;
    }
    if (this.#state !== 'synced') return;
    if (++this.#queuedPushes > limit) {
      this.#fail(new SlowConsumerError());
      return;
    }
    this.#enqueue(async () => {
      this.#queuedPushes -= 1;
      await this.#conn.send(payload);
    });
  }

  /**
   * Through the job queue like every answer: a pong follows the results of the posts before
   * it, so it proves the whole session is moving, not just the socket. An honest client has
   * one ping out at a time; one that sends pings faster than it reads pongs is dropped.
   */
  #pong(): void {
    if (++this.#queuedPongs > this.#server.limits.maxPipelinedPosts) {
      this.#fail(new SlowConsumerError());
      return;
    }
    // Taken now, not when the pong is sent: a message published after this point is pushed
    // after the pong and is filed at the frontier or later; one published before it is pushed
    // (or replayed) before the pong.
    const payload = encodePong(this.#bucketed ? this.#server.fetchFrontier() : undefined);
    this.#enqueue(async () => {
      this.#queuedPongs -= 1;
      await this.#conn.send(payload);
    });
  }

  /**
   * Checked at once (requests are read in order, so the challenge it answers is the current
   * one), answered in request order. A missing solution asks for the challenge; a wrong one is
   * refused with RENEWAL_INVALID and renews nothing, so the idle timeout closes the session.
   * Answers share the pong bound: a client that renews faster than it reads is dropped.
   */
  #renew(solution: Uint8Array | undefined): void {
    const bits = this.#server.limits.renewalBits;
    let outcome: Parameters<typeof encodeRenewResult>[0];
    if (solution === undefined) {
      outcome = { renewed: false, challenge: this.#challenge, bits };
    } else if (meetsRenewal(solution, this.#challenge, bits)) {
      this.#conn.markActive();
      this.#challenge = new Uint8Array(randomBytes(RENEWAL_CHALLENGE_SIZE));
      outcome = { renewed: true, challenge: this.#challenge, bits };
    } else {
      outcome = { renewed: false, code: 'RENEWAL_INVALID', challenge: this.#challenge, bits };
    }
    this.#server.emit('renewal', outcome.renewed ? 'renewed' : (outcome.code ?? 'challenge'));
    if (++this.#queuedPongs > this.#server.limits.maxPipelinedPosts) {
      this.#fail(new SlowConsumerError());
      return;
    }
    const payload = encodeRenewResult(outcome);
    this.#enqueue(async () => {
      this.#queuedPongs -= 1;
      await this.#conn.send(payload);
    });
  }

  #post(request: Extract<BoardRequest, { kind: 'post' }>): void {
    this.#inflight += 1;
    const reply = this.#server.processPost(request);
    void reply.then(() => {
      this.#inflight -= 1;
      const free = this.#slotFree;
      this.#slotFree = undefined;
      free?.();
    });
    this.#enqueue(async () => {
      const result = await reply;
      await this.#conn.send(encodePostResult(result));
      if (!result.ok && result.code !== 'STORE_FAILED' && ++this.#failedSpends >= this.#server.limits.maxFailedSpends) {
        this.#fail(new TooManyFailedSpendsError());
      }
    });
  }

  /**
   * A replay (since a signature) or a fetch (from a bucket): the result, the stored messages
   * from `fromSeq()` on as bare objects, then live pushes. A fetch's result names the frontier
   * taken before the range is read: what the range leaves out is pushed live and filed there
   * or later, so a next fetch from it misses nothing.
   */
  async #sync(fromSeq: () => Promise<number>, result: (count: number, frontier: number) => Uint8Array): Promise<void> {
    const store = this.#server.store;
    this.#state = 'syncing';
    this.#syncBuffer = [];
    this.#syncOverflow = false;
    const frontier = this.#server.fetchFrontier();
    const from = await fromSeq();
    const toSeq = await store.lastSeq();
    const total = await store.count(from, toSeq);
    await this.#conn.send(result(total, frontier));
    const sent = await this.#sendRange(from, toSeq, total, encodeBareMessage);
    // Only pruning can shrink the range after counting; the client must replay again.
    if (sent < total) throw new ReplayInterruptedError();
    await this.#catchUp(toSeq);
    this.#state = 'synced';
    this.#conn.grantCapability(BOARD_SYNCED_CAPABILITY);
    this.#server.emit('replayed', total);
  }

  /**
   * Send, as live pushes, what was stored after the replayed range: from the sync buffer, or
   * from the store when the buffer overflowed. Returns once the buffer is empty at a moment
   * when nothing is awaited, so switching to "synced" right after loses nothing.
   */
  async #catchUp(replayedTo: number): Promise<void> {
    let cursor = replayedTo;
    for (;;) {
      if (this.#syncOverflow) {
        this.#syncOverflow = false;
        this.#syncBuffer = [];
        const last = await this.#server.store.lastSeq();
        await this.#sendRange(cursor + 1, last, Number.MAX_SAFE_INTEGER, (m) => this.#server.newMessagePayload(m));
        cursor = Math.max(cursor, last);
        continue;
      }
      const next = this.#syncBuffer.shift();
      if (next === undefined) return;
      if (next.seq > cursor) {
        await this.#conn.send(this.#server.newMessagePayload(next));
        cursor = next.seq;
      }
    }
  }

  /** Send up to `max` stored messages with fromSeq ≤ seq ≤ toSeq, page by page; returns how many. */
  async #sendRange(fromSeq: number, toSeq: number, max: number, encode: (m: StoredMessage) => Uint8Array): Promise<number> {
    let sent = 0;
    let cursor = fromSeq;
    while (sent < max && cursor <= toSeq) {
      const page = await this.#server.store.read(cursor, toSeq, Math.min(this.#server.limits.replayPageSize, max - sent));
      if (page.length === 0) break;
      for (const message of page) await this.#conn.send(encode(message));
      sent += page.length;
      cursor = page.at(-1)!.seq + 1;
    }
    return sent;
  }

  #enqueue(job: Job): void {
    this.#jobs.push(job);
    if (!this.#pumping) void this.#pump();
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    try {
      while (this.#jobs.length > 0 && !this.#conn.isClosed) {
        const job = this.#jobs.shift()!;
        try {
          await job();
        } catch (err) {
          this.#fail(err);
          return;
        }
      }
    } finally {
      this.#pumping = false;
    }
  }

  #fail(err: unknown): void {
    this.#conn.close(toTapirError(err));
  }
}
