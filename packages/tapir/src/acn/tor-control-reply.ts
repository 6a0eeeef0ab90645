/**
 * Reply parsing for tor's control port (control-spec §2.3): an incremental parser that turns
 * the byte stream into complete replies and bounds everything a broken or hostile control
 * port can make us buffer.
 */
import { AcnControlError } from '../errors.js';

/** One line of a reply; `data` is set for a data line ("250+key=" … "."), dot-unstuffed. */
export interface ReplyLine {
  readonly status: number;
  readonly text: string;
  readonly data?: string;
}

/** A complete reply: every line shares the status code (control-spec §2.3). 6xx = async event. */
export interface ControlReply {
  readonly status: number;
  readonly lines: readonly ReplyLine[];
}

export interface ReplyParserLimits {
  /** Longest line accepted, without its line ending. */
  readonly maxLineBytes: number;
  /** Largest reply accepted, counting every line of it (data lines included). */
  readonly maxReplyBytes: number;
  /** Most lines in one reply (bounds per-line object overhead for floods of tiny lines). */
  readonly maxReplyLines: number;
}

/**
 * Generous for what TorACN asks (bootstrap phase, ADD_ONION, events) and for `ns/all` of a
 * test network; a hostile peer can make us hold at most about maxReplyBytes.
 */
export const DEFAULT_REPLY_LIMITS: ReplyParserLimits = {
  maxLineBytes: 64 * 1024,
  maxReplyBytes: 4 * 1024 * 1024,
  maxReplyLines: 16 * 1024,
};

const LF = 0x0a;
const STATUS_LINE = /^([0-9]{3})([ +-])/;

/**
 * Incremental parser for the control-port byte stream. Feed it chunks in arrival order; it
 * calls `onReply` once per complete reply. After the first malformed input it stays failed and
 * rethrows the same AcnControlError, since the stream can no longer be trusted.
 */
export class ControlReplyParser {
  readonly #onReply: (reply: ControlReply) => void;
  readonly #limits: ReplyParserLimits;
  #lineParts: Buffer[] = [];
  #lineBytes = 0;
  #lines: ReplyLine[] = [];
  #replyBytes = 0;
  #status = -1;
  /** Set while inside a data block: the opening line and the data lines so far. */
  #data: { text: string; lines: string[] } | undefined;
  #failure: AcnControlError | undefined;

  public constructor(onReply: (reply: ControlReply) => void, limits: Partial<ReplyParserLimits> = {}) {
    this.#onReply = onReply;
    this.#limits = { ...DEFAULT_REPLY_LIMITS, ...limits };
  }

  /** Bytes held for a line that has not ended yet (at most maxLineBytes + 1, for a CR). */
  public get bufferedLineBytes(): number {
    return this.#lineBytes;
  }

  /** True when no reply is half-received (a clean point to close the stream). */
  public get idle(): boolean {
    return this.#lineBytes === 0 && this.#lines.length === 0 && this.#data === undefined;
  }

  public push(chunk: Uint8Array): void {
    if (this.#failure) throw this.#failure;
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let start = 0;
    while (start < buf.length) {
      const lf = buf.indexOf(LF, start);
      const end = lf === -1 ? buf.length : lf;
      const len = end - start;
      // Checked before buffering, so a line that never ends costs at most maxLineBytes.
      if (this.#lineBytes + len > this.#limits.maxLineBytes + 1) {
        this.#fail(`a reply line is longer than ${this.#limits.maxLineBytes} bytes`);
      }
      if (lf === -1) {
        this.#lineParts.push(Buffer.from(buf.subarray(start)));
        this.#lineBytes += len;
        return;
      }
      const piece = buf.subarray(start, end);
      const line = this.#lineParts.length === 0 ? piece : Buffer.concat([...this.#lineParts, piece]);
      this.#lineParts = [];
      this.#lineBytes = 0;
      start = lf + 1;
      // tor always sends CRLF; a bare LF is accepted as well, as other controllers do.
      const body = line.length > 0 && line[line.length - 1] === 0x0d ? line.subarray(0, line.length - 1) : line;
      if (body.length > this.#limits.maxLineBytes) {
        this.#fail(`a reply line is longer than ${this.#limits.maxLineBytes} bytes`);
      }
      this.#replyBytes += line.length + 1;
      if (this.#replyBytes > this.#limits.maxReplyBytes) {
        this.#fail(`a reply is larger than ${this.#limits.maxReplyBytes} bytes`);
      }
      this.#line(body.toString('utf8'));
    }
  }

  /** The stream ended: anything half-received is an error. */
  public end(): void {
    if (this.#failure) throw this.#failure;
    if (!this.idle) this.#fail('the control connection ended in the middle of a reply');
  }

  #line(text: string): void {
    if (this.#data !== undefined) {
      if (text === '.') {
        this.#push({ status: this.#status, text: this.#data.text, data: this.#data.lines.join('\n') });
        this.#data = undefined;
        return;
      }
      // Dot-stuffing (control-spec §2.3): a data line starting with "." was sent as "..".
      this.#data.lines.push(text.startsWith('.') ? text.slice(1) : text);
      this.#countLine();
      return;
    }
    const m = STATUS_LINE.exec(text);
    if (m === null) this.#fail('a reply line does not start with a status code');
    const status = Number(m[1]);
    if (this.#lines.length > 0 && status !== this.#status) {
      this.#fail('the status code changed in the middle of a reply');
    }
    this.#status = status;
    const rest = text.slice(4);
    switch (m[2]) {
      case '-':
        this.#push({ status, text: rest });
        return;
      case '+':
        this.#data = { text: rest, lines: [] };
        this.#countLine();
        return;
      default: {
        this.#push({ status, text: rest });
        const reply: ControlReply = { status, lines: this.#lines };
        this.#lines = [];
        this.#replyBytes = 0;
        this.#status = -1;
        this.#onReply(reply);
      }
    }
  }

  #push(line: ReplyLine): void {
    this.#lines.push(line);
    this.#countLine();
  }

  #countLine(): void {
    const n = this.#lines.length + (this.#data?.lines.length ?? 0);
    if (n > this.#limits.maxReplyLines) this.#fail(`a reply has more than ${this.#limits.maxReplyLines} lines`);
  }

  #fail(message: string): never {
    this.#lineParts = [];
    this.#lineBytes = 0;
    this.#lines = [];
    this.#data = undefined;
    this.#failure = new AcnControlError(`malformed tor control reply: ${message}`);
    throw this.#failure;
  }
}
