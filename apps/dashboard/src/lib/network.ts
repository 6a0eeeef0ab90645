import { formatTime } from './format.js';
import type { NetworkStatus, NetworkView } from './types.js';

/**
 * The node's network in words, for Health: which network, whether tor is connected and
 * bootstrapped, whether it has circuits, and its outages. A tor restart reads as "reconnecting
 * to tor" and then as connected again with one more outage counted.
 */
export function describeNetwork(kind: NetworkView['kind'], status: NetworkStatus | null): { headline: string; details: string[] } {
  if (kind === 'loopback') return { headline: 'loopback network (development: peers on this machine only, no Tor)', details: [] };
  if (status === null) return { headline: 'Tor (no status reported)', details: [] };
  const tor = status.version ? `Tor ${status.version}` : 'Tor';
  const details: string[] = [];
  if (status.bootstrap && status.bootstrap.progress < 100) details.push(`bootstrapping ${status.bootstrap.progress} %: ${status.bootstrap.summary}`);
  if (status.state === 'up') details.push(status.circuitsOk ? 'circuits established' : 'no circuit yet: peers may be unreachable');
  if (status.outages > 0) {
    const last = status.lastDownAt !== null ? `, last lost ${formatTime(status.lastDownAt)}` : '';
    const back = status.state === 'up' && status.lastUpAt !== null ? `, back since ${formatTime(status.lastUpAt)}` : '';
    details.push(`${status.outages} ${status.outages === 1 ? 'outage' : 'outages'} since start${last}${back}`);
  }
  const headline =
    status.state === 'up'
      ? `${tor}: connected`
      : status.state === 'down'
        ? `${tor}: connection lost${status.lastError ? ` (${status.lastError})` : ''}, reconnecting`
        : status.state === 'connecting'
          ? `${tor}: connecting`
          : `${tor}: stopped`;
  return { headline, details };
}
