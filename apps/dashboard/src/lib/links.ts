import { ref, shallowRef, type Ref, type ShallowRef } from 'vue';
import { ApiError, type ApiClient } from './api.js';
import type { Live } from './live.js';
import { RoleIdSchema, type Rules } from './rules-engine.js';
import { roleTitle } from './rules-text.js';
import type {
  LinkGrant,
  LinkModel,
  LinkOfferInput,
  LinkOfferModel,
  LinkOfferPreview,
  LinkSend,
  LinkTaskInput,
  LinkTaskSent,
  OpenLinkInput,
  RoleModel,
  VouchInput,
  VouchIssued,
} from './types.js';
import type { Translate } from './words.js';
import { coalesced } from './coalesce.js';

/**
 * Links between pursuances. Each side makes an offer (the current key of a role it holds, and a
 * new inbox) and gives its text to the other over a channel they trust; each pastes the other's,
 * compares the anchor key's id with them out of band, and opens the link with the role mapping:
 * what their roles may do here, and which of our roles send to which of theirs. Their role ids
 * are theirs: our rules do not know them, so they are shown as ids.
 */

/** An offer's text starts with this (packages/pursuance link.ts `LINK_OFFER_PREFIX`). */
export const LINK_OFFER_PREFIX = 'pursuance-link:1:';

/**
 * The offer in pasted text: the node takes the bare offer only, but people paste it with the
 * words of the message it came in. Null when there is none (the node would refuse the text).
 */
export function offerIn(text: string): string | null {
  return /pursuance-link:1:[A-Za-z0-9_-]*/.exec(text)?.[0] ?? null;
}

/** What the node takes (apps/node/src/http/schemas.ts `LinkOfferBody`, `OpenLinkBody`). */
export const LINK = {
  days: { min: 1, max: 7, initial: 7 },
  /** Grants, and sending pairs, a link may have (each). */
  pairsMax: 32,
} as const;

export const isPursuanceId = (s: string): boolean => /^[0-9a-f]{64}$/.test(s);
export const isRoleId = (s: string): boolean => RoleIdSchema.safeParse(s).success;

/** A key id in groups of four, to be read aloud and compared. */
export function groupKeyId(hex: string): string {
  return (hex.match(/.{1,4}/g) ?? []).join(' ');
}

/** The mapping in plain words: what their roles may do here, then what ours send them. */
export function mappingWords(m: { readonly theyMay: readonly LinkGrant[]; readonly weSend: readonly LinkSend[] }, rules: Rules | null, t: Translate): string[] {
  const ours = (id: string) => roleTitle(rules, id);
  return [
    ...(m.theyMay.length
      ? m.theyMay.map((g) => t(g.action === 'vouch' ? 'links.words.theyMayVouch' : 'links.words.theyMay', { their: g.theirRole, ours: ours(g.on) }))
      : [t('links.words.theyMayNothing')]),
    ...(m.weSend.length ? m.weSend.map((w) => t('links.words.weSend', { ours: ours(w.ours), theirs: w.theirs })) : [t('links.words.weSendNothing')]),
  ];
}

/**
 * What to know before opening with this mapping, beyond the words: a role of ours their tasks
 * would be sealed to that has no published key (they cannot seal to it), a sending role nobody
 * holds, and a link already open (its mapping is replaced). A vouch is sealed to the applicant,
 * not to our role, so a vouching grant needs no key of ours.
 */
export function openNotes(
  m: { readonly theyMay: readonly LinkGrant[]; readonly weSend: readonly LinkSend[] },
  linked: boolean,
  roles: readonly RoleModel[],
  rules: Rules | null,
  t: Translate,
): string[] {
  const role = (id: string) => roles.find((r) => r.id === id);
  const title = (id: string) => roleTitle(rules, id);
  const sealedTo = [...new Set(m.theyMay.filter((g) => g.action === 'create').map((g) => g.on))].filter((id) => {
    const r = role(id);
    return !r || r.epoch < 0 || !r.publicKey;
  });
  const unheld = [...new Set(m.weSend.map((w) => w.ours))].filter((id) => (role(id)?.holders.length ?? 0) === 0);
  return [
    ...sealedTo.map((id) => t('links.open.noKey', { role: title(id) })),
    ...unheld.map((id) => t('links.open.noHolders', { role: title(id) })),
    ...(linked ? [t('links.open.replaces')] : []),
  ];
}

/** A sending pair of a link, and why it cannot send from here now (null when it can). */
export interface SendPair extends LinkSend {
  readonly problem: { readonly key: 'notOurs' | 'notTheirs' | 'expired'; readonly role: string } | null;
}

/**
 * The node signs with the current key of `ours` (its holders send for it) and seals to the key
 * their anchor announced for `theirs`: a pair lacking either is refused, so it is not offered.
 */
export function sendPairs(link: LinkModel, roles: readonly RoleModel[]): SendPair[] {
  return link.weSend.map((w) => {
    const mine = roles.find((r) => r.id === w.ours);
    const theirs = link.keys.find((k) => k.role === w.theirs);
    const problem =
      !mine || mine.epoch < 0 || !mine.iHoldKey || !mine.publicKey
        ? ({ key: 'notOurs', role: w.ours } as const)
        : !theirs
          ? ({ key: 'notTheirs', role: w.theirs } as const)
          : theirs.expired
            ? ({ key: 'expired', role: w.theirs } as const)
            : null;
    return { ours: w.ours, theirs: w.theirs, problem };
  });
}

/**
 * One pursuance's links and the offers made from this node, refetched on the pursuance's live
 * notices: `changed` (a link opened, closed, a task sent or carried in) and `sync` (the node's
 * link bookkeeping: announced, refused, waiting to be posted). `supported` turns false on a node
 * without the routes.
 */
export interface Links {
  readonly links: ShallowRef<readonly LinkModel[]>;
  readonly offers: ShallowRef<readonly LinkOfferModel[]>;
  /** Read once (or failed). */
  readonly loaded: Ref<boolean>;
  readonly supported: Ref<boolean>;
  readonly loadError: ShallowRef<ApiError | null>;
  load(): Promise<void>;
  offer(spec: LinkOfferInput): Promise<LinkOfferModel>;
  open(spec: OpenLinkInput): Promise<LinkModel>;
  close(peer: string): Promise<void>;
  send(peer: string, spec: LinkTaskInput): Promise<LinkTaskSent>;
  /** A vouch for an applicant to join them: nothing of the link changes, so nothing is read again. */
  vouch(peer: string, spec: VouchInput): Promise<VouchIssued>;
  /** Stop following the live notices (the view unmounts). */
  stop(): void;
}

export interface LinksDeps {
  readonly api: Pick<ApiClient, 'links' | 'linkOffers' | 'makeLinkOffer' | 'openLink' | 'closeLink' | 'sendLinkTask' | 'vouch'>;
  readonly live: Pick<Live, 'onChanged' | 'onSync'>;
}

export function createLinks(deps: LinksDeps, pursuanceId: string): Links {
  const links = shallowRef<readonly LinkModel[]>([]);
  const offers = shallowRef<readonly LinkOfferModel[]>([]);
  const loaded = ref(false);
  const supported = ref(true);
  const loadError = shallowRef<ApiError | null>(null);
  // Loads are serialised: notices during a load ask for one more afterwards, no more.

  const once = async (): Promise<void> => {
    try {
      const [l, o] = await Promise.all([deps.api.links(pursuanceId), deps.api.linkOffers(pursuanceId)]);
      links.value = l;
      offers.value = o;
      loadError.value = null;
    } catch (err) {
      const e = ApiError.from(err);
      if (e.status === 404 && e.code === 'NOT_FOUND') supported.value = false;
      else loadError.value = e;
    } finally {
      loaded.value = true;
    }
  };
  const load = coalesced(once);
  const mine = (e: { readonly pursuanceId: string }) => {
    if (e.pursuanceId === pursuanceId) void load();
  };
  const offChanged = deps.live.onChanged(mine);
  const offSync = deps.live.onSync(mine);

  return {
    links,
    offers,
    loaded,
    supported,
    loadError,
    load,
    stop() {
      offChanged();
      offSync();
    },
    async offer(spec) {
      const made = await deps.api.makeLinkOffer(pursuanceId, spec);
      // Shown at once, whatever the list's next read says — once: a read a live notice started
      // may already have brought it in (the dashboard showed the offer twice until the next read).
      offers.value = [made, ...offers.value.filter((o) => o.text !== made.text)];
      await load();
      return made;
    },
    async open(spec) {
      const link = await deps.api.openLink(pursuanceId, spec);
      links.value = [...links.value.filter((l) => l.peer !== link.peer), link];
      await load();
      return link;
    },
    async close(peer) {
      await deps.api.closeLink(pursuanceId, peer);
      links.value = links.value.filter((l) => l.peer !== peer);
      await load();
    },
    async send(peer, spec) {
      const sent = await deps.api.sendLinkTask(pursuanceId, peer, spec);
      await load();
      return sent;
    },
    vouch: (peer, spec) => deps.api.vouch(pursuanceId, peer, spec),
  };
}

/** Reading a pasted offer: the node checks it; a read overtaken by a newer one is dropped. */
export interface OfferReading {
  readonly preview: ShallowRef<LinkOfferPreview | null>;
  /** The node's refusal of the text (400 INVALID_LINK_OFFER with its reason). */
  readonly error: ShallowRef<ApiError | null>;
  readonly reading: Ref<boolean>;
  read(offer: string): Promise<void>;
  clear(): void;
}

export function createOfferReading(api: Pick<ApiClient, 'previewLinkOffer'>, pursuanceId: string): OfferReading {
  const preview = shallowRef<LinkOfferPreview | null>(null);
  const error = shallowRef<ApiError | null>(null);
  const reading = ref(false);
  let seq = 0;
  const clear = (): void => {
    seq += 1;
    preview.value = null;
    error.value = null;
    reading.value = false;
  };
  return {
    preview,
    error,
    reading,
    clear,
    async read(offer) {
      const n = ++seq;
      reading.value = true;
      try {
        const p = await api.previewLinkOffer(pursuanceId, offer);
        if (n !== seq) return;
        preview.value = p;
        error.value = null;
      } catch (err) {
        if (n !== seq) return;
        preview.value = null;
        error.value = ApiError.from(err);
      } finally {
        if (n === seq) reading.value = false;
      }
    },
  };
}

/** A row of the mapping editor: what their role may do here (create tasks for our `on`, or vouch for applicants it reviews). */
export interface GrantRow {
  readonly theirRole: string;
  readonly action: LinkGrant['action'];
  readonly on: string;
}
/** A row of the mapping editor: our role that sends to their role. */
export interface SendRow {
  readonly ours: string;
  readonly theirs: string;
}
export type RowProblem = 'incomplete' | 'roleInvalid' | 'duplicate' | null;

/**
 * Each row's problem: their role id not one (they are typed), a field left empty, or a row the
 * link would name twice (the node refuses that). `kind` tells rows apart beyond the two roles:
 * a grant to create tasks and one to vouch on the same pair are two grants.
 */
function problems<R>(rows: readonly R[], theirs: (r: R) => string, ours: (r: R) => string, kind: (r: R) => string = () => ''): RowProblem[] {
  const seen = new Set<string>();
  return rows.map((r) => {
    const their = theirs(r).trim();
    if (their !== '' && !isRoleId(their)) return 'roleInvalid';
    if (their === '' || ours(r) === '') return 'incomplete';
    const key = `${their} ${kind(r)} ${ours(r)}`;
    if (seen.has(key)) return 'duplicate';
    seen.add(key);
    return null;
  });
}
export const grantProblems = (rows: readonly GrantRow[]): RowProblem[] =>
  problems(
    rows,
    (r) => r.theirRole,
    (r) => r.on,
    (r) => r.action,
  );
export const sendProblems = (rows: readonly SendRow[]): RowProblem[] =>
  problems(
    rows,
    (r) => r.theirs,
    (r) => r.ours,
  );

/** The mapping the rows make, as the node takes it. */
export function mappingOf(theyMay: readonly GrantRow[], weSend: readonly SendRow[]): { theyMay: LinkGrant[]; weSend: LinkSend[] } {
  return {
    theyMay: theyMay.map((g) => ({ theirRole: g.theirRole.trim(), action: g.action, on: g.on })),
    weSend: weSend.map((w) => ({ ours: w.ours, theirs: w.theirs.trim() })),
  };
}

/** A v3 onion name (56 characters of base32), with or without ".onion": an applicant's node address. */
export const isApplicantAddress = (s: string): boolean => /^[a-z2-7]{56}(\.onion)?$/.test(s.trim().toLowerCase());
