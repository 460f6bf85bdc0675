import { SERVICE_NAMES } from '../shared/config';
import { auditEvents, codes, createSubject, createTenant, grantConsent, PROFILE } from './kit/scenario';
import { startTestStack, type TestStack } from './kit/stack';

describe('health endpoints', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(() => stack?.stop());

  test('every service answers /healthz and /readyz; the gateway is ready only while every subgraph is', async () => {
    for (const service of [stack.running.gateway, ...SERVICE_NAMES.map((name) => stack.running.subgraphs[name])]) {
      const health = await fetch(`${service.url}/healthz`);
      expect({ service: service.name, status: health.status }).toEqual({ service: service.name, status: 200 });
      const ready = await fetch(`${service.url}/readyz`);
      expect({ service: service.name, status: ready.status }).toEqual({ service: service.name, status: 200 });
    }
    await stack.running.subgraphs.consent.stop();
    const degraded = await fetch(`${stack.running.gateway.url}/readyz`);
    expect(degraded.status).toBe(503);
    expect(await degraded.json()).toEqual({ status: 'unavailable', service: 'gateway' });
    expect((await fetch(`${stack.running.gateway.url}/healthz`)).status).toBe(200);
  });
});

describe('failing dependencies', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(() => stack?.stop());

  test('consent service down: PII is denied with CONSENT_UNAVAILABLE and the denial is audited; identity down: DEPENDENCY_UNAVAILABLE', async () => {
    const shop = await createTenant(stack, 'Fragile Shop');
    const subject = await createSubject(stack, 'fragile', PROFILE, [shop]);
    await grantConsent(stack, subject, { tenantId: shop, purpose: 'crm', categories: ['CONTACT'] });
    const token = await stack.tokens.tenant(shop, ['pii:contact:read']);
    const query = 'query($ref: ID!) { user(ref: $ref) { ref email } }';

    await stack.running.subgraphs.consent.stop();
    const withoutConsent = await stack.gql(query, { ref: subject.refs[shop] }, { token, purpose: 'crm' });
    expect(withoutConsent.data?.user).toEqual({ ref: subject.refs[shop], email: null });
    expect(codes(withoutConsent)).toEqual(['CONSENT_UNAVAILABLE']);
    const events = await auditEvents(stack, token, { requestId: withoutConsent.headers.get('x-request-id') });
    expect(events).toEqual([expect.objectContaining({ field: 'User.email', decision: 'DENY', reason: 'CONSENT_UNAVAILABLE' })]);

    await stack.running.subgraphs.identity.stop();
    // A fresh caller: the pii service must ask the directory, which is gone.
    const stranger = await stack.tokens.subject('never-seen-before');
    const response = await stack.gql('query($r: [_Any!]!) { _entities(representations: $r) { ... on User { email } } }', { r: [{ __typename: 'User', id: '00000000-0000-4000-8000-000000000000' }] }, { token: stranger, service: 'pii' });
    expect(response.status).toBe(503);
    expect(codes(response)).toEqual(['DEPENDENCY_UNAVAILABLE']);
  });
});
