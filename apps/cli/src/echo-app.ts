import { ApplicationChain, AuthApp, type Application, type Connection } from '@pursuance/tapir';

/** The authenticated echo service: auth, then every payload is sent back as is. */
export function echoServiceApp(): Application {
  return new ApplicationChain([new AuthApp()], {
    name: 'echo',
    async run(conn: Connection) {
      for (;;) await conn.send(await conn.expect());
    },
  });
}

export function authOnly(): Application {
  return new ApplicationChain([new AuthApp()]);
}
