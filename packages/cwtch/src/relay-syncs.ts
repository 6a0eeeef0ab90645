import { importKeyBundle } from '@pursuance/relay';
import type { ACN } from '@pursuance/tapir';
import { RelayUnknownError } from './errors.js';
import type { GroupManager } from './group-manager.js';
import { codeOf, type PeerEvents, type PeerLifecycle } from './peer-context.js';
import type { RetryPolicy } from './protocol-profile.js';
import type { RelayBook } from './relay-book.js';
import { RelaySync, type RelaySyncOptions } from './relay-sync.js';
import type { RepairScheduler } from './repair-scheduler.js';

/**
 * One RelaySync per relay our groups live on, created on first need and started once the peer
 * is: every message it brings goes through the group receive pipeline, the relay cursor
 * advances behind it, and gaps it reveals are scheduled for repair.
 */
export interface RelaySyncsOptions {
  readonly acn: ACN;
  readonly groups: GroupManager;
  readonly relays: RelayBook;
  readonly repairs: RepairScheduler;
  readonly events: PeerEvents;
  readonly lifecycle: PeerLifecycle;
  readonly retry: RetryPolicy;
  readonly client: RelaySyncOptions['client'];
}

export class RelaySyncs {
  readonly #options: RelaySyncsOptions;
  readonly #syncs = new Map<string, RelaySync>();

  public constructor(options: RelaySyncsOptions) {
    this.#options = options;
  }

  /** The relay's sync, created (and, once the peer runs, started) if there is none yet. */
  public ensure(relay: string): RelaySync {
    const existing = this.#syncs.get(relay);
    if (existing !== undefined) return existing;
    const { groups, events, repairs, lifecycle } = this.#options;
    const record = this.#options.relays.get(relay);
    if (record === undefined) throw new RelayUnknownError();
    const created = new RelaySync({
      acn: this.#options.acn,
      bundle: importKeyBundle(record.bundle),
      cursor: () => groups.cursor(relay),
      onBucket: (bucket) => {
        if (groups.setBucket(relay, bucket)) events.emit('relayFrontier', { relay, bucket });
      },
      retry: this.#options.retry,
      ...(this.#options.client === undefined ? {} : { client: this.#options.client }),
      onMessage: (message, phase) => {
        const outcome = groups.receiveFromRelay(relay, message);
        groups.setCursor(relay, message.signature);
        if (phase === 'live' && outcome.kind === 'accepted' && outcome.newGap !== undefined) repairs.schedule(outcome.groupId);
      },
    });
    this.#syncs.set(relay, created);
    created.on('synced', (count) => {
      events.emit('relaySynced', { relay, count });
      for (const state of groups.onRelay(relay)) if (state.log.missing().length > 0) repairs.schedule(state.record.id);
    });
    created.on('down', (error) => events.emit('relayDown', { relay, code: error === undefined ? undefined : codeOf(error) }));
    created.on('posted', (signature) => events.emit('groupMessagePosted', { relay, signature }));
    created.on('postFailed', (_signature, error) => events.emit('warning', { code: codeOf(error), where: 'relay-post' }));
    if (lifecycle.started && !lifecycle.stopped) {
      created.start();
      // Our posts the relay never echoed (we stopped, or crashed, first) go out again.
      void groups.unacknowledgedPosts(relay).then(
        (messages) => messages.forEach((m) => created.post(m)),
        (err: unknown) => events.emit('warning', { code: codeOf(err), where: 'group-outbox' }),
      );
    }
    return created;
  }

  public isSynced(relay: string): boolean {
    return this.#syncs.get(relay)?.isSynced ?? false;
  }

  public async stop(): Promise<void> {
    await Promise.allSettled([...this.#syncs.values()].map((s) => s.stop()));
  }
}
