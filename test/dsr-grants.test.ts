import { join } from 'node:path';
import { signDsrGrant } from '../shared/dsr-grant';
import { INTERNAL_TOKEN_HEADER } from '../shared/internal-api';
import { loadSigningKey } from '../shared/signing-key';
import { startTestStack, type TestStack } from './kit/stack';
import { createSubject, PROFILE, subjectIdByEmail } from './kit/scenario';

/*
 * The vault's export and erase routes need identity's signed grant, not only the internal token that
 * every service (the gateway too) holds: a token holder cannot decrypt or shred anyone through them.
 */
describe('grants for the vault\'s export and erase routes', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(() => stack.stop());

  const call = (path: string, body: unknown) =>
    fetch(`${stack.running.subgraphs.pii.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [INTERNAL_TOKEN_HEADER]: stack.reuse.internalToken },
      body: JSON.stringify(body),
    });

  test('without a valid grant the internal token alone decrypts and destroys nothing', async () => {
    const subject = await createSubject(stack, 'grant-alice', { ...PROFILE, email: 'grant-alice@example.com' }, []);
    const subjectId = await subjectIdByEmail(stack, 'grant-alice@example.com');
    const requestId = '00000000-0000-4000-8000-000000000001';
    const platform = await loadSigningKey(join(stack.dataDir, 'secrets', 'platform-signing-key.jwk.json'), { create: false });
    const stranger = await loadSigningKey(join(stack.dataDir, 'stranger.jwk.json'), { create: true });
    const now = new Date();

    for (const grant of [undefined, 'not-a-jws', await signDsrGrant(stranger, { subjectId, requestId, action: 'export' }, now), await signDsrGrant(platform, { subjectId, requestId, action: 'erase' }, now)]) {
      expect((await call('/internal/v1/export/subject', { subjectId, requestId, grant })).status).toBe(403);
    }
    // A grant for another subject, or an expired one, is refused too.
    const other = await signDsrGrant(platform, { subjectId: '00000000-0000-4000-8000-000000000002', requestId, action: 'export' }, now);
    expect((await call('/internal/v1/export/subject', { subjectId, requestId, grant: other })).status).toBe(403);
    const expired = await signDsrGrant(platform, { subjectId, requestId, action: 'export' }, new Date(now.getTime() - 10 * 60_000));
    expect((await call('/internal/v1/export/subject', { subjectId, requestId, grant: expired })).status).toBe(403);
    for (const grant of ['x', await signDsrGrant(platform, { subjectId, requestId, action: 'export' }, now)]) {
      expect((await call('/internal/v1/erasure/pii', { subjectId, requestId, grant })).status).toBe(403);
    }
    // Nothing was erased: the subject still reads their profile.
    const me = await stack.gql('{ me { email } }', {}, { token: subject.token });
    expect(me.data?.me).toEqual({ email: 'grant-alice@example.com' });

    // With identity's grant the same call works (as the export download and the erasure saga make it).
    const good = await call('/internal/v1/export/subject', { subjectId, requestId, grant: await signDsrGrant(platform, { subjectId, requestId, action: 'export' }, now) });
    expect(good.status).toBe(200);
    expect(((await good.json()) as { email: string }).email).toBe('grant-alice@example.com');
  });
});
