import type { PolicyVersionRow } from '../db/entities';
import { processingRecordsOf, PROCESSOR_NAME } from './processing-records';

const TENANT = '22222222-2222-4222-8222-222222222222';
const at = (iso: string) => new Date(iso);
const version = (v: string, effectiveAt: string, purposes: PolicyVersionRow['purposes']): PolicyVersionRow => ({
  tenantId: TENANT,
  version: v,
  url: `https://shop.example/privacy/${v}`,
  textHash: 'a'.repeat(64),
  effectiveAt: at(effectiveAt),
  publishedAt: at(effectiveAt),
  purposes,
});
const shipping = { key: 'shipping', description: 'We ship | deliver your orders.', categories: ['CONTACT', 'ADDRESS'] as const, lawfulBasis: 'CONTRACT' as const, retentionDays: 90 };
const newsletter = { key: 'newsletter', description: 'Monthly news.', categories: ['CONTACT'] as const, lawfulBasis: 'CONSENT' as const, retentionDays: 365 };
const p = (x: typeof shipping | typeof newsletter) => ({ ...x, categories: [...x.categories] });

describe('processingRecordsOf (GDPR Art. 30)', () => {
  const versions = [
    version('v2', '2026-06-01T00:00:00.000Z', [p(shipping), p(newsletter)]),
    version('v1', '2026-01-01T00:00:00.000Z', [p(shipping)]),
    version('v3', '2027-01-01T00:00:00.000Z', [p(newsletter)]),
  ];
  const records = processingRecordsOf({ tenantId: TENANT, tenantName: 'Books & Co', versions, now: at('2026-12-01T00:00:00.000Z') });

  test('one activity per purpose per version: in force first, then scheduled, then superseded, with dates', () => {
    expect(records.activities.map((a) => [a.policyVersion, a.purpose, a.state])).toEqual([
      ['v2', 'shipping', 'IN_FORCE'],
      ['v2', 'newsletter', 'IN_FORCE'],
      ['v3', 'newsletter', 'SCHEDULED'],
      ['v1', 'shipping', 'SUPERSEDED'],
    ]);
    const [current] = records.activities;
    expect(current).toMatchObject({
      description: 'We ship | deliver your orders.',
      categories: ['CONTACT', 'ADDRESS'],
      lawfulBasis: 'CONTRACT',
      retentionDays: 90,
      policyUrl: 'https://shop.example/privacy/v2',
      effectiveFrom: at('2026-06-01T00:00:00.000Z'),
      effectiveUntil: at('2027-01-01T00:00:00.000Z'),
    });
    expect(records.activities[2].effectiveUntil).toBeNull();
    expect(records.activities[3].effectiveUntil).toEqual(at('2026-06-01T00:00:00.000Z'));
  });

  test('recipients: the tenant as controller, privgraph as processor', () => {
    expect(records.controller).toBe('Books & Co');
    expect(records.processor).toBe(PROCESSOR_NAME);
    for (const activity of records.activities) {
      expect(activity.recipients.map((r) => [r.name, r.role])).toEqual([
        ['Books & Co', 'CONTROLLER'],
        [PROCESSOR_NAME, 'PROCESSOR'],
      ]);
    }
  });

  test('markdown: an Art. 30(1) table with one row per activity, cells escaped', () => {
    const rows = records.markdown.split('\n').filter((line) => line.startsWith('| `'));
    expect(rows).toHaveLength(4);
    expect(rows[0]).toContain('We ship \\| deliver your orders.');
    expect(rows[0]).toContain('Contract, Art. 6(1)(b)');
    expect(rows[0]).toContain('90 days');
    expect(rows[0]).toContain('contact data (email, phone); postal address');
    expect(rows[0]).toContain('[v2](https://shop.example/privacy/v2)');
    expect(rows[0]).toContain('2026-06-01 – 2027-01-01');
    expect(rows[0]).toMatch(/\| in force \|$/);
    // Escaped pipes keep every row at the header's column count.
    const columns = (line: string) => line.replace(/\\\|/g, '').split('|').length;
    const header = records.markdown.split('\n').find((line) => line.startsWith('| Purpose'))!;
    for (const row of rows) expect(columns(row)).toBe(columns(header));
    expect(records.markdown).toContain('# Record of processing activities — Books & Co');
    expect(records.markdown).toContain('Art. 32');
  });

  test('a tenant without published versions gets an empty record that says so', () => {
    const empty = processingRecordsOf({ tenantId: TENANT, tenantName: 'New Shop', versions: [], now: at('2026-12-01T00:00:00.000Z') });
    expect(empty.activities).toEqual([]);
    expect(empty.markdown).toContain('No policy version is published yet');
  });

  test('the same versions and clock give the same record (pure)', () => {
    const again = processingRecordsOf({ tenantId: TENANT, tenantName: 'Books & Co', versions: [...versions].reverse(), now: at('2026-12-01T00:00:00.000Z') });
    expect(again).toEqual(records);
  });
});
