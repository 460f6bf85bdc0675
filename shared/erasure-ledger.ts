import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { openDocument, signDocument, type SigningKey } from './signing-key';

/**
 * The erasure ledger: one signed line per erased subject, kept OUTSIDE the databases (a file on its
 * own volume by default), so that restoring a database backup taken before an erasure cannot bring
 * the person back. The vault, identity and consent replay it before they serve: the vault destroys the
 * data keys and ciphertexts a restored backup brought back, identity tombstones the subject again,
 * consent withdraws their consents again. Each line is a compact JWS (the platform key, `typ: privgraph-erasure+jws`) carrying
 * only opaque ids, so the ledger itself holds nothing that identifies the person.
 *
 * The file is append-only for privgraph; keep it on storage whose backups are never restored over it
 * (or on WORM storage). A line that does not verify stops start-up: a forged line could erase someone.
 */
export const ERASURE_LEDGER_TYP = 'privgraph-erasure+jws';

const entrySchema = z.strictObject({
  v: z.literal(1),
  subjectId: z.uuid(),
  requestId: z.uuid().nullable(),
  erasedAt: z.iso.datetime(),
});
export type ErasureLedgerEntry = z.infer<typeof entrySchema>;

export class ErasureLedgerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ErasureLedgerError';
  }
}

export interface ErasureLedger {
  readonly path: string;
  /**
   * Makes sure the ledger exists before anything is served. A missing ledger while the stores hold
   * data means it was lost (an unmounted or replaced volume): erased people would come back from any
   * restored backup, so in production that stops start-up unless `allowInit` says to begin a new one.
   */
  ensure(options: { storesHoldData: boolean; production: boolean; allowInit: boolean }): Promise<'EXISTS' | 'CREATED'>;
  /** Every entry, verified (lines appended by another process meanwhile are read and verified once). */
  entries(): Promise<ErasureLedgerEntry[]>;
  /** Whether the subject was erased (checked around every write to the vault). */
  has(subjectId: string): Promise<boolean>;
  /** Durably appends an entry (fsync) unless the subject is already in the ledger. */
  append(entry: { subjectId: string; requestId: string | null; erasedAt: Date }): Promise<void>;
}

interface Loaded {
  /** Bytes read and verified so far (up to the last complete line). */
  size: number;
  entries: ErasureLedgerEntry[];
  subjects: Set<string>;
}

/** `key` signs new lines; services that only replay pass `{ publicJwk }` and may not append. */
export function openErasureLedger(path: string, key: SigningKey | { publicJwk: SigningKey['publicJwk'] }): ErasureLedger {
  let loaded: Loaded = { size: 0, entries: [], subjects: new Set() };
  let inflight: Promise<Loaded> | undefined;

  const verifyLines = async (text: string, firstLine: number): Promise<ErasureLedgerEntry[]> => {
    const out: ErasureLedgerEntry[] = [];
    for (const [index, line] of text.split('\n').entries()) {
      if (line.trim() === '') continue;
      const parsed = entrySchema.safeParse(await openDocument(key.publicJwk, ERASURE_LEDGER_TYP, line.trim()));
      if (!parsed.success) throw new ErasureLedgerError(`the erasure ledger ${path} has a line that does not verify (line ${firstLine + index})`);
      out.push(parsed.data);
    }
    return out;
  };

  // The file only grows: read what was appended since the last look, up to its last complete line.
  const refresh = async (): Promise<Loaded> => {
    let size: number;
    try {
      size = statSync(path).size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new ErasureLedgerError(`the erasure ledger ${path} cannot be read`);
      if (loaded.size > 0) throw new ErasureLedgerError(`the erasure ledger ${path} disappeared while in use`);
      return loaded;
    }
    if (size === loaded.size) return loaded;
    if (size < loaded.size) throw new ErasureLedgerError(`the erasure ledger ${path} shrank: it is append-only`);
    const fd = openSync(path, 'r');
    let chunk: string;
    try {
      const buffer = Buffer.alloc(size - loaded.size);
      readSync(fd, buffer, 0, buffer.length, loaded.size);
      chunk = buffer.toString('utf8');
    } finally {
      closeSync(fd);
    }
    const complete = chunk.lastIndexOf('\n') + 1;
    if (complete === 0) return loaded;
    const before = loaded.entries.length;
    const fresh = await verifyLines(chunk.slice(0, complete), before + 1);
    const entries = [...loaded.entries, ...fresh];
    loaded = { size: loaded.size + Buffer.byteLength(chunk.slice(0, complete)), entries, subjects: new Set([...loaded.subjects, ...fresh.map((e) => e.subjectId)]) };
    return loaded;
  };

  const load = (): Promise<Loaded> => {
    inflight ??= refresh().finally(() => {
      inflight = undefined;
    });
    return inflight;
  };

  const syncDirectory = () => {
    const fd = openSync(dirname(path), 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  };

  return {
    path,
    async ensure({ storesHoldData, production, allowInit }) {
      if (existsSync(path)) {
        await load();
        return 'EXISTS';
      }
      if (storesHoldData && production && !allowInit) {
        throw new ErasureLedgerError(
          `the erasure ledger ${path} is missing while the stores hold data: restore it (erasures would otherwise be undone by any restored backup), or set ERASURE_LEDGER_INIT=true to begin a new one`,
        );
      }
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      closeSync(openSync(path, 'a', 0o600));
      syncDirectory();
      return 'CREATED';
    },
    async entries() {
      return (await load()).entries;
    },
    async has(subjectId) {
      return (await load()).subjects.has(subjectId);
    },
    async append(entry) {
      if (!('privateKey' in key)) throw new ErasureLedgerError('this service only replays the erasure ledger');
      if ((await load()).subjects.has(entry.subjectId)) return;
      const document: ErasureLedgerEntry = { v: 1, subjectId: entry.subjectId, requestId: entry.requestId, erasedAt: entry.erasedAt.toISOString() };
      const line = `${await signDocument(key, ERASURE_LEDGER_TYP, document)}\n`;
      const created = !existsSync(path);
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      // O_APPEND: concurrent appenders never overwrite each other's lines; fsync before the erasure proceeds.
      const fd = openSync(path, 'a', 0o600);
      try {
        writeSync(fd, line);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      // A new file's directory entry must be durable too, or a crash could lose the whole ledger.
      if (created) syncDirectory();
      await load();
    },
  };
}
