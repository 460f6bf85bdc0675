import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { openDocument, signDocument, type SigningKey } from './signing-key';

/**
 * The erasure ledger: one signed line per erased subject, kept OUTSIDE the databases (a file on its
 * own volume by default), so that restoring a database backup taken before an erasure cannot bring
 * the person back. Every service that holds data about subjects replays it before it serves: the
 * vault destroys the data keys and ciphertexts a restored backup brought back, identity tombstones the
 * subject again. Each line is a compact JWS (the platform key, `typ: privgraph-erasure+jws`) carrying
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
  /** Every entry, verified (re-read when another process appended meanwhile). */
  entries(): Promise<ErasureLedgerEntry[]>;
  /** Whether the subject was erased (checked on every write to the vault). */
  has(subjectId: string): Promise<boolean>;
  /** Durably appends an entry (fsync) unless the subject is already in the ledger. */
  append(entry: { subjectId: string; requestId: string | null; erasedAt: Date }): Promise<void>;
}

/** `key` signs new lines; services that only replay pass `{ publicJwk }` and may not append. */
export function openErasureLedger(path: string, key: SigningKey | { publicJwk: SigningKey['publicJwk'] }): ErasureLedger {
  let loaded: { size: number; mtimeMs: number; entries: ErasureLedgerEntry[]; subjects: Set<string> } | undefined;

  const load = async () => {
    let stat;
    try {
      stat = statSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new ErasureLedgerError(`the erasure ledger ${path} cannot be read`);
      loaded = { size: 0, mtimeMs: 0, entries: [], subjects: new Set() };
      return loaded;
    }
    if (loaded && loaded.size === stat.size && loaded.mtimeMs === stat.mtimeMs) return loaded;
    const lines = readFileSync(path, 'utf8').split('\n').filter((line) => line.trim() !== '');
    const entries: ErasureLedgerEntry[] = [];
    for (const [index, line] of lines.entries()) {
      const document = await openDocument(key.publicJwk, ERASURE_LEDGER_TYP, line.trim());
      const parsed = entrySchema.safeParse(document);
      if (!parsed.success) throw new ErasureLedgerError(`the erasure ledger ${path} has a line that does not verify (line ${index + 1})`);
      entries.push(parsed.data);
    }
    loaded = { size: stat.size, mtimeMs: stat.mtimeMs, entries, subjects: new Set(entries.map((e) => e.subjectId)) };
    return loaded;
  };

  return {
    path,
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
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      // O_APPEND: concurrent appenders never overwrite each other's lines; fsync before the erasure proceeds.
      const fd = openSync(path, 'a', 0o600);
      try {
        writeSync(fd, line);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      loaded = undefined;
    },
  };
}
