/**
 * Words shared by many views (see index.ts): buttons every form has, and counted nouns for
 * `countIn` (lib/format.ts). Counts have two branches, one and other: both languages take the
 * plural for 0 ("0 comments", "0 comentarios"), as the English `count()` always did.
 */
export const common = {
  en: {
    cancel: 'Cancel',
    dismiss: 'Dismiss',
    copy: 'Copy',
    close: 'Close',
    save: 'Save',
    loading: 'Loading…',
    none: 'none',
    you: 'you',
    length: {
      upTo: 'up to {n} character | up to {n} characters',
      left: '{n} character left of {max} | {n} characters left of {max}',
      over: '{n} character over the limit of {max} | {n} characters over the limit of {max}',
    },
    count: {
      characters: '{n} character | {n} characters',
      comments: '{n} comment | {n} comments',
      days: '{n} day | {n} days',
      events: '{n} event | {n} events',
      holders: '{n} holder | {n} holders',
      members: '{n} member | {n} members',
      messages: '{n} message | {n} messages',
      newEvents: '{n} new event | {n} new events',
      people: '{n} person | {n} people',
      roles: '{n} role | {n} roles',
      subtasks: '{n} subtask | {n} subtasks',
      tasks: '{n} task | {n} tasks',
    },
  },
  es: {
    cancel: 'Cancelar',
    dismiss: 'Descartar',
    copy: 'Copiar',
    close: 'Cerrar',
    save: 'Guardar',
    loading: 'Cargando…',
    none: 'ninguno',
    you: 'tú',
    length: {
      upTo: 'hasta {n} carácter | hasta {n} caracteres',
      left: 'queda {n} carácter de {max} | quedan {n} caracteres de {max}',
      over: '{n} carácter por encima del límite de {max} | {n} caracteres por encima del límite de {max}',
    },
    count: {
      characters: '{n} carácter | {n} caracteres',
      comments: '{n} comentario | {n} comentarios',
      days: '{n} día | {n} días',
      events: '{n} evento | {n} eventos',
      holders: '{n} titular | {n} titulares',
      members: '{n} miembro | {n} miembros',
      messages: '{n} mensaje | {n} mensajes',
      newEvents: '{n} evento nuevo | {n} eventos nuevos',
      people: '{n} persona | {n} personas',
      roles: '{n} rol | {n} roles',
      subtasks: '{n} subtarea | {n} subtareas',
      tasks: '{n} tarea | {n} tareas',
    },
  },
};
