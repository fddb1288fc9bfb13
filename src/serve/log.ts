/**
 * A deploy's output: appended to its log file as it comes (synchronously, so the file's size is
 * always exactly what was written), and passed to anyone following it live. Following means:
 * the file up to now, then every later chunk, until the deploy ends.
 */
import fs from 'node:fs';
import type http from 'node:http';

type Listener = (chunk: string | null) => void;

/** A client that reads slower than this much buffered output is cut off rather than buffered for. */
const MAX_BUFFERED = 8 * 1024 * 1024;

export class DeployLog {
  private fd: number | undefined;
  private listeners = new Set<Listener>();
  private written = 0;
  private ended = false;

  constructor(readonly file: string) {
    this.fd = fs.openSync(file, 'a', 0o600);
    this.written = fs.fstatSync(this.fd).size;
  }

  write(text: string): void {
    if (this.ended || this.fd === undefined) return;
    const line = text.endsWith('\n') ? text : `${text}\n`;
    try {
      this.written += fs.writeSync(this.fd, line);
    } catch {
      // A full disk must not fail the deploy itself; live followers still get the line.
    }
    for (const l of this.listeners) l(line);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
    for (const l of this.listeners) l(null);
    this.listeners.clear();
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** Stream the log to a response: what is written so far, then live until the end. */
  follow(res: http.ServerResponse): void {
    const upTo = this.written;
    const pending: string[] = [];
    let replaying = true;
    let finished = false;
    const listener: Listener = (chunk) => {
      if (replaying) {
        if (chunk === null) finished = true;
        else pending.push(chunk);
        return;
      }
      if (chunk === null) res.end();
      else send(chunk);
    };
    const send = (chunk: string) => {
      if (res.destroyed) return;
      res.write(chunk);
      if (res.writableLength > MAX_BUFFERED) res.destroy();
    };
    this.listeners.add(listener);
    res.on('close', () => this.listeners.delete(listener));
    streamFile(this.file, upTo, res, () => {
      replaying = false;
      for (const c of pending) send(c);
      pending.length = 0;
      if (finished || this.ended) {
        this.listeners.delete(listener);
        res.end();
      }
    });
  }
}

/** Bytes [0, upTo) of a file to the response, then `then()` (not called if the client left). */
export function streamFile(file: string, upTo: number, res: http.ServerResponse, then: () => void): void {
  if (upTo <= 0) {
    then();
    return;
  }
  const rs = fs.createReadStream(file, { start: 0, end: upTo - 1 });
  rs.on('error', () => res.destroy());
  rs.on('end', () => {
    if (!res.destroyed) then();
  });
  rs.pipe(res, { end: false });
  res.on('close', () => rs.destroy());
}
