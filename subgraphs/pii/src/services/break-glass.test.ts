import type { Principal } from '../../../../shared/auth/principal';
import { BreakGlassGrant, breakGlassOf, checkTicket, openBreakGlass } from './break-glass';

const SUBJECT = '11111111-1111-4111-8111-111111111111';
const admin: Principal = { kind: 'platform_admin', sub: 'admin-1', scopes: new Set(['platform:admin']) };
const stored = { load: async (id: string) => (id === SUBJECT ? { subjectId: id } : undefined) };
const open = (principal: Principal, args: Partial<{ subjectId: string; reason: string; ticket: string }> = {}) =>
  openBreakGlass({ principal, records: stored }, { subjectId: SUBJECT, reason: 'SUPPORT_REQUEST', ticket: 'SUP-1042', ...args });

describe('break-glass grants', () => {
  test('a platform admin gets a grant for a stored subject; its audit purpose is the reason and the folded ticket', async () => {
    const user = await open(admin);
    expect(user.id).toBe(SUBJECT);
    expect(breakGlassOf(user)).toBe(user.breakGlass);
    expect(user.breakGlass).toMatchObject({ subjectId: SUBJECT, reason: 'SUPPORT_REQUEST', ticket: 'sup-1042', grantedTo: 'admin-1' });
    expect(user.breakGlass.auditPurpose).toBe('support_request.sup-1042');
    expect(Object.isFrozen(user.breakGlass)).toBe(true);
  });

  test('tickets are references, never free text', () => {
    for (const ok of ['sup-1042', 'INC-2026-17', 'case_law-7.3', 'a-1']) expect(() => checkTicket(ok)).not.toThrow();
    for (const bad of ['', 'sup', '1042', 'alice@example.com', 'john smith-1', 'sup-', 'sup-abc', `sup-${'1'.repeat(30)}`, 'x'.repeat(17) + '-1']) {
      expect(() => checkTicket(bad)).toThrow(expect.objectContaining({ extensions: expect.objectContaining({ code: 'BAD_USER_INPUT', field: 'ticket' }) }));
    }
    // The longest reason and ticket still fit an audit purpose (64 characters).
    expect(`security_incident.${'a'.repeat(16)}-${'1'.repeat(24)}`.length).toBeLessThanOrEqual(64);
  });

  test('refused: other principals, a reason off the list, a malformed id, a subject the vault does not hold', async () => {
    const tenant: Principal = { kind: 'tenant', tenantId: 't1', clientId: 'c', member: null, scopes: new Set(['platform:admin']), isTenantAdmin: false };
    await expect(open(tenant)).rejects.toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    await expect(open({ kind: 'anonymous' })).rejects.toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    await expect(open(admin, { reason: 'CURIOSITY' })).rejects.toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'reason' } });
    await expect(open(admin, { subjectId: 'not-an-id' })).rejects.toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'subjectId' } });
    await expect(open(admin, { subjectId: '22222222-2222-4222-8222-222222222222' })).rejects.toMatchObject({ extensions: { code: 'NOT_FOUND' } });
  });

  test('only a grant openBreakGlass made counts: no copy, no look-alike, no JSON', async () => {
    const { breakGlass } = await open(admin);
    expect(breakGlassOf({ id: SUBJECT, breakGlass: { ...breakGlass } })).toBeNull();
    expect(breakGlassOf({ id: SUBJECT, breakGlass: Object.create(BreakGlassGrant.prototype) })).toBeNull();
    expect(breakGlassOf(JSON.parse(JSON.stringify({ id: SUBJECT, breakGlass })))).toBeNull();
    expect(breakGlassOf({ id: SUBJECT })).toBeNull();
    expect(() => new (BreakGlassGrant as unknown as new (...args: unknown[]) => unknown)(Symbol('break-glass.issue'), SUBJECT, 'LEGAL_OBLIGATION', 'x-1', 'admin-1')).toThrow();
  });
});
