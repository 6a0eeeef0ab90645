/** Words of the dashboard's shared components (see index.ts): the token gate, copy fields, QR codes, progress. */
export const components = {
  en: {
    copy: {
      copied: 'Copied to the clipboard.',
      failed: 'Copy failed: select the text and copy it yourself.',
    },
    qr: { tooLong: 'Too long for a QR code: copy the text instead.' },
    progress: { of: '{label}: {done} / {total}' },
    plantedKey: {
      title: 'Planted key.',
      text: 'The public key published for {role} is not its holders’ key: tips sent to it could be read by whoever rotated it. Rotate this role’s keys.',
      keys: 'Go to the keys',
    },
    gate: {
      title: 'Connect to your node',
      intro:
        'Your node printed a {signIn} link and a {token} when it started ({command}). Open the link, or paste the token here once: it is kept in this browser tab only, and forgotten when the tab closes.',
      signIn: 'sign-in',
      token: 'token',
      label: 'Node token',
      help: '43 characters, or the whole line {line}',
      badShape: 'A node token is 43 characters (letters, digits, - and _): copy the “token” line the node printed.',
      refused: 'The node refused this token.',
      connected: 'Connected to your node.',
      connect: 'Connect',
      connecting: 'Connecting…',
    },
    taskPicker: {
      find: 'Find a task',
      all: '{n} task to choose from | {n} tasks to choose from',
      showing: 'Showing {shown} of {n} task: type part of a title to narrow. | Showing {shown} of {n} tasks: type part of a title to narrow.',
      none: 'No task title holds “{query}”.',
      empty: 'No task to choose from yet.',
    },
  },
  es: {
    copy: {
      copied: 'Copiado al portapapeles.',
      failed: 'No se pudo copiar: selecciona el texto y cópialo tú.',
    },
    qr: { tooLong: 'Demasiado largo para un código QR: copia el texto.' },
    progress: { of: '{label}: {done} / {total}' },
    plantedKey: {
      title: 'Clave plantada.',
      text: 'La clave pública publicada para {role} no es la clave de sus titulares: quien la rotó podría leer las pistas que se le envíen. Rota las claves de este rol.',
      keys: 'Ir a las claves',
    },
    gate: {
      title: 'Conéctate a tu nodo',
      intro:
        'Tu nodo imprimió un enlace de {signIn} y un {token} al arrancar ({command}). Abre el enlace, o pega aquí el token una vez: se guarda solo en esta pestaña del navegador y se olvida al cerrarla.',
      signIn: 'inicio de sesión',
      token: 'token',
      label: 'Token del nodo',
      help: '43 caracteres, o la línea completa {line}',
      badShape: 'Un token de nodo tiene 43 caracteres (letras, dígitos, - y _): copia la línea «token» que imprimió el nodo.',
      refused: 'El nodo rechazó este token.',
      connected: 'Conectado a tu nodo.',
      connect: 'Conectar',
      connecting: 'Conectando…',
    },
    taskPicker: {
      find: 'Buscar una tarea',
      all: '{n} tarea para elegir | {n} tareas para elegir',
      showing:
        'Se muestran {shown} de {n} tarea: escribe parte de un título para acotar. | Se muestran {shown} de {n} tareas: escribe parte de un título para acotar.',
      none: 'Ningún título de tarea contiene «{query}».',
      empty: 'Todavía no hay ninguna tarea para elegir.',
    },
  },
};
