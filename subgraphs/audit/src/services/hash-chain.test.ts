import { canonicalTime, chainHash, GENESIS_HASH, type ChainedFields } from './hash-chain';

const event = (seq: number, overrides: Partial<ChainedFields> = {}): ChainedFields => ({
  seq: String(seq),
  occurredAt: '2026-11-22T10:00:00.000Z',
  actorType: 'TENANT',
  actorId: 'client-1',
  tenantId: '22222222-2222-4222-8222-222222222222',
  subjectId: '11111111-1111-4111-8111-111111111111',
  action: 'PII_READ',
  field: 'User.email',
  purpose: 'order_fulfillment',
  decision: 'ALLOW',
  reason: 'CONSENT',
  consentId: '33333333-3333-4333-8333-333333333333',
  requestId: 'req-1',
  ...overrides,
});

describe('audit hash chain', () => {
  test('each hash depends on every field, the sequence number and the predecessor', () => {
    const first = chainHash(GENESIS_HASH, event(1));
    expect(first).toHaveLength(32);
    expect(chainHash(GENESIS_HASH, event(1)).equals(first)).toBe(true);
    for (const change of [{ decision: 'DENY' as const }, { seq: '2' }, { field: 'User.phone' }, { occurredAt: '2026-11-22T10:00:00.001Z' }, { consentId: null }]) {
      expect(chainHash(GENESIS_HASH, event(1, change)).equals(first)).toBe(false);
    }
    expect(chainHash(first, event(2)).equals(chainHash(GENESIS_HASH, event(2)))).toBe(false);
  });

  test('times are hashed in one canonical form, whatever offset they arrived with', () => {
    expect(canonicalTime('2026-11-22T11:00:00+01:00')).toBe('2026-11-22T10:00:00.000Z');
    expect(canonicalTime(new Date('2026-11-22T10:00:00Z'))).toBe('2026-11-22T10:00:00.000Z');
    expect(canonicalTime('2026-11-22T10:00:00.000Z')).toBe('2026-11-22T10:00:00.000Z');
  });

  test('origin and user-agent class are covered when set; an event without them hashes as events did before them', () => {
    // The digest of an event recorded before origins were: it must stay verifiable.
    const before = chainHash(GENESIS_HASH, event(1));
    expect(chainHash(GENESIS_HASH, event(1, { origin: null, userAgentClass: null })).equals(before)).toBe(true);
    const withOrigin = chainHash(GENESIS_HASH, event(1, { origin: '203.0.113.0/24', userAgentClass: 'BROWSER' }));
    expect(withOrigin.equals(before)).toBe(false);
    for (const change of [{ origin: '198.51.100.0/24' }, { origin: null }, { userAgentClass: 'BOT' as const }, { userAgentClass: null }]) {
      expect(chainHash(GENESIS_HASH, event(1, { origin: '203.0.113.0/24', userAgentClass: 'BROWSER', ...change })).equals(withOrigin)).toBe(false);
    }
  });

  test('an outcome is covered when set; an event without one hashes as events did before outcomes', () => {
    // A digest computed before the field existed (the literal canonical form of version 1).
    const before = chainHash(GENESIS_HASH, event(1));
    expect(chainHash(GENESIS_HASH, event(1, { outcome: null })).equals(before)).toBe(true);
    expect(chainHash(GENESIS_HASH, event(1, { outcome: 'FAILED' })).equals(before)).toBe(false);
  });

  test('null and the string "null" hash differently (no field confusion)', () => {
    expect(chainHash(GENESIS_HASH, event(1, { purpose: null })).equals(chainHash(GENESIS_HASH, event(1, { purpose: 'null' })))).toBe(false);
  });
});
