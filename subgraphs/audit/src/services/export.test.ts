import type { Principal } from '../../../../shared/auth/principal';
import { csvCell, exportRequestFor } from './export';

describe('export requests and CSV cells', () => {
  const admin: Principal = { kind: 'platform_admin', sub: 'a', scopes: new Set(['platform:admin']) };

  test('CSV cells are quoted when they hold a comma, quote or line break (RFC 4180)', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    expect(csvCell(null)).toBe('');
  });

  test('a range is validated and a tenant is always scoped to itself', () => {
    expect(exportRequestFor(admin, { since: '2026-11-01', until: '2026-11-02T00:00:00Z' })).toMatchObject({ format: 'jsonl', tenantId: null });
    const tenant: Principal = { kind: 'tenant', tenantId: '11111111-1111-4111-8111-111111111111', clientId: 'c', member: null, scopes: new Set(), isTenantAdmin: false };
    expect(exportRequestFor(tenant, { format: 'csv', since: '2026-11-01', until: '2026-11-02' })).toMatchObject({ format: 'csv', tenantId: tenant.tenantId });
    expect(() => exportRequestFor(admin, { since: '2016-01-01', until: '2026-11-02' })).toThrow(/at most/);
  });
});
