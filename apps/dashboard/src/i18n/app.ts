/** Words of the dashboard's frame (see index.ts): the header, the live status, the sign-in session. */
export const app = {
  en: {
    skip: 'Skip to content',
    brand: 'Pursuance',
    nav: { label: 'Main', pursuances: 'Pursuances', new: 'New', join: 'Join' },
    live: { open: 'Live', connecting: 'Connecting…', reconnecting: 'Reconnecting…', closed: 'Offline' },
    node: 'node',
    yourNode: 'Your node: {onion}',
    forget: 'Forget token',
    language: 'Language',
    resuming: 'Connecting to your node…',
    aPursuance: 'A pursuance',
    newEvents: '{name}: {events}.',
    newEventsFrom: '{name}: {events} ({origin}).',
    /** Where new events came from (the node's EventOrigin), in the announcement. */
    origin: { group: 'group', peer: 'peer', import: 'import' },
    session: {
      refused: 'The node refused the token. Enter the token it printed when it started.',
      savedRefused: 'The node refused the saved token (did it restart with a new data dir?).',
      linkCutShort: 'The sign-in link was cut short. Open the whole link the node printed, or paste its token here.',
    },
  },
  es: {
    skip: 'Saltar al contenido',
    brand: 'Pursuance',
    nav: { label: 'Principal', pursuances: 'Pursuances', new: 'Nuevo', join: 'Unirse' },
    live: { open: 'En vivo', connecting: 'Conectando…', reconnecting: 'Reconectando…', closed: 'Sin conexión' },
    node: 'nodo',
    yourNode: 'Tu nodo: {onion}',
    forget: 'Olvidar el token',
    language: 'Idioma',
    resuming: 'Conectando con tu nodo…',
    aPursuance: 'Un pursuance',
    newEvents: '{name}: {events}.',
    newEventsFrom: '{name}: {events} ({origin}).',
    origin: { group: 'grupo', peer: 'par', import: 'importación' },
    session: {
      refused: 'El nodo rechazó el token. Escribe el token que imprimió al arrancar.',
      savedRefused: 'El nodo rechazó el token guardado (¿se reinició con otra carpeta de datos?).',
      linkCutShort: 'El enlace de inicio de sesión está incompleto. Abre el enlace completo que imprimió el nodo, o pega aquí su token.',
    },
  },
};
