/** A connection that calls `onCall` for every round trip (exec, put, get): tests count them. */
import type { Connection } from '../../src/connection/types.js';

export function counting(conn: Connection, onCall: () => void): Connection {
  return {
    hostName: conn.hostName,
    loginUser: conn.loginUser,
    exec: (c, o) => (onCall(), conn.exec(c, o)),
    put: (p, d, o) => (onCall(), conn.put(p, d, o)),
    get: (p, o) => (onCall(), conn.get(p, o)),
    close: () => conn.close(),
  };
}
