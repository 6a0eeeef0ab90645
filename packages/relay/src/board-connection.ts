import type { Connection } from '@pursuance/tapir';
import type { BoardServer } from './board-server.js';
import { encodeBareMessage, encodePostResult, encodeReplayResult, parseBoardRequest, type BoardRequest } from './board-protocol.js';
import { ReplayInterruptedError, SlowConsumerError, TooManyFailedSpendsError } from './errors.js';
import { BOARD_SYNCED_CAPABILITY } from './protocol-profile.js';
import type { StoredMessage } from './store.js';
import { relayCause, toTapirError } from './tapir-errors.js';

type Job = () => Promise<void>;

/**
 * One client session on the board. Requests are read in order; posts are processed
 * concurrently (so one client's pipelined posts share a group commit) but answered in request
 * order. Everything this session sends — post results, replays, live pushes — goes through one
 * serial job queue, so the client sees a consistent stream.
 *
 * Replay follows Cwtch: ReplayResult{n}, then n bare messages in storage order, then live
 * pushes. Messages stored while the replay runs are buffered and sent after it (those already
 * in the replayed range are skipped by seq), so nothing falls in the gap.
 */
export class BoardConnection {
  readonly #server: BoardServer;
  readonly #conn: Connection;
  readonly #jobs: Job[] = [];
  #pumping = false;
  #state: 'idle' | 'syncing' | 'synced' = 'idle';
  #syncBuffer: StoredMessage[] = [];
  #queuedPushes = 0;
  #inflight = 0;
  #slotFree: (() => void) | undefined;
  #failedSpends = 0;

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
      if (request.kind === 'post') this.#post(request);
      else {
        const since = request.since;
        this.#enqueue(() => this.#replay(since));
      }
    }
  }

  /** Called by the server for every newly stored message. */
  public push(message: StoredMessage, payload: Uint8Array): void {
    const limit = this.#server.limits.maxPendingPushes;
    if (this.#state === 'syncing') {
      this.#syncBuffer.push(message);
      if (this.#syncBuffer.length > limit) this.#fail(new SlowConsumerError());
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

  async #replay(since: Uint8Array | undefined): Promise<void> {
    const store = this.#server.store;
    this.#state = 'syncing';
    this.#syncBuffer = [];
    // [S] Cwtch semantics: from the named message itself; an unknown signature means everything.
    const fromSeq = since === undefined ? 1 : ((await store.seqOf(since)) ?? 1);
    const toSeq = await store.lastSeq();
    const total = await store.count(fromSeq, toSeq);
    await this.#conn.send(encodeReplayResult(total));
    let sent = 0;
    let cursor = fromSeq;
    while (sent < total) {
      const page = await store.read(cursor, toSeq, Math.min(this.#server.limits.replayPageSize, total - sent));
      // Only pruning can shrink the range after counting; the client must replay again.
      if (page.length === 0) throw new ReplayInterruptedError();
      for (const message of page) await this.#conn.send(encodeBareMessage(message));
      sent += page.length;
      cursor = page.at(-1)!.seq + 1;
    }
    for (const message of this.#syncBuffer) {
      if (message.seq > toSeq) await this.#conn.send(this.#server.newMessagePayload(message));
    }
    this.#syncBuffer = [];
    this.#state = 'synced';
    this.#conn.grantCapability(BOARD_SYNCED_CAPABILITY);
    this.#server.emit('replayed', total);
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
