import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';

export interface EmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

/**
 * The embedded default: PGlite (PostgreSQL compiled to WASM) served over TCP so pg and TypeORM
 * connect to it unchanged. One database; each service keeps its own schema in it.
 * `dataDir` undefined keeps it in memory.
 */
export async function startEmbeddedPostgres(dataDir: string | undefined, port = 0): Promise<EmbeddedPostgres> {
  const { PGlite } = await import('@electric-sql/pglite');
  let location: string | undefined;
  if (dataDir) {
    location = join(dataDir, 'pglite');
    mkdirSync(location, { recursive: true, mode: 0o700 });
  }
  const db = await PGlite.create(location);
  const server = await serveWireProtocol(db, port);
  const { port: boundPort } = server.address() as AddressInfo;
  const url = `postgres://postgres@127.0.0.1:${boundPort}/postgres`;
  // Tools (npm run audit:verify) reach the running database through this file instead of opening it twice.
  if (dataDir) writeFileSync(join(dataDir, 'pglite.url'), url, { mode: 0o600 });
  return {
    url,
    async stop() {
      if (dataDir) rmSync(join(dataDir, 'pglite.url'), { force: true });
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await db.close();
    },
  };
}

/** The URL of an embedded database another privgraph process is serving from this data directory, if any. */
export async function runningEmbeddedUrl(dataDir: string): Promise<string | undefined> {
  let url: string;
  try {
    url = readFileSync(join(dataDir, 'pglite.url'), 'utf8').trim();
  } catch {
    return undefined;
  }
  const { Client } = await import('pg');
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  try {
    await client.connect();
    return url;
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/*
 * PGlite is one backend session, so connections must take turns. pglite-socket 0.2.x schedules
 * single protocol messages, which lets one connection's Parse/Bind/Execute/Sync interleave with
 * another's (protocol violations, electric-sql/pglite#1046). This bridge schedules whole units
 * instead: everything a connection sends up to a Sync or simple Query runs at once, and a
 * connection keeps the session while it is inside a transaction or an unfinished extended query.
 */
const SSL_REQUEST = 80877103;
const CANCEL_REQUEST = 80877102;
const UNIT_END = new Set([0x53 /* Sync */, 0x51 /* Query */]);
const FLUSH = 0x48;
const TERMINATE = 0x58;

class SessionLock {
  private owner: number | null = null;
  private waiters: { id: number; grant: () => void }[] = [];

  async acquire(id: number): Promise<void> {
    if (this.owner === id) return;
    if (this.owner === null) {
      this.owner = id;
      return;
    }
    await new Promise<void>((grant) => this.waiters.push({ id, grant }));
  }

  release(id: number): void {
    if (this.owner !== id) return;
    const next = this.waiters.shift();
    this.owner = next ? next.id : null;
    next?.grant();
  }

  holds(id: number): boolean {
    return this.owner === id;
  }

  forget(id: number): void {
    this.waiters = this.waiters.filter((w) => w.id !== id);
  }
}

async function serveWireProtocol(db: Pick<PGlite, 'runExclusive' | 'execProtocolRawStream' | 'isInTransaction' | 'exec'>, port: number): Promise<Server> {
  const lock = new SessionLock();
  let nextId = 1;

  const server = createServer((socket) => {
    const id = nextId++;
    socket.setNoDelay(true);
    let buffer = Buffer.alloc(0);
    let started = false;
    let unit: Buffer[] = [];
    let chain = Promise.resolve();

    const run = (message: Buffer, endsUnit: boolean) => {
      chain = chain.then(async () => {
        if (socket.destroyed) return;
        await lock.acquire(id);
        try {
          await db.runExclusive(() =>
            db.execProtocolRawStream(new Uint8Array(message), {
              onRawData: (data: Uint8Array) => {
                if (!socket.destroyed) socket.write(Buffer.from(data));
              },
            }),
          );
        } finally {
          if (endsUnit && !db.isInTransaction()) lock.release(id);
        }
      });
      chain.catch(() => socket.destroy());
    };

    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (!started) {
          if (buffer.length < 8) return;
          const length = buffer.readInt32BE(0);
          if (buffer.length < length) return;
          const code = buffer.readInt32BE(4);
          const message = buffer.subarray(0, length);
          buffer = buffer.subarray(length);
          if (code === SSL_REQUEST) {
            socket.write('N');
            continue;
          }
          if (code === CANCEL_REQUEST) {
            socket.end();
            return;
          }
          started = true;
          run(Buffer.from(message), true);
          continue;
        }
        if (buffer.length < 5) return;
        const length = 1 + buffer.readInt32BE(1);
        if (buffer.length < length) return;
        const type = buffer[0];
        const message = Buffer.from(buffer.subarray(0, length));
        buffer = buffer.subarray(length);
        if (type === TERMINATE) {
          socket.end();
          return;
        }
        unit.push(message);
        if (UNIT_END.has(type) || type === FLUSH) {
          // After a Flush the extended query is unfinished: the connection keeps the session.
          run(Buffer.concat(unit), type !== FLUSH);
          unit = [];
        }
      }
    });

    const cleanup = () => {
      lock.forget(id);
      chain = chain.then(async () => {
        if (!lock.holds(id)) return;
        if (db.isInTransaction()) await db.exec('ROLLBACK').catch(() => undefined);
        lock.release(id);
      });
    };
    socket.on('close', cleanup);
    socket.on('error', () => socket.destroy());
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return server;
}

