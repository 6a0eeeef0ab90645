import { EventEmitter } from 'node:events';
import { fromHex, type OnionName } from '@pursuance/crypto';
import type { EncryptedGroupMessage } from '@pursuance/relay';
import { CwtchError, PeerMessageInvalidError, RequestTimeoutError, PeerUnreachableError } from './errors.js';
import type { GroupManager, GroupState } from './group-manager.js';
import type { PeerLink, PeerLinks } from './peer-links.js';
import { newMessageId, type PeerMessage } from './peer-protocol.js';
import { MAX_REPAIR_ROUNDS, MAX_REPAIR_SIGNATURES_PER_REQUEST, PEER_CONTEXT } from './protocol-profile.js';
import { encodeRepairAnswer, encodeRepairRequest, parseRepairAnswer, parseRepairRequest } from './repair-protocol.js';

/**
 * Gap repair: when a group's log references signatures it never saw, ask other members over
 * p2p for exactly those messages, verify each answer as if it came from the relay (group key,
 * sender signature over group id ‖ relay ‖ ciphertext, member list), and insert it. A repaired
 * message may point at one we lack too, so repair runs in rounds. Signatures no reachable
 * member could supply are reported as "possibly withheld by the relay".
 *
 * The serving side answers a member's request with the messages it holds, and nothing to
 * anyone outside the group.
 */
export const WITHHELD_REASON = 'possibly withheld by the relay';

export interface RepairOutcome {
  readonly groupId: string;
  readonly repaired: readonly string[];
  readonly unrepaired: readonly string[];
}

export interface RepairEvents {
  repaired: [{ groupId: string; signatures: string[]; from: OnionName }];
  unrepaired: [{ groupId: string; signatures: string[]; reason: typeof WITHHELD_REASON }];
  /** A repair run finished (whatever its outcome). */
  finished: [RepairOutcome];
}

export interface RepairEngineOptions {
  readonly groups: GroupManager;
  readonly links: PeerLinks;
  readonly self: OnionName;
  readonly requestTimeoutMs: number;
  /** May `onion` receive this group's messages from us? */
  readonly mayServe: (onion: OnionName, group: GroupState) => boolean;
  /** Whom to ask for this group's missing messages (never ourselves). */
  readonly candidates: (group: GroupState) => readonly OnionName[];
}

interface PendingRequest {
  readonly onion: OnionName;
  readonly limit: number;
  readonly answers: EncryptedGroupMessage[];
  resolve(answers: EncryptedGroupMessage[]): void;
  reject(error: Error): void;
}

export class RepairEngine extends EventEmitter<RepairEvents> {
  readonly #options: RepairEngineOptions;
  readonly #pending = new Map<string, PendingRequest>();
  readonly #running = new Map<string, Promise<RepairOutcome>>();
  readonly #queued = new Map<string, Promise<RepairOutcome>>();
  /** Per group: signatures a completed run could not repair. */
  readonly #withheld = new Map<string, Set<string>>();
  #stopped = false;

  public constructor(options: RepairEngineOptions) {
    super();
    this.#options = options;
  }

  /** Signatures of `groupId` still missing after a full repair run. */
  public withheld(groupId: string): string[] {
    const log = this.#options.groups.get(groupId).log;
    return [...(this.#withheld.get(groupId) ?? [])].filter((s) => !log.has(s)).sort();
  }

  /** Repair `groupId` now (joining a run in progress, and running once more after it). */
  public repair(groupId: string): Promise<RepairOutcome> {
    const running = this.#running.get(groupId);
    if (running === undefined) return this.#start(groupId);
    let queued = this.#queued.get(groupId);
    if (queued === undefined) {
      queued = running
        .catch(() => undefined)
        .then(() => {
          this.#queued.delete(groupId);
          return this.#start(groupId);
        });
      this.#queued.set(groupId, queued);
    }
    return queued;
  }

  #start(groupId: string): Promise<RepairOutcome> {
    const run = this.#run(groupId).finally(() => this.#running.delete(groupId));
    this.#running.set(groupId, run);
    return run;
  }

  async #run(groupId: string): Promise<RepairOutcome> {
    const { groups, self } = this.#options;
    const state = groups.get(groupId);
    const repaired: string[] = [];
    const unreachable = new Set<OnionName>();
    for (let round = 0; round < MAX_REPAIR_ROUNDS && !this.#stopped; round++) {
      if (state.log.missing().length === 0) break;
      const candidates = this.#options.candidates(state).filter((o) => o !== self);
      let progress = false;
      for (const onion of candidates) {
        if (unreachable.has(onion) || this.#stopped) continue;
        const want = state.log.missing().sort();
        if (want.length === 0) break;
        for (let i = 0; i < want.length; i += MAX_REPAIR_SIGNATURES_PER_REQUEST) {
          const chunk = want.slice(i, i + MAX_REPAIR_SIGNATURES_PER_REQUEST);
          let answers: EncryptedGroupMessage[];
          try {
            answers = await this.#ask(onion, groupId, chunk);
          } catch {
            unreachable.add(onion);
            break;
          }
          const requested = new Set(chunk);
          const got: string[] = [];
          for (const answer of answers) {
            const outcome = groups.receiveFromPeer(groupId, answer, requested);
            if (outcome.kind === 'accepted') got.push(outcome.signature);
          }
          if (got.length > 0) {
            progress = true;
            repaired.push(...got);
            this.emit('repaired', { groupId, signatures: got, from: onion });
          }
        }
      }
      if (!progress) break;
    }
    await groups.flush();
    const unrepaired = state.log.missing().sort();
    this.#withheld.set(groupId, new Set(unrepaired));
    if (unrepaired.length > 0) this.emit('unrepaired', { groupId, signatures: unrepaired, reason: WITHHELD_REASON });
    const outcome: RepairOutcome = { groupId, repaired, unrepaired };
    this.emit('finished', outcome);
    return outcome;
  }

  async #ask(onion: OnionName, groupId: string, signatures: string[]): Promise<EncryptedGroupMessage[]> {
    const link = await this.#options.links.connect(onion);
    const id = newMessageId();
    const answered = new Promise<EncryptedGroupMessage[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new RequestTimeoutError('repair request was not answered in time'));
      }, this.#options.requestTimeoutMs);
      const done =
        <T>(fn: (v: T) => void) =>
        (v: T) => {
          clearTimeout(timer);
          this.#pending.delete(id);
          fn(v);
        };
      this.#pending.set(id, { onion, limit: signatures.length, answers: [], resolve: done(resolve), reject: done(reject) });
      void link.connection.closed.then(() => this.#pending.get(id)?.reject(new PeerUnreachableError('link closed during repair')));
    });
    await link.send({ id, context: PEER_CONTEXT.groupSyncRequest, data: encodeRepairRequest({ groupId, signatures: signatures.map(fromHex) }) });
    return answered;
  }

  /** Handle a repair-protocol PeerMessage from `link`. Returns false if the context is not ours. */
  public handle(link: PeerLink, message: PeerMessage): boolean {
    switch (message.context) {
      case PEER_CONTEXT.groupSyncRequest:
        void this.#serve(link, message).catch(() => undefined);
        return true;
      case PEER_CONTEXT.groupSyncMessage: {
        const pending = this.#pending.get(message.id);
        if (pending?.onion !== link.onion) return true;
        try {
          if (pending.answers.length >= pending.limit) throw new PeerMessageInvalidError('more answers than signatures asked for');
          pending.answers.push(parseRepairAnswer(message.data));
        } catch (err) {
          pending.reject(err instanceof CwtchError ? err : new PeerMessageInvalidError('bad repair answer'));
        }
        return true;
      }
      case PEER_CONTEXT.groupSyncEnd: {
        const pending = this.#pending.get(message.id);
        if (pending?.onion === link.onion) pending.resolve(pending.answers);
        return true;
      }
      default:
        return false;
    }
  }

  async #serve(link: PeerLink, message: PeerMessage): Promise<void> {
    const { groups, mayServe } = this.#options;
    let request;
    try {
      request = parseRepairRequest(message.data);
    } catch {
      await link.send({ id: message.id, context: PEER_CONTEXT.groupSyncEnd, data: new Uint8Array(0) });
      return;
    }
    // Unknown group or an asker outside it: the same empty answer, so the reply does not reveal
    // whether we are in a group with that id.
    const state = groups.has(request.groupId) ? groups.get(request.groupId) : undefined;
    if (state !== undefined && mayServe(link.onion, state)) {
      for (const signature of request.signatures) {
        const stored = await groups.storedMessage(request.groupId, Buffer.from(signature).toString('hex'));
        if (stored !== undefined) await link.send({ id: message.id, context: PEER_CONTEXT.groupSyncMessage, data: encodeRepairAnswer(stored) });
      }
    }
    await link.send({ id: message.id, context: PEER_CONTEXT.groupSyncEnd, data: new Uint8Array(0) });
  }

  public stop(): void {
    this.#stopped = true;
    for (const pending of [...this.#pending.values()]) pending.reject(new PeerUnreachableError('peer stopped'));
  }
}
