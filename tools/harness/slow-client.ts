import net from 'node:net';

/** A raw connection and what the server did with it. */
export interface SlowClient {
  socket: net.Socket;
  /** Bytes the server answered, as text. */
  answer: () => string;
  /** Resolves with ms since the start when the server closed the connection. */
  closed: Promise<number>;
}

/** Opens a connection to 127.0.0.1 that sends `head` at once, then one character of `drip` per `everyMs`. */
export function slowClient(port: number, head: string, drip: string, everyMs: number): SlowClient {
  const t0 = Date.now();
  const socket = net.connect(port, '127.0.0.1');
  let answer = '';
  let i = 0;
  const timer = setInterval(() => {
    if (socket.writable && i < drip.length) socket.write(drip[i++]!);
  }, everyMs);
  socket.setEncoding('utf8').on('data', (d: string) => (answer += d));
  socket.on('error', () => undefined);
  socket.write(head);
  const closed = new Promise<number>((resolve) =>
    socket.once('close', () => {
      clearInterval(timer);
      resolve(Date.now() - t0);
    }),
  );
  return { socket, answer: () => answer, closed };
}

/** The head of a `POST /v1/detect` whose body of `length` bytes follows. */
export const detectHead = (length: number, type = 'image/png'): string =>
  `POST /v1/detect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${type}\r\nContent-Length: ${length}\r\n\r\n`;
