import type { Socket } from 'node:net';

/** An onion service's stream handler for the Tor tests: send back whatever arrives. */
export function echo(socket: Socket): void {
  socket.on('error', () => undefined);
  socket.pipe(socket);
}

/** Write `payload` and read back exactly as many bytes (a round trip through an echo service). */
export function roundTrip(socket: Socket, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      got += chunk.length;
      if (got >= payload.length) resolve(Buffer.concat(chunks));
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`stream closed after ${got} of ${payload.length} bytes`)));
    socket.write(payload);
  });
}
