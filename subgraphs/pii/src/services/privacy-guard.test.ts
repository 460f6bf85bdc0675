import type { AuditEventInput } from '../../../../shared/audit/events';
import type { Principal } from '../../../../shared/auth/principal';
import { DependencyUnavailableError } from '../../../../shared/errors';
import type { PiiField } from '../../../../shared/permissions';
import type { Standing } from '../../../../shared/standing-client';
import { createPrivacyGuard } from './privacy-guard';

const ALICE = '11111111-1111-4111-8111-111111111111';
const BOB = '22222222-2222-4222-8222-222222222222';
const TENANT = '33333333-3333-4333-8333-333333333333';
const email: PiiField = { typeName: 'User', fieldName: 'email', category: 'CONTACT' };
const phone: PiiField = { typeName: 'User', fieldName: 'phone', category: 'CONTACT' };
const tenant: Principal = { kind: 'tenant', tenantId: TENANT, clientId: 'c', member: null, scopes: new Set(['pii:contact:read']), isTenantAdmin: false } as Principal;

/** The guard's ports, recording what they are asked (the consent, standing and audit services' contracts). */
function ports(standing: (subjectIds: string[]) => Promise<Map<string, Standing>>) {
  const calls = { standing: [] as string[][], consent: [] as string[][] };
  const events: AuditEventInput[] = [];
  const guard = createPrivacyGuard(
    {
      consents: {
        activeConsents: async (_tenantId, _purpose, subjectIds) => {
          calls.consent.push(subjectIds);
          return subjectIds.map((subjectId) => ({ subjectId, consentId: `consent-${subjectId}`, categories: ['CONTACT'] }));
        },
      },
      standing: {
        standings: async (tenantId, subjectIds) => {
          expect(tenantId).toBe(TENANT);
          calls.standing.push(subjectIds);
          return standing(subjectIds);
        },
      },
      audit: { append: async (batch) => void events.push(...batch) },
      now: () => new Date(),
    },
    { principal: tenant, purpose: 'order_fulfillment', purposeMalformed: false, requestId: 'req-1' },
  );
  return { guard, calls, events };
}

const codeOf = (result: true | { extensions: Record<string, unknown> }) => (result === true ? true : result.extensions.code);

describe('the privacy guard and the standing check', () => {
  test('one standing lookup for every subject and field of a request, side by side with the consent lookup; a blocked user is refused per field', async () => {
    const { guard, calls, events } = ports(async () => new Map<string, Standing>([[ALICE, 'ACTIVE'], [BOB, 'BLOCKED']]));
    const results = await Promise.all([ALICE, BOB].flatMap((id) => [email, phone].map((field) => guard.authorizeRead(id, field))));
    expect(results.map(codeOf)).toEqual([true, true, 'USER_BLOCKED', 'USER_BLOCKED']);
    expect(calls.standing).toEqual([[ALICE, BOB]]);
    expect(calls.consent).toEqual([[ALICE, BOB]]);
    expect(events.filter((e) => e.subjectId === BOB).map((e) => [e.decision, e.reason])).toEqual([
      ['DENY', 'USER_BLOCKED'],
      ['DENY', 'USER_BLOCKED'],
    ]);
  });

  test('identity unreachable: every field is refused (DEPENDENCY_UNAVAILABLE) and audited as a denial', async () => {
    const { guard, events } = ports(async () => {
      throw new DependencyUnavailableError('directory', 'directory service unreachable');
    });
    expect(codeOf(await guard.authorizeRead(ALICE, email))).toBe('DEPENDENCY_UNAVAILABLE');
    expect(events.map((e) => [e.decision, e.reason])).toEqual([['DENY', 'DEPENDENCY_UNAVAILABLE']]);
  });
});
