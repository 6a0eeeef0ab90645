import { request } from 'node:http';
import { join } from 'node:path';
import { http, type HttpResult } from '../../apps/node/test/support/http.js';
import { spawnNodeProcess } from './node-process.js';
import type { Spawned } from './processes.js';

/**
 * `pursuance node start` processes on one loopback network, each restartable on its own data
 * dir, driven only through their HTTP APIs. Every process's server-sent events (`changed`,
 * `sync`) wake whoever waits in `until`, so waiting follows what the nodes report.
 */
export interface NodeHandle {
  readonly name: string;
  readonly dataDir: string;
  onion: string;
  port: number;
  token: string;
  proc: Spawned;
  /** False from the moment a stop is requested until the restarted process is serving. */
  up: boolean;
  /** stderr of earlier runs of this node (the current run's is `proc.stderr()`). */
  earlierStderr: string;
  closeStream: () => void;
}

export class NoAnswerError extends Error {
  public readonly code = 'NO_ANSWER';
  public constructor(what: string, ms: number) {
    super(`no answer to ${what} within ${ms} ms`);
    this.name = 'NoAnswerError';
  }
}

export class NodeCluster {
  public readonly nodes: NodeHandle[] = [];
  /** Processes that exited without being asked to, with their exit code and last stderr. */
  public readonly crashes: string[] = [];
  #wakers: (() => void)[] = [];

  public constructor(
    private readonly root: string,
    private readonly registry: string,
  ) {}

  public async start(name: string): Promise<NodeHandle> {
    const launched = await this.#launch(name, join(this.root, name));
    const node: NodeHandle = { name, dataDir: join(this.root, name), ...launched, up: true, earlierStderr: '' };
    this.nodes.push(node);
    this.#noticeCrash(node);
    return node;
  }

  async #launch(name: string, dataDir: string): Promise<Pick<NodeHandle, 'onion' | 'port' | 'token' | 'proc' | 'closeStream'>> {
    const n = await spawnNodeProcess(name, dataDir, this.registry);
    return { ...n, closeStream: this.#watch(n.port, n.token) };
  }

  /**
   * Stop the node's process with `signal`; resolves with its exit code (null when the signal
   * killed it), or 'hung' when it was still running `graceMs` later (it is then SIGKILLed).
   */
  public async stop(node: NodeHandle, signal: NodeJS.Signals, graceMs = 30_000): Promise<number | null | 'hung'> {
    node.up = false;
    node.closeStream();
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<'hung'>((resolve) => {
      timer = setTimeout(() => resolve('hung'), graceMs);
    });
    const code = await Promise.race([node.proc.stop(signal), hung]);
    clearTimeout(timer);
    if (code === 'hung') await node.proc.stop('SIGKILL');
    node.earlierStderr += node.proc.stderr();
    return code;
  }

  /** Start the node again on the same data dir (same identity and token, new port). */
  public async restart(node: NodeHandle): Promise<void> {
    const launched = await this.#launch(node.name, node.dataDir);
    if (launched.onion !== node.onion) throw new Error(`${node.name} came back as ${launched.onion}, not ${node.onion}`);
    Object.assign(node, launched, { up: true });
    this.#noticeCrash(node);
    this.#wake();
  }

  #noticeCrash(node: NodeHandle): void {
    const proc = node.proc;
    proc.child.once('exit', (code, signal) => {
      if (node.proc !== proc || !node.up) return;
      node.up = false;
      this.crashes.push(`${node.name} exited on its own (code ${code}, signal ${signal}): ${proc.stderr().slice(-2000)}`);
      this.#wake();
    });
  }

  /** An API request; a node that does not answer within `timeoutMs` is an error, never a hang. */
  public async api(node: NodeHandle, method: string, path: string, body?: unknown, timeoutMs = 60_000): Promise<HttpResult> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new NoAnswerError(`${method} ${path} on ${node.name}`, timeoutMs)), timeoutMs);
    });
    try {
      return await Promise.race([http(node.port, method, path, { token: node.token, ...(body === undefined ? {} : { body }) }), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Resolve once `check` holds (re-checked whenever any node reports a change or a sync event,
   * and at least every `recheckMs` in case a report fell between a restart and its new
   * stream); false once `timeoutMs` has passed. A throwing check counts as "not yet".
   */
  public async until(check: () => Promise<boolean>, timeoutMs: number, recheckMs = 2_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const woken = this.#nextWake(Math.min(recheckMs, Math.max(0, deadline - Date.now())));
      if (await check().catch(() => false)) return true;
      if (Date.now() >= deadline) return false;
      await woken;
    }
  }

  public async closeAll(): Promise<void> {
    for (const n of this.nodes) {
      if (n.proc.child.exitCode !== null || n.proc.child.signalCode !== null) continue;
      await this.stop(n, 'SIGTERM', 20_000);
    }
    this.#wake();
  }

  #nextWake(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wakers.push(done);
    });
  }

  #wake(): void {
    for (const w of this.#wakers.splice(0)) w();
  }

  #watch(port: number, token: string): () => void {
    const req = request(
      { host: '127.0.0.1', port, path: `/api/stream?token=${token}`, headers: { host: `127.0.0.1:${port}`, accept: 'text/event-stream' } },
      (res) => {
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (/^event: (changed|sync)$/m.test(chunk)) this.#wake();
        });
        res.on('error', () => undefined);
      },
    );
    // The stream ends when its process is stopped; nothing to report.
    req.on('error', () => undefined);
    req.end();
    return () => req.destroy();
  }
}
