import type { NetworkStatus, NetworkView } from './types.js';
import { englishWords, type Words } from './words.js';

/**
 * The node's network in words, for Health: which network, whether tor is connected and
 * bootstrapped, whether it has circuits, and its outages. A tor restart reads as "reconnecting
 * to tor" and then as connected again with one more outage counted. In the words given
 * (`pursuance.network.*`), English without them.
 */
export function describeNetwork(
  kind: NetworkView['kind'],
  status: NetworkStatus | null,
  words: Words = englishWords(),
): { headline: string; details: string[] } {
  const { t, time } = words;
  const w = (key: string, named?: Record<string, unknown>) => t(`pursuance.network.${key}`, named);
  if (kind === 'loopback') return { headline: w('loopback'), details: [] };
  if (status === null) return { headline: w('noStatus'), details: [] };
  const tor = status.version ? w('torVersion', { version: status.version }) : w('tor');
  const details: string[] = [];
  if (status.bootstrap && status.bootstrap.progress < 100)
    details.push(w('bootstrapping', { progress: status.bootstrap.progress, summary: status.bootstrap.summary }));
  if (status.state === 'up') details.push(w(status.circuitsOk ? 'circuits' : 'noCircuit'));
  if (status.outages > 0) {
    const last = status.lastDownAt !== null ? w('lastLost', { time: time(status.lastDownAt) }) : '';
    const back = status.state === 'up' && status.lastUpAt !== null ? w('backSince', { time: time(status.lastUpAt) }) : '';
    details.push(t('pursuance.network.outages', { n: status.outages, last, back }, status.outages));
  }
  const headline =
    status.state === 'up'
      ? w('connected', { tor })
      : status.state === 'down'
        ? status.lastError
          ? w('lostWithError', { tor, error: status.lastError })
          : w('lost', { tor })
        : w(status.state === 'connecting' ? 'connecting' : 'stopped', { tor });
  return { headline, details };
}
