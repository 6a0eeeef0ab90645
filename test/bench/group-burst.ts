import { TEST_SCRYPT_PARAMS } from '@pursuance/crypto';
import { CwtchPeer, MemoryProfileStore, OVERLAY } from '@pursuance/cwtch';
import type { ACN } from '@pursuance/tapir';
import { timeAsync } from './measure.js';

/**
 * A fresh peer (empty token wallet) with a group on the relay posts `count` chat messages at
 * once; the time runs from the first post until the relay acknowledged the last as durable.
 */
export async function burstOnce(acn: ACN, bundle: string, count: number, window: number): Promise<number> {
  const peer = await CwtchPeer.create({
    store: new MemoryProfileStore(),
    acn,
    password: 'bench',
    displayName: 'poster',
    scryptParams: TEST_SCRYPT_PARAMS,
    relayClient: { window },
  });
  try {
    const relay = await peer.addRelay(bundle);
    const groupId = await peer.createGroup({ name: 'burst', relay });
    const synced = new Promise<void>((resolve) => peer.once('relaySynced', () => resolve()));
    await peer.start();
    await synced;
    const acked = new Set<string>();
    let check = (): void => undefined;
    peer.on('groupMessagePosted', ({ signature }) => {
      acked.add(signature);
      check();
    });
    const { seconds } = await timeAsync(async () => {
      const posts = await Promise.all(Array.from({ length: count }, (_, i) => peer.postToGroup(groupId, { o: OVERLAY.chat, d: `burst ${i}` })));
      const wanted = posts.flatMap((p) => p.parts);
      await new Promise<void>((resolve) => {
        check = () => {
          if (wanted.every((s) => acked.has(s))) resolve();
        };
        check();
      });
    });
    return seconds;
  } finally {
    await peer.stop();
  }
}
