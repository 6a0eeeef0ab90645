/**
 * The history in Spanish: every kind of change describeHistory words, and every event kind
 * describeKind names, comes from the catalogs, so the Spanish `t` gives Spanish sentences built
 * from the same pieces as the English ones (which history-detail.test.ts pins word for word).
 */
import { describe, expect, it } from 'vitest';
import { createDashboardI18n } from '../src/i18n/index.js';
import { KNOWN_KINDS, describeHistory, describeKind, type HistoryWords } from '../src/lib/format.js';
import type { HistoryEntry } from '../src/lib/types.js';

const ONION_A = 'a'.repeat(56);
const ONION_B = 'b'.repeat(56);
const PARENT = 'p'.repeat(64);

function wordsIn(locale: 'en' | 'es'): HistoryWords {
  const i18n = createDashboardI18n(locale).global;
  return {
    t: i18n.t,
    locale: i18n.locale,
    status: (id) => ({ open: 'Abierta', 'in-progress': 'En curso', done: 'Hecha' })[id] ?? id,
    person: (onion) => ({ [ONION_A]: 'mo', [ONION_B]: 'ada' })[onion] ?? 'alguien',
    role: (id) => ({ organizer: 'Organización', member: 'Miembro' })[id] ?? id,
    task: (id) => (id === PARENT ? 'Sábado' : 'una tarea sellada'),
    date: (ms) => new Date(ms).toISOString().slice(0, 10),
  };
}
const es = wordsIn('es');
const en = wordsIn('en');
const say = (kind: string, change?: HistoryEntry['change'], w = es) => describeHistory({ kind, ...(change ? { change } : {}) }, w);

describe('the history in Spanish', () => {
  it('says what a status change, a close and a reopen did, notes and all', () => {
    expect(say('task.status', { status: { from: 'open', to: 'in-progress' } })).toBe('la movió de Abierta a En curso');
    expect(say('task.status', { status: { to: 'in-progress' } })).toBe('la movió a En curso');
    expect(say('task.close', { status: { from: 'in-progress', to: 'done' }, note: 'colgado' })).toBe('la cerró como Hecha — “colgado”');
    expect(say('task.close', { note: 'listo' })).toBe('la cerró — “listo”');
    expect(say('task.reopen', { status: { from: 'done', to: 'open' } })).toBe('la reabrió en Abierta');
    expect(say('task.reopen', {})).toBe('la reabrió');
  });

  it('says what an edit changed, with Spanish plurals and digit grouping', () => {
    expect(
      say('task.edit', {
        title: { from: 'A', to: 'B' },
        body: { fromLength: 4, toLength: 11 },
        labels: { added: ['difusión', 'imprenta', 'arte'], removed: ['viejo'] },
        due: { from: null, to: Date.UTC(2026, 11, 5) },
      }),
    ).toBe(
      'le cambió el título de “A” a “B”; cambió la descripción (4 → 11 caracteres); agregó las etiquetas difusión, imprenta y arte; quitó la etiqueta viejo; puso la fecha límite para el 2026-12-05',
    );
    expect(say('task.edit', { title: { to: 'Nueva' }, body: { fromLength: 0, toLength: 1 } })).toBe(
      'le puso el título “Nueva”; escribió una descripción (1 carácter)',
    );
    expect(say('task.edit', { body: { fromLength: 12_000, toLength: 20_000 } })).toBe(
      `cambió la descripción (${(12_000).toLocaleString('es')} → ${(20_000).toLocaleString('es')} caracteres)`,
    );
    expect(say('task.edit', { body: { fromLength: 9, toLength: 0 }, due: { from: Date.UTC(2026, 0, 2), to: null } })).toBe(
      'quitó la descripción; quitó la fecha límite (era el 2026-01-02)',
    );
    expect(say('task.edit', { due: { from: Date.UTC(2026, 0, 2), to: Date.UTC(2026, 0, 9) } })).toBe('cambió la fecha límite del 2026-01-02 al 2026-01-09');
    expect(say('task.edit', { due: { to: null } })).toBe('quitó la fecha límite');
    expect(say('task.edit', {})).toBe('editó la tarea (sin cambios)');
  });

  it('names who was assigned and unassigned, each with its preposition', () => {
    expect(say('task.assign', { assigned: { members: [ONION_A], roles: [] }, unassigned: { members: [], roles: ['organizer'] } })).toBe(
      'asignó a mo; quitó la asignación al rol Organización',
    );
    expect(say('task.assign', { assigned: { members: [ONION_A, ONION_B], roles: ['member'] } })).toBe('asignó a mo, a ada y al rol Miembro');
  });

  it('says where a task moved in the tree', () => {
    expect(say('task.move', { parent: { from: null, to: PARENT } })).toBe('la movió del nivel superior a “Sábado”');
    expect(say('task.move', { parent: { from: 'q'.repeat(64), to: null } })).toBe('la movió de “una tarea sellada” al nivel superior');
    expect(say('task.move', { parent: { from: PARENT, to: PARENT } })).toBe('la reordenó dentro de “Sábado”');
    expect(say('task.move', { parent: { from: null, to: null } })).toBe('la reordenó en el nivel superior');
    expect(say('task.move', { parent: { from: null, to: null } }, en)).toBe('moved it within the top level');
  });

  it('says a refused change was refused, wholly or in part, and falls back to the kind', () => {
    expect(say('task.status', { refused: 'no transition' })).toBe('cambió el estado: el flujo de trabajo lo rechazó (no transition)');
    expect(say('task.assign', { assigned: { members: [ONION_A], roles: [] }, refused: 'no such role' })).toBe(
      'asignó a mo; el flujo de trabajo rechazó una parte (no such role)',
    );
    expect(say('task.status')).toBe('cambió el estado');
    expect(say('task.comment')).toBe('comentó');
    expect(say('task.something-new')).toBe('task.something-new');
  });

  it('leaves no English in any kind of change (every piece is in the Spanish catalog)', () => {
    const changes: [string, HistoryEntry['change']][] = [
      ['task.status', { status: { from: 'open', to: 'done' } }],
      ['task.close', { status: { to: 'done' }, note: 'n' }],
      ['task.reopen', { status: { to: 'open' } }],
      ['task.edit', { title: { to: 'T' }, body: { fromLength: 1, toLength: 2 }, labels: { added: ['x'], removed: ['y', 'z'] }, due: { from: 1, to: 2 } }],
      ['task.assign', { assigned: { members: [ONION_A], roles: ['member'] }, unassigned: { members: [ONION_B], roles: [] } }],
      ['task.move', { parent: { from: PARENT, to: null } }],
      ['task.edit', { refused: 'r' }],
    ];
    const english = /\b(it|the|and|to|from|under|within|role|refused|changed|moved|closed|set|added|removed|assigned|unassigned|character|characters|was)\b/;
    for (const [kind, change] of changes) {
      const text = say(kind, change);
      expect(text, kind).not.toMatch(english);
      expect(text, kind).not.toBe(say(kind, change, en));
    }
  });
});

describe('changes the reader made, in Spanish', () => {
  const mine = { ...es, me: ONION_A };
  const byMe = (kind: string, change: HistoryEntry['change']) => describeHistory({ kind, author: ONION_A, change }, mine);

  it('are said to the reader, and the reader as an assignee is "ti"', () => {
    expect(byMe('task.status', { status: { from: 'open', to: 'done' } })).toBe('la moviste de Abierta a Hecha');
    expect(byMe('task.close', { note: 'listo' })).toBe('la cerraste — “listo”');
    expect(byMe('task.edit', { title: { from: 'A', to: 'B' }, labels: { added: ['x'], removed: [] } })).toBe(
      'le cambiaste el título de “A” a “B”; agregaste la etiqueta x',
    );
    expect(byMe('task.assign', { assigned: { members: [ONION_A, ONION_B], roles: [] } })).toBe('asignaste a ti y a ada');
    expect(byMe('task.move', { parent: { from: PARENT, to: null } })).toBe('la moviste de “Sábado” al nivel superior');
    expect(byMe('task.edit', {})).toBe('editaste la tarea (sin cambios)');
    expect(byMe('task.status', { refused: 'r' })).toBe('cambiaste el estado: el flujo de trabajo lo rechazó (r)');
    expect(describeHistory({ kind: 'task.comment', author: ONION_A }, mine)).toBe('comentaste');
    // Someone else's change, and the reader assigned by them.
    expect(describeHistory({ kind: 'task.assign', author: ONION_B, change: { assigned: { members: [ONION_A], roles: [] } } }, mine)).toBe('asignó a ti');
  });

  it('read the same in English as anyone else’s', () => {
    const englishMine = { ...en, me: ONION_A };
    const changes: [string, HistoryEntry['change']][] = [
      ['task.status', { status: { from: 'open', to: 'done' } }],
      ['task.reopen', { status: { to: 'open' }, note: 'again' }],
      ['task.edit', { title: { to: 'T' }, body: { fromLength: 1, toLength: 2 }, labels: { added: ['x'], removed: ['y', 'z'] }, due: { from: 1, to: 2 } }],
      ['task.move', { parent: { from: null, to: null } }],
      ['task.comment', undefined],
    ];
    for (const [kind, change] of changes)
      expect(describeHistory({ kind, author: ONION_A, ...(change ? { change } : {}) }, englishMine), kind).toBe(say(kind, change, en));
    expect(describeHistory({ kind: 'task.assign', author: ONION_B, change: { assigned: { members: [ONION_A], roles: [] } } }, englishMine)).toBe(
      'assigned you',
    );
  });
});

describe('event kinds in words', () => {
  it('keeps the English words of every kind exactly', () => {
    const english: Record<string, string> = {
      genesis: 'created the pursuance',
      'member.add': 'added a member',
      'member.remove': 'removed a member',
      'member.rename': 'changed their name',
      'member.leave': 'left',
      'role.assign': 'assigned a role',
      'role.remove': 'removed a role',
      'rules.change': 'changed the rules',
      'keys.rotate': 'rotated keys',
      'keys.share': 'shared keys',
      'relay.move': 'moved the relay',
      'relay.add': 'added a mirror relay',
      'relay.drop': 'dropped a mirror relay',
      'founder.nominate': 'nominated a founder',
      'founder.endorse': 'endorsed a nomination',
      'founder.claim': 'claimed founder status',
      'task.create': 'created the task',
      'task.edit': 'edited',
      'task.assign': 'changed assignees',
      'task.status': 'changed the status',
      'task.close': 'closed',
      'task.reopen': 'reopened',
      'task.comment': 'commented',
      'task.move': 'moved it in the tree',
      'submission.create': 'sent a tip',
      'snapshot.attest': 'vouched for a snapshot of the history',
    };
    expect([...KNOWN_KINDS].sort()).toEqual(Object.keys(english).sort());
    const t = createDashboardI18n('en').global.t;
    for (const [kind, words] of Object.entries(english)) {
      expect(describeKind(kind), kind).toBe(words);
      expect(describeKind(kind, t), kind).toBe(words);
    }
  });

  it('has Spanish words for every kind the dashboard knows, and English ones as before', () => {
    const spanish = createDashboardI18n('es').global.t;
    for (const kind of KNOWN_KINDS) {
      const inSpanish = describeKind(kind, spanish);
      expect(inSpanish, kind).not.toBe(describeKind(kind));
      expect(inSpanish, kind).not.toBe(kind);
      expect(inSpanish, kind).not.toMatch(/^history\./);
      // Said to the reader: conjugated differently in Spanish, the same in English.
      expect(describeKind(kind, spanish, true), kind).not.toBe(inSpanish);
      expect(describeKind(kind, undefined, true), kind).toBe(describeKind(kind));
    }
    expect(describeKind('genesis')).toBe('created the pursuance');
    expect(describeKind('task.move')).toBe('moved it in the tree');
    expect(describeKind('genesis', spanish)).toBe('creó el pursuance');
    expect(describeKind('task.status', spanish)).toBe('cambió el estado');
    expect(describeKind('founder.claim', spanish)).toBe('reclamó el rol de fundador');
    expect(describeKind('task.close', spanish, true)).toBe('cerraste la tarea');
  });

  it('shows a kind it does not know as itself, even one that names a branch of the catalog', () => {
    const spanish = createDashboardI18n('es').global.t;
    for (const kind of ['task.archive', 'task', 'member', 'kind', '']) {
      expect(describeKind(kind, spanish)).toBe(kind);
      expect(describeKind(kind)).toBe(kind);
    }
  });
});
