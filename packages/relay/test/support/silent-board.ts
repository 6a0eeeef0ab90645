import type { Socket } from 'node:net';
import { Identity, type OnionName } from '@pursuance/crypto';
import { ApplicationChain, AuthApp, TAPIR_PORT, TapirService, type ACN, type Connection } from '@pursuance/tapir';
import { encodeReplayResult, parseBoardRequest, type BoardRequest } from '../../src/board-protocol.js';

/**
 * A board that authenticates and then stops answering while keeping every connection open:
 * a frozen relay, as a client sees it. Replays can be answered (empty) so a client gets synced
 * before the silence; requests are recorded.
 */
export interface SilentBoard {
  readonly onion: OnionName;
  readonly requests: BoardRequest[];
  /** Board connections the server still holds open. */
  readonly connections: () => Connection[];
  close(): Promise<void>;
}

export async function silentBoard(acn: ACN, options: { identity?: Identity; answerReplays?: boolean } = {}): Promise<SilentBoard> {
  const service = new TapirService(acn, options.identity ?? Identity.generate());
  const requests: BoardRequest[] = [];
  await service.listen(
    () =>
      new ApplicationChain([new AuthApp()], {
        name: 'silent-board',
        async run(conn) {
          for (;;) {
            const request = parseBoardRequest(await conn.expect());
            requests.push(request);
            if (request.kind === 'replay' && options.answerReplays === true) await conn.send(encodeReplayResult(0));
          }
        },
      }),
  );
  return {
    onion: service.onion,
    requests,
    connections: () => service.connections().filter((c) => !c.isClosed),
    close: () => service.close(),
  };
}

/** An onion whose streams are accepted on 127.0.0.1 and never answered (not even the handshake). */
export interface MuteListener {
  readonly onion: OnionName;
  /** Sockets accepted and not yet closed (by the client). */
  readonly open: Set<Socket>;
  readonly accepted: () => number;
  close(): Promise<void>;
}

export async function muteListener(acn: ACN, identity: Identity = Identity.generate()): Promise<MuteListener> {
  const open = new Set<Socket>();
  let accepted = 0;
  const listener = await acn.listen(identity, TAPIR_PORT, (socket) => {
    accepted += 1;
    open.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => open.delete(socket));
    // Read and discard, so the client's writes never block: it must be the silence that stalls it.
    socket.resume();
  });
  return {
    onion: identity.onion,
    open,
    accepted: () => accepted,
    async close() {
      for (const socket of open) socket.destroy();
      await listener.close();
    },
  };
}
