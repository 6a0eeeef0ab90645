/**
 * A relay's key bundle as a person pastes it: the bundle alone, or the whole line a relay or the
 * demo printed it on (`key-bundle …`, `relay bundle …`), surrounding spaces ignored. One place
 * for the API's schema and the CLI's --relay.
 */
export function relayBundleText(text: string): string {
  return text.trim().replace(/^(?:key-bundle|relay bundle)\s+/, '');
}
