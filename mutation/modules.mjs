// The security-critical modules under mutation testing: which sources are mutated and which
// test files judge them. Tests are listed per module (not found through vitest's `related`)
// because every package imports crypto: `related` would pull in the whole suite.
export const MODULES = {
  crypto: {
    mutate: ['ed25519', 'x25519', 'nacl', 'anonymous-box', 'onion', 'canonical', 'padding', 'kdf', 'scrypt'].map((f) => `packages/crypto/src/${f}.ts`),
    tests: ['packages/crypto/test/**/*.test.ts'],
  },
  tapir: {
    mutate: ['auth', 'frame', 'channel-cipher', 'pow'].map((f) => `packages/tapir/src/${f}.ts`),
    // The control-port and TorACN tests drive the tor client only; they cover none of these files.
    tests: ['packages/tapir/test/**/*.test.ts', '!packages/tapir/test/tor-control-*.test.ts', '!packages/tapir/test/tor-acn-fake.test.ts'],
  },
  relay: {
    mutate: ['voprf', 'tokens', 'token-service', 'token-protocol', 'board-protocol', 'board-server'].map((f) => `packages/relay/src/${f}.ts`),
    tests: ['packages/relay/test/**/*.test.ts'],
  },
  // Tapir wire v3's replay-proof channels: per-direction keys from the 3DH result and the
  // transcript, counter nonces checked in order, and the diagnosis of what a refused packet was.
  // Judged by the tests that build packets and sessions (the whole tapir suite would pay for the
  // admission and tor tests on every mutant).
  channel: {
    mutate: ['auth', 'frame', 'channel-cipher', 'connection'].map((f) => `packages/tapir/src/${f}.ts`),
    tests: ['channel-replay', 'frame', 'frame-crypto', 'tapir.mutants', 'handshake', 'auth-hostile'].map((f) => `packages/tapir/test/${f}.test.ts`),
  },
  // Tapir wire v2's admission: proof of work before any handshake work, tickets, the eviction
  // order that favours payers.
  admission: {
    mutate: ['packages/tapir/src/admission.ts', 'packages/relay/src/renewal.ts'],
    tests: ['packages/tapir/test/admission.test.ts', 'packages/relay/test/renewal.test.ts'],
  },
  // Token key epochs: the schedule, the commitment that stops per-client keys, the bundle that
  // carries it, and the client checks on every purchase.
  epochs: {
    mutate: ['token-epochs', 'key-bundle', 'token-purchase', 'token-wallet'].map((f) => `packages/relay/src/${f}.ts`),
    tests: ['packages/relay/test/token-epochs.test.ts', 'packages/relay/test/key-bundle.test.ts', 'packages/relay/test/relay.test.ts'],
  },
  // The one strict JSON/base64 codec: judged by its own tests and by the relay's, whose wire
  // formats are the strictest users (exact-size fields, hostile payloads).
  codec: {
    mutate: ['packages/codec/src/json.ts', 'packages/codec/src/fields.ts'],
    tests: ['packages/codec/test/**/*.test.ts', 'packages/relay/test/board-protocol.test.ts', 'packages/relay/test/relay.mutants.test.ts'],
  },
  cwtch: {
    mutate: ['group-envelope', 'group-log', 'repair', 'repair-protocol'].map((f) => `packages/cwtch/src/${f}.ts`),
    tests: ['packages/cwtch/test/**/*.test.ts'],
  },
  pursuance: {
    // The applier was split into fold/ (one module per section of the rules, the dispatch table
    // and the fold run, formerly inside log.ts); permissions.ts is the kind→capability table.
    mutate: [
      'envelope',
      'permissions',
      'fold/context',
      'fold/dispatch',
      'fold/applier',
      'fold/membership',
      'fold/governance',
      'fold/keys',
      'fold/tasks',
      'fold/run',
      'log',
      'author',
    ].map((f) => `packages/pursuance/src/${f}.ts`),
    tests: ['packages/pursuance/test/**/*.test.ts'],
    // Half of this module's ~1,900 mutants are static (module-level schemas and tables); each
    // would run the whole suite (~35 s): over 4 hours on two cores. They are skipped (Ignored
    // in the report); MUTATE_IGNORE_STATIC=0 runs them.
    ignoreStatic: true,
  },
  // Bucketed fetch: the frontier the board names (held back by posts still being stored, taken
  // when a ping is read), the fetch range, the signed bucket length and its pin upgrade, the
  // memory store's bucket marks, and the client's keeping of frontiers.
  buckets: {
    mutate: [
      'packages/relay/src/board-server.ts:104-147',
      'packages/relay/src/board-connection.ts:80-100',
      'packages/relay/src/board-connection.ts:126-143',
      'packages/relay/src/board-connection.ts:192-218',
      'packages/relay/src/board-session.ts:249-257',
      'packages/relay/src/board-session.ts:396-412',
      'packages/relay/src/memory-store.ts:55-175',
      'packages/relay/src/key-bundle.ts:55-95',
      'packages/relay/src/key-bundle.ts:160-175',
      'packages/relay/src/key-bundle.ts:205-275',
      'packages/cwtch/src/relay-sync.ts:140-172',
    ],
    tests: [
      'packages/relay/test/bucket-fetch.test.ts',
      'packages/relay/test/board-protocol.test.ts',
      'packages/relay/test/board-session.test.ts',
      'packages/relay/test/key-bundle.test.ts',
      'packages/relay/test/memory-store.test.ts',
      'packages/relay/test/relay.test.ts',
      'packages/relay/test/relay.mutants.test.ts',
      'packages/cwtch/test/relay-sync.test.ts',
      'packages/cwtch/test/relay-book.test.ts',
      'packages/cwtch/test/groups.test.ts',
    ],
  },
  // Rotations racing a departure their author had not seen: the fold keeps them, marks their key
  // as known to whoever left and makes the role due (fold/departures.ts, validateRotations),
  // and the key's maker rotates again (PursuanceAuthor.dueRotations). A narrow slice of the
  // pursuance module, judged by the whole pursuance suite (per-test coverage runs only the
  // tests that reach each mutant).
  departures: {
    mutate: ['packages/pursuance/src/fold/departures.ts', 'packages/pursuance/src/fold/keys.ts:44-82', 'packages/pursuance/src/author.ts:309-352'],
    tests: ['packages/pursuance/test/**/*.test.ts'],
  },
  // Write-only audiences: role public keys (derivation, the box sealed to a role, the key checks),
  // the proof of possession the fold checks, holders' planted-key check, and submissions (the
  // fold's checks, sealing and opening, the author's submit and retry).
  submissions: {
    mutate: [
      'packages/crypto/src/role-keys.ts',
      'packages/pursuance/src/keys.ts:73-150',
      'packages/pursuance/src/fold/submissions.ts',
      'packages/pursuance/src/submission.ts',
      'packages/pursuance/src/author.ts:582-612',
      'packages/pursuance/src/author.ts:881-892',
    ],
    tests: [
      'packages/crypto/test/role-keys.test.ts',
      'packages/pursuance/test/submissions.test.ts',
      'packages/pursuance/test/capabilities.test.ts',
      'packages/pursuance/test/templates.test.ts',
    ],
  },
  // Joining by request: the profile's checks (signature, proof of possession, expiry, text), the
  // fold's judgement of profile.publish, and the cheap screening and opening of requests and answers.
  'join-requests': {
    mutate: ['packages/pursuance/src/profile.ts', 'packages/pursuance/src/fold/profiles.ts', 'packages/pursuance/src/join-request.ts'],
    tests: ['packages/pursuance/test/join-requests.test.ts', 'packages/pursuance/test/capabilities.test.ts'],
  },
  // Removal precedence: a removal's late events ordered after it, void removals, and events
  // defeated where they must come first (the judge's refusal and the reason it gives).
  'removal-precedence': {
    mutate: ['packages/pursuance/src/fold/run.ts:273-274', 'packages/pursuance/src/fold/run.ts:469-526'],
    tests: ['packages/pursuance/test/fold.test.ts', 'packages/pursuance/test/malicious-property.test.ts'],
  },
  // Links between pursuances: the anchor pinned from an offer, its chain, other roles' keys,
  // renewals and forks; the record of a send; a task taken in with a role credential.
  links: {
    mutate: ['packages/pursuance/src/fold/links.ts', 'packages/pursuance/src/link.ts', 'packages/pursuance/src/link-post.ts'],
    tests: ['packages/pursuance/test/links.test.ts', 'packages/pursuance/test/capabilities.test.ts'],
  },
  // Vouches (J11): the vouch and its text, what B's links must say for one to hold, who may sign
  // one, and the lowered work of a vouched join request.
  vouch: {
    mutate: [
      'packages/pursuance/src/vouch.ts',
      'packages/pursuance/src/fold/links.ts:247-267',
      'packages/pursuance/src/author.ts:808-823',
      'packages/pursuance/src/join-request.ts:149-153',
      'packages/pursuance/src/join-request.ts:179-189',
      'packages/pursuance/src/join-request.ts:287-290',
      'packages/pursuance/src/join-request.ts:320-322',
    ],
    tests: ['packages/pursuance/test/vouch.test.ts', 'packages/pursuance/test/join-requests.test.ts'],
  },
  // Vouches through the node: the applicant's checks of a pasted vouch, and the gatekeeper's
  // judgement (held, spent, or dropped for too little work), the replay set and the queue's rank.
  'vouch-node': {
    mutate: [
      'apps/node/src/sync/admission.service.ts:479-479',
      'apps/node/src/sync/admission.service.ts:540-552',
      'apps/node/src/sync/admission.service.ts:609-610',
      'apps/node/src/sync/admission.service.ts:663-672',
      'apps/node/src/sync/admission.service.ts:676-679',
      'apps/node/src/sync/admission.service.ts:699-699',
      'apps/node/src/sync/admission.service.ts:743-745',
      'apps/node/src/sync/link.service.ts:499-511',
    ],
    tests: ['apps/node/test/vouch.test.ts'],
    ignoreStatic: true,
  },
  // Re-keying the group after a departure: which departures still wait for one, who may do it,
  // and the rendezvous order that picks one member (and the next, when it is offline).
  'departure-rekey': {
    mutate: ['apps/node/src/sync/rekey.ts:60-71', 'apps/node/src/sync/relay-links.ts:58-71', 'packages/pursuance/src/author.ts:183-188'],
    tests: ['apps/node/test/rekey.test.ts', 'apps/node/test/relay-links.test.ts'],
  },
  // Which role keys a member collects (issue 16: picked by kind from the events held): a kind
  // left out, a refused event read, or a lockbox not opened changes what a member can read.
  'keys-collected': {
    mutate: ['packages/pursuance/src/view.ts:111-142', 'packages/pursuance/src/view.ts:173-187'],
    tests: [
      'packages/pursuance/test/properties.test.ts',
      'packages/pursuance/test/findings.test.ts',
      'packages/pursuance/test/hostile-corpus.test.ts',
      'packages/pursuance/test/illegal-events.test.ts',
      'packages/pursuance/test/sliced-work.test.ts',
    ],
  },
  // The fold kept after a load and resumed (in slices) at the next start: a checkpoint taken as the fold
  // of events it is not the fold of would make this replica's state silently differ from every
  // other's. Judged by the tests that resume one against a full replay, in the core and the node.
  'fold-checkpoint': {
    mutate: [
      'packages/pursuance/src/fold/checkpoint.ts',
      'packages/pursuance/src/fold/run.ts:372-438',
      'packages/pursuance/src/log.ts:141-141',
      'packages/pursuance/src/log.ts:500-559',
      'apps/node/src/domain/registry.ts:419-419',
      'apps/node/src/domain/registry.ts:423-427',
      'apps/node/src/domain/registry.ts:434-442',
      'apps/node/src/domain/registry.ts:453-453',
      'apps/node/src/domain/registry.ts:495-503',
      'apps/node/src/domain/registry.ts:472-472',
      'apps/node/src/domain/registry.ts:507-570',
      'apps/node/src/store/event-store.ts:373-399',
    ],
    tests: ['packages/pursuance/test/fold-checkpoint.test.ts', 'apps/node/test/fold-checkpoint.test.ts'],
  },
  // The member view's incremental cache: a wrong "nothing changed" would show members stale or
  // unreadable content. Judged by the tests that compare it with the full rebuild.
  view: {
    mutate: ['packages/pursuance/src/view.ts:195-299'],
    tests: ['packages/pursuance/test/view-cache.test.ts', 'packages/pursuance/test/properties.test.ts', 'packages/pursuance/test/sliced-work.test.ts'],
  },
  node: {
    mutate: ['apps/node/src/http/security.guard.ts', 'apps/node/src/store/event-store.ts'],
    // The tests that exercise the guard (over HTTP) and the store; the other node tests start
    // whole nodes for unrelated behaviour and would only slow every mutant down.
    tests: ['api', 'token-hostile', 'event-store', 'at-rest', 'key-vault', 'quarantine', 'pending-refused', 'node.mutants', 'fold-checkpoint'].map(
      (f) => `apps/node/test/${f}.test.ts`,
    ),
  },
  // Links through the node: what a node carries in from an inbox (and skips), when it answers with
  // a receipt, which receipt stands, which node reads an inbox, and how sends and receipts match.
  'link-service': {
    mutate: ['apps/node/src/sync/link.service.ts:440-477', 'apps/node/src/sync/link.service.ts:702-932'],
    tests: ['apps/node/test/links.test.ts'],
    ignoreStatic: true,
  },
  // Persisted read models: the sealed rows (their tags bind each row to its pursuance and part)
  // and the start-up gate (which routes answer before the logs are loaded).
  projections: {
    mutate: ['apps/node/src/store/projection-store.ts', 'apps/node/src/http/security.guard.ts'],
    tests: ['projections', 'token-hostile', 'api'].map((f) => `apps/node/test/${f}.test.ts`),
    // Module-level constants and decorators: each such mutant reruns every test (hours on two cores).
    ignoreStatic: true,
  },
  // Joining by link: the link and message parsers (strangers' bytes) and the service that decides
  // who gets a pursuance's group. Judged by its unit tests (the system test is too slow per mutant).
  join: {
    mutate: ['apps/node/src/domain/join-link.ts', 'apps/node/src/sync/join-messages.ts', 'apps/node/src/sync/join.service.ts'],
    tests: ['apps/node/test/join.test.ts', 'apps/node/test/join-decisions.test.ts'],
  },
  // Snapshots a joiner starts from: the document and state codecs (peers' bytes), the stable
  // frontier, attestation counting with membership proofs, the checks against history, and the
  // hand-over's wire. Judged by their own tests (the core's property compares with full replays).
  snapshots: {
    mutate: [
      ...['state-codec', 'base', 'capture', 'attest', 'verify'].map((f) => `packages/pursuance/src/snapshot/${f}.ts`),
      'packages/pursuance/src/fold/snapshots.ts',
      'apps/node/src/sync/snapshot-transfer.ts',
    ],
    tests: ['packages/pursuance/test/snapshot.test.ts', 'apps/node/test/snapshot-transfer.test.ts'],
    // zod schemas at module level: each static mutant would rerun every test.
    ignoreStatic: true,
  },
  // How a log holds its events: headers decoded again from the encoding (the same value, or the
  // fold and every view read something else), the encodings' arena and its shelf, and the node's
  // sealed spill file behind it (a chunk given back wrong is an event read wrong).
  'held-events': {
    mutate: [
      'packages/pursuance/src/held-event.ts',
      'packages/pursuance/src/seq-index.ts',
      'packages/pursuance/src/held-set.ts',
      'packages/pursuance/src/fold/positions.ts',
      'apps/node/src/store/encoding-spill.ts',
    ],
    tests: [
      'packages/pursuance/test/held-event.test.ts',
      'packages/pursuance/test/seq-index.test.ts',
      'packages/pursuance/test/held-set.test.ts',
      'apps/node/test/encoding-spill.test.ts',
    ],
  },
  // A log's base at its heads (what a member moves its starting point to) and the tail test that
  // lets a log started from a snapshot fold incrementally: a wrong base is a wrong state.
  'log-base': {
    mutate: [
      'packages/pursuance/src/log.ts:466-477',
      'packages/pursuance/src/log.ts:706-735',
      'packages/pursuance/src/log.ts:868-868',
      'packages/pursuance/src/snapshot/base.ts:68-94',
    ],
    tests: ['packages/pursuance/test/base-at-heads.test.ts', 'packages/pursuance/test/snapshot.test.ts', 'packages/pursuance/test/findings.test.ts'],
  },
  // The task list in pages (what a big board fetches first) and a start called off mid-load: a
  // page that skips or repeats a task, or a load that runs on after Ctrl-C.
  'task-pages': {
    mutate: [
      'apps/node/src/domain/task-order.ts:29-36',
      'apps/node/src/domain/projections.ts:114-166',
      'apps/node/src/domain/registry.ts:432-432',
      'apps/node/src/domain/registry.ts:456-456',
    ],
    tests: ['apps/node/test/task-pages.test.ts', 'apps/node/test/start-abort.test.ts', 'apps/node/test/projections.test.ts'],
  },
  // A load in slices (issue 16: a read waited 65 s at a million events): the fold, the member
  // view and the state hash done with pauses must equal the work done at once, drop a result
  // the log outgrew during a pause, and stop at the next slice on Ctrl-C.
  'sliced-load': {
    mutate: [
      'packages/pursuance/src/log.ts:570-593',
      'packages/pursuance/src/log.ts:797-829',
      'packages/pursuance/src/fold/run.ts:544-563',
      'apps/node/src/domain/projector.ts:143-153',
      'apps/node/src/domain/registry.ts:460-470',
      'apps/node/src/domain/registry.ts:600-604',
      'apps/node/src/domain/registry.ts:364-370',
      'apps/node/src/full-collection.ts:17-37',
    ],
    tests: [
      'packages/pursuance/test/sliced-work.test.ts',
      'apps/node/test/load-in-slices.test.ts',
      'apps/node/test/start-abort.test.ts',
      'apps/node/test/full-collection.test.ts',
    ],
  },
  // Work in slices while the node runs (a late race's refold, the view read again, the read
  // model compared with every task) and a damaged read-model row met by a write: the events
  // must be stored whatever the rows, and the reads answered between slices.
  'runtime-slices': {
    mutate: [
      'apps/node/src/domain/registry.ts:582-594',
      'apps/node/src/domain/registry.ts:607-610',
      'apps/node/src/domain/registry.ts:661-687',
      'apps/node/src/domain/registry.ts:692-702',
      'apps/node/src/domain/projector.ts:125-135',
    ],
    tests: ['apps/node/test/load-in-slices.test.ts', 'apps/node/test/projections.test.ts'],
  },
  // The board's first page kept in a part of its own (served before the list is read), and the
  // shelf checks on every read-model row opened (a row must sit under its own shelf's tags).
  'first-page': {
    mutate: ['apps/node/src/domain/first-page.ts', 'apps/node/src/store/projection-store.ts:285-304'],
    tests: ['apps/node/test/first-page.test.ts', 'apps/node/test/task-pages.test.ts', 'apps/node/test/projections.test.ts'],
  },
};

export const ORDER = [
  'crypto',
  'codec',
  'tapir',
  'channel',
  'relay',
  'epochs',
  'admission',
  'cwtch',
  'pursuance',
  'view',
  'node',
  'projections',
  'join',
  'snapshots',
  'log-base',
  'task-pages',
  'sliced-load',
  'runtime-slices',
  'first-page',
  'held-events',
];
