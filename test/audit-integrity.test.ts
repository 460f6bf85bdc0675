import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CompactSign, compactVerify, createLocalJWKSet, generateKeyPair } from 'jose';
import { canonicalTime, chainHash, GENESIS_HASH } from '../subgraphs/audit/src/services/hash-chain';
import { startTestStack, type TestStack } from './kit/stack';
import { codes, createSubject, createTenant, expectNoErrors, grantConsent } from './kit/scenario';

const run = promisify(execFile);

/** Signed checkpoints catch what a hash chain alone cannot: a cut-off tail and a recomputed chain. */
describe('audit log integrity: chain + signed checkpoints', () => {
  let stack: TestStack;
  let admin: string;
  let table: string;

  beforeAll(async () => {
    stack = await startTestStack({ env: { AUDIT_CHECKPOINT_INTERVAL_MS: '0' } });
    admin = await stack.tokens.admin();
    table = `"${stack.schemas.audit}".audit_event`;
  });
  afterAll(() => stack?.stop());

  const VERIFY = '{ verifyAuditLog { ok checked firstBadSeq checkpoints problem } }';
  const verify = async () => (await stack.gql(VERIFY, {}, { token: admin })).data?.verifyAuditLog;
  const checkpoint = async () => {
    const response = await stack.gql('mutation { createAuditCheckpoint { seq head at } }', {}, { token: admin });
    expectNoErrors(response);
    return response.data?.createAuditCheckpoint as { seq: number; head: string; at: string };
  };
  const checkpointFile = () => join(stack.dataDir, 'audit-checkpoints.jsonl');
  let round = 0;
  const produce = async () => {
    round += 1;
    const shop = await createTenant(stack, `Integrity Shop ${round}`);
    const subject = await createSubject(stack, `integrity-${round}`, { email: `integrity${round}@example.com` }, [shop]);
    await grantConsent(stack, subject, { tenantId: shop, purpose: 'crm', categories: ['CONTACT'] });
  };
  const head = async () => Number((await stack.sql<{ seq: string }>(`SELECT max(seq)::text AS seq FROM ${table}`))[0].seq);
  const cli = async () =>
    run('npx', ['tsx', 'scripts/audit-verify.ts'], {
      env: { ...process.env, DB_SCHEMA_PREFIX: stack.schemas.audit.slice(0, -'audit'.length), PRIVGRAPH_DATA_DIR: stack.dataDir, NODE_ENV: 'test' },
    }).then(
      ({ stdout }) => ({ code: 0, stdout }),
      (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
    );

  /** Rewrites events from `fromSeq` on with their hashes recomputed: what an attacker with the owner's rights would do. */
  const recomputeFrom = async (fromSeq: number) => {
    const rows = await stack.sql<Record<string, any>>(
      `SELECT seq::text AS seq, occurred_at AS "occurredAt", actor_type AS "actorType", actor_id AS "actorId", tenant_id AS "tenantId",
              subject_id AS "subjectId", action, field, purpose, decision, reason, consent_id AS "consentId", request_id AS "requestId", hash,
              client_origin AS origin, user_agent_class AS "userAgentClass", outcome
         FROM ${table} ORDER BY audit_event.seq`,
    );
    let prev = GENESIS_HASH;
    for (const row of rows) {
      if (Number(row.seq) >= fromSeq) {
        const hash = chainHash(prev, { ...row, occurredAt: canonicalTime(row.occurredAt) } as never);
        await stack.tamper(`UPDATE ${table} SET prev_hash = $2, hash = $3 WHERE seq = $1`, [row.seq, prev, hash]);
        prev = hash;
      } else {
        prev = row.hash;
      }
    }
  };

  test('a checkpoint on demand signs the head; verification holds the chain against it; the CLI agrees', async () => {
    await produce();
    const first = await checkpoint();
    expect(first.seq).toBe(await head());
    expect(first.head).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await verify()).toMatchObject({ ok: true, checkpoints: 1, problem: null, firstBadSeq: null });
    const lines = readFileSync(checkpointFile(), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]).jws.split('.')).toHaveLength(3);
    // Asking again without new events writes nothing new.
    await checkpoint();
    expect(readFileSync(checkpointFile(), 'utf8').trim().split('\n')).toHaveLength(1);
    const ok = await cli();
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/audit log verified: \d+ events, 1 signed checkpoints/);
  });

  test('reordered and inserted events break the chain at their sequence number', async () => {
    await produce();
    const [a, b] = [3, 4];
    await stack.tamper(`UPDATE ${table} SET seq = 1000000 WHERE seq = $1`, [a]);
    await stack.tamper(`UPDATE ${table} SET seq = $1 WHERE seq = $2`, [a, b]);
    await stack.tamper(`UPDATE ${table} SET seq = $1 WHERE seq = 1000000`, [b]);
    expect(await verify()).toMatchObject({ ok: false, problem: 'CHAIN_BROKEN', firstBadSeq: a });
    await stack.tamper(`UPDATE ${table} SET seq = 1000000 WHERE seq = $1`, [a]);
    await stack.tamper(`UPDATE ${table} SET seq = $1 WHERE seq = $2`, [a, b]);
    await stack.tamper(`UPDATE ${table} SET seq = $1 WHERE seq = 1000000`, [b]);
    expect(await verify()).toMatchObject({ ok: true });

    const top = await head();
    await stack.sql(
      `INSERT INTO ${table} SELECT seq + 1, occurred_at, actor_type, actor_id, tenant_id, subject_id, action, field, purpose, decision, reason, consent_id, request_id, hash, hash FROM ${table} WHERE seq = $1`,
      [top],
    );
    expect(await verify()).toMatchObject({ ok: false, problem: 'CHAIN_BROKEN', firstBadSeq: top + 1 });
    // The plain INSERT claimed its number in the ledger; the owner's clean-up takes both away.
    await stack.tamper(`DELETE FROM ${table} WHERE seq = $1`, [top + 1]);
    await stack.tamper(`DELETE FROM "${stack.schemas.audit}".audit_seq_range WHERE seqs = int8range($1::bigint, $1::bigint, '[]')`, [top + 1]);
    expect(await verify()).toMatchObject({ ok: true });
  });

  test('a forged row reusing a sequence number is refused by the database, and with triggers off it is named at that number as DUPLICATE_SEQ', async () => {
    await produce();
    const victim = (await head()) - 2;
    const forge = (at: string) =>
      `INSERT INTO ${table} SELECT seq, occurred_at + interval '${at}', actor_type, actor_id, tenant_id, subject_id, action, field, purpose,
              'DENY', 'FORBIDDEN', consent_id, request_id, prev_hash, hash FROM ${table} WHERE seq = $1`;
    // The partition key lets (seq, occurred_at) differ; the seq ledger does not, whether the row goes in
    // through the log or straight into its month's partition.
    await expect(stack.sql(forge('1 millisecond'), [victim])).rejects.toThrow(/audit_seq_range_no_overlap/);
    const [{ partition }] = await stack.sql<{ partition: string }>(`SELECT tableoid::regclass::text AS partition FROM ${table} WHERE seq = $1`, [victim]);
    await expect(stack.sql(forge('1 millisecond').replace(`INSERT INTO ${table}`, `INSERT INTO ${partition}`), [victim])).rejects.toThrow(/audit_seq_range_no_overlap/);
    expect(await verify()).toMatchObject({ ok: true });
    // Forged later or earlier in time than the real event, so it sorts after or before it: named at its seq either way.
    for (const at of ['1 millisecond', '-1 millisecond']) {
      await stack.tamper(forge(at), [victim]);
      expect(await verify()).toMatchObject({ ok: false, problem: 'DUPLICATE_SEQ', firstBadSeq: victim });
      await stack.tamper(`DELETE FROM ${table} WHERE seq = $1 AND decision = 'DENY' AND reason = 'FORBIDDEN'`, [victim]);
      expect(await verify()).toMatchObject({ ok: true });
    }
    const cli = await run('npx', ['tsx', 'scripts/audit-verify.ts'], {
      env: { ...process.env, DB_SCHEMA_PREFIX: stack.schemas.audit.slice(0, -'audit'.length), PRIVGRAPH_DATA_DIR: stack.dataDir, NODE_ENV: 'test' },
    });
    expect(cli.stdout).toMatch(/audit log verified/);
  });

  test('a removed event is named at the missing number', async () => {
    await produce();
    const gone = (await head()) - 1;
    const [saved] = await stack.sql<Record<string, unknown>>(`SELECT * FROM ${table} WHERE seq = $1`, [gone]);
    await stack.tamper(`DELETE FROM ${table} WHERE seq = $1`, [gone]);
    expect(await verify()).toMatchObject({ ok: false, problem: 'CHAIN_BROKEN', firstBadSeq: gone });
    const columns = Object.keys(saved);
    await stack.tamper(
      `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`,
      columns.map((c) => saved[c]),
    );
    expect(await verify()).toMatchObject({ ok: true });
  });

  test('an altered event recomputed into a valid chain is caught by the checkpoint after it, naming the first event it covers', async () => {
    const earlier = await checkpoint();
    await produce();
    const later = await checkpoint();
    const victim = earlier.seq + 2;
    expect(victim).toBeLessThan(later.seq);
    await stack.tamper(`UPDATE ${table} SET decision = 'DENY', reason = 'FORBIDDEN' WHERE seq = $1`, [victim]);
    expect(await verify()).toMatchObject({ ok: false, problem: 'CHAIN_BROKEN', firstBadSeq: victim });
    await recomputeFrom(victim);
    expect(await verify()).toMatchObject({ ok: false, problem: 'CHECKPOINT_MISMATCH', firstBadSeq: earlier.seq + 1 });
    const failed = await cli();
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain(`CHECKPOINT_MISMATCH at seq ${earlier.seq + 1}`);
    // Put it back as it was.
    await stack.tamper(`UPDATE ${table} SET decision = 'ALLOW', reason = 'SELF' WHERE seq = $1`, [victim]);
    await recomputeFrom(victim);
    expect(await verify()).toMatchObject({ ok: true });
  });

  test('a cut-off tail (a valid chain, only shorter) is caught as TRUNCATED', async () => {
    await produce();
    const signed = await checkpoint();
    const rows = await stack.sql<Record<string, unknown>>(`SELECT * FROM ${table} WHERE seq > $1 - 3 ORDER BY seq`, [signed.seq]);
    await stack.tamper(`DELETE FROM ${table} WHERE seq > $1 - 3`, [signed.seq]);
    expect(await verify()).toMatchObject({ ok: false, problem: 'TRUNCATED', firstBadSeq: signed.seq - 2 });
    const failed = await cli();
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain(`TRUNCATED at seq ${signed.seq - 2}`);
    // Put back as the owner (the seq ledger still holds their numbers, so a plain INSERT is refused).
    for (const row of rows) {
      const columns = Object.keys(row);
      await stack.tamper(`INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`, Object.values(row));
    }
    expect(await verify()).toMatchObject({ ok: true });
  });

  test('a forged checkpoint (signed with another key) is reported, not trusted', async () => {
    const before = readFileSync(checkpointFile(), 'utf8');
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new CompactSign(new TextEncoder().encode(JSON.stringify({ seq: 1, head: 'x', at: new Date().toISOString() })))
      .setProtectedHeader({ alg: 'ES256', typ: 'privgraph-audit-checkpoint+jws' })
      .sign(privateKey);
    appendFileSync(checkpointFile(), `${JSON.stringify({ jws: forged })}\n`);
    expect(await verify()).toMatchObject({ ok: false, problem: 'CHECKPOINT_INVALID', firstBadSeq: null });
    writeFileSync(checkpointFile(), before);
    expect(await verify()).toMatchObject({ ok: true });
  });

  test('an unwritable checkpoint store gives CHECKPOINT_UNAVAILABLE and leaves the store as it was', async () => {
    await produce();
    const before = readFileSync(checkpointFile(), 'utf8');
    rmSync(checkpointFile());
    mkdirSync(checkpointFile());
    try {
      const response = await stack.gql('mutation { createAuditCheckpoint { seq } }', {}, { token: admin });
      expect(codes(response)).toEqual(['CHECKPOINT_UNAVAILABLE']);
      expect(JSON.stringify(response.errors)).not.toContain(stack.dataDir);
    } finally {
      rmSync(checkpointFile(), { recursive: true });
      writeFileSync(checkpointFile(), before);
    }
    expect(readFileSync(checkpointFile(), 'utf8')).toBe(before);
    expect((await checkpoint()).seq).toBe(await head());
  });

  test('only platform admins write checkpoints', async () => {
    const shop = await createTenant(stack, 'Checkpoint Shop');
    for (const token of [await stack.tokens.subject('cp-subject'), await stack.tokens.tenant(shop, ['tenant:admin'])]) {
      expect(codes(await stack.gql('mutation { createAuditCheckpoint { seq } }', {}, { token }))).toEqual(['FORBIDDEN']);
    }
  });
});

describe('the published JWKS', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ env: { AUDIT_CHECKPOINT_INTERVAL_MS: '0' } });
  });
  afterAll(() => stack?.stop());

  test('GET /.well-known/jwks.json on the gateway verifies a checkpoint with a stock JOSE library, and refuses a modified one', async () => {
    const admin = await stack.tokens.admin();
    await createTenant(stack, 'JWKS Shop');
    expectNoErrors(await stack.gql('mutation { createAuditCheckpoint { seq } }', {}, { token: admin }));
    const response = await fetch(`${stack.running.gateway.url}/.well-known/jwks.json`);
    expect(response.status).toBe(200);
    const jwks = (await response.json()) as { keys: Record<string, string>[] };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(jwks.keys[0]).not.toHaveProperty('d');

    const [line] = readFileSync(join(stack.dataDir, 'audit-checkpoints.jsonl'), 'utf8').trim().split('\n');
    const { jws } = JSON.parse(line) as { jws: string };
    const keySet = createLocalJWKSet(jwks as never);
    const { payload, protectedHeader } = await compactVerify(jws, keySet);
    expect(protectedHeader).toMatchObject({ alg: 'ES256', kid: jwks.keys[0].kid, typ: 'privgraph-audit-checkpoint+jws' });
    expect(JSON.parse(new TextDecoder().decode(payload))).toMatchObject({ seq: 1 });

    const [header, body, signature] = jws.split('.');
    const altered = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body, 'base64url').toString()), seq: 99 })).toString('base64url');
    await expect(compactVerify(`${header}.${altered}.${signature}`, keySet)).rejects.toThrow();
  });
});
