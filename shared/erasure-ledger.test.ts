import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErasureLedgerError, openErasureLedger } from './erasure-ledger';
import { loadSigningKey } from './signing-key';

describe('erasure ledger', () => {
  const dir = mkdtempSync(join(tmpdir(), 'privgraph-ledger-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const subject = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

  test('appends signed lines another process reads and verifies; a forged or edited line stops it', async () => {
    const key = await loadSigningKey(join(dir, 'key.jwk.json'), { create: true });
    const path = join(dir, 'a.jsonl');
    const writer = openErasureLedger(path, key);
    const reader = openErasureLedger(path, { publicJwk: key.publicJwk });
    expect(await writer.ensure({ storesHoldData: false, production: true, allowInit: false })).toBe('CREATED');
    await writer.append({ subjectId: subject(1), requestId: null, erasedAt: new Date() });
    await writer.append({ subjectId: subject(1), requestId: null, erasedAt: new Date() });
    expect(await reader.has(subject(1))).toBe(true);
    expect(await reader.has(subject(2))).toBe(false);
    await writer.append({ subjectId: subject(2), requestId: subject(9), erasedAt: new Date() });
    expect((await reader.entries()).map((e) => e.subjectId)).toEqual([subject(1), subject(2)]);
    expect(readFileSync(path, 'utf8').trim().split('\n')).toHaveLength(2);

    // A line signed by another key (a forged erasure) is refused, by the reader that already trusted the rest too.
    const other = await loadSigningKey(join(dir, 'other.jwk.json'), { create: true });
    await openErasureLedger(join(dir, 'forge.jsonl'), other).append({ subjectId: subject(3), requestId: null, erasedAt: new Date() });
    appendFileSync(path, readFileSync(join(dir, 'forge.jsonl')));
    await expect(reader.has(subject(3))).rejects.toThrow(ErasureLedgerError);
    await expect(openErasureLedger(path, { publicJwk: key.publicJwk }).entries()).rejects.toThrow(/line 3/);
  });

  test('a missing ledger while the stores hold data stops a production start unless a new one is asked for', async () => {
    const key = await loadSigningKey(join(dir, 'key.jwk.json'), { create: true });
    const path = join(dir, 'missing', 'b.jsonl');
    await expect(openErasureLedger(path, key).ensure({ storesHoldData: true, production: true, allowInit: false })).rejects.toThrow(/ERASURE_LEDGER_INIT/);
    expect(await openErasureLedger(path, key).ensure({ storesHoldData: true, production: true, allowInit: true })).toBe('CREATED');
    expect(await openErasureLedger(path, key).ensure({ storesHoldData: true, production: true, allowInit: false })).toBe('EXISTS');
    // A shrunk ledger (lines removed) is refused once it had been read.
    const ledger = openErasureLedger(path, key);
    await ledger.append({ subjectId: subject(4), requestId: null, erasedAt: new Date() });
    writeFileSync(path, '');
    await expect(ledger.has(subject(4))).rejects.toThrow(/append-only/);
  });
});
