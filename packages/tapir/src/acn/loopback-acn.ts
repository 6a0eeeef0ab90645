import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import type { Identity, OnionName } from '@pursuance/crypto';
import { AcnClosedError, AcnTimeoutError, AcnUnreachableError } from '../errors.js';
import type { ACN, ACNListener, AcnStatus, BootstrapStatus, OpenOptions } from './acn.js';

/**
 * Development/test ACN: "onion services" are TCP listeners on 127.0.0.1, found through a
 * registry directory holding one small JSON file per (onion, port). Several processes that
 * share the directory reach each other, which is what multi-process tests need. It provides
 * reachability only — identity is proven by the tapir handshake on top, exactly as over tor.
 */
const EntrySchema = z.strictObject({ host: z.literal('127.0.0.1'), port: z.number().int().min(1).max(65535), pid: z.number().int() });

export function defaultLoopbackRegistry(): string {
  return process.env.PURSUANCE_LOOPBACK_REGISTRY ?? join(tmpdir(), 'pursuance-loopback');
}

export class LoopbackACN implements ACN {
  public readonly kind = 'loopback' as const;
  readonly #registry: string;
  readonly #listeners = new Set<ACNListener>();
  readonly #statusListeners = new Set<(status: AcnStatus) => void>();
  #closed = false;

  public constructor(options: { registryDir?: string } = {}) {
    this.#registry = options.registryDir ?? defaultLoopbackRegistry();
  }

  public get registryDir(): string {
    return this.#registry;
  }

  #entryPath(onion: string, port: number): string {
    return join(this.#registry, `${onion}-${port}.json`);
  }

  public async listen(identity: Identity, port: number, onConnection: (socket: Socket) => void): Promise<ACNListener> {
    if (this.#closed) throw new AcnClosedError();
    await mkdir(this.#registry, { recursive: true, mode: 0o700 });
    const server: Server = createServer({ noDelay: true }, onConnection);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new AcnUnreachableError('listener has no TCP address');
    const path = this.#entryPath(identity.onion, port);
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify({ host: '127.0.0.1', port: address.port, pid: process.pid }), { mode: 0o600 });
    await rename(tmp, path); // atomic: readers never see a half-written entry
    const listeners = this.#listeners;
    const listener: ACNListener = {
      onion: identity.onion,
      port,
      async close() {
        listeners.delete(listener);
        await rm(path, { force: true });
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
    listeners.add(listener);
    return listener;
  }

  public async open(onion: OnionName, port: number, options: OpenOptions = {}): Promise<Socket> {
    if (this.#closed) throw new AcnClosedError();
    let entry: z.infer<typeof EntrySchema>;
    try {
      entry = EntrySchema.parse(JSON.parse(await readFile(this.#entryPath(onion, port), 'utf8')));
    } catch (cause) {
      throw new AcnUnreachableError(`${onion}:${port} is not published on this loopback network`, { cause });
    }
    const timeoutMs = options.timeoutMs ?? 30_000;
    return new Promise<Socket>((resolve, reject) => {
      const socket = createConnection({ host: entry.host, port: entry.port, noDelay: true });
      const fail = (error: Error): void => {
        cleanup();
        socket.destroy();
        reject(error);
      };
      const onAbort = (): void => fail(new AcnUnreachableError('open aborted'));
      const timer = setTimeout(() => fail(new AcnTimeoutError(`opening ${onion}:${port} timed out`)), timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        socket.off('error', onError);
      };
      const onError = (cause: Error): void => fail(new AcnUnreachableError(`${onion}:${port} refused the connection`, { cause }));
      options.signal?.addEventListener('abort', onAbort, { once: true });
      socket.once('error', onError);
      socket.once('connect', () => {
        cleanup();
        resolve(socket);
      });
    });
  }

  public bootstrapStatus(): Promise<BootstrapStatus> {
    return Promise.resolve({ progress: 100, summary: 'loopback network ready' });
  }

  /** Nothing underneath can go down: 'up' until close(). */
  public status(): AcnStatus {
    return Object.freeze({
      state: this.#closed ? 'closed' : 'up',
      bootstrap: { progress: 100, summary: 'loopback network ready' },
      version: null,
      circuitsOk: !this.#closed,
      outages: 0,
      lastDownAt: null,
      lastUpAt: null,
      lastError: null,
    });
  }

  public onStatus(listener: (status: AcnStatus) => void): () => void {
    this.#statusListeners.add(listener);
    return () => {
      this.#statusListeners.delete(listener);
    };
  }

  public async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      for (const listener of [...this.#statusListeners]) listener(this.status());
    }
    await Promise.allSettled([...this.#listeners].map((l) => l.close()));
  }
}
