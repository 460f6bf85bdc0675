import { DependencyUnavailableError } from '../../shared/errors';
import { componentLogger } from '../../shared/logger';
import type { TenantPolicy } from '../../shared/tenant-policy-client';
import { createPolicyLookup } from './safelist';

/** The policy cache's fail-closed rule, with identity's answers scripted and the clock moved by hand. */
describe('tenant policy lookup', () => {
  const logger = componentLogger('test.safelist');
  const HASH = 'a'.repeat(64);
  let clock = 0;
  let answer: TenantPolicy | 'down';
  let calls = 0;
  const client = {
    async policy(): Promise<TenantPolicy> {
      calls += 1;
      if (answer === 'down') throw new DependencyUnavailableError('directory', 'identity service unreachable');
      return answer;
    },
  };
  const lookup = () => createPolicyLookup(client, { cacheMs: 3_000, logger, now: () => clock });
  const policy = (mode: TenantPolicy['mode']): TenantPolicy => ({ tenantId: 't1', mode, operationIds: [HASH], rateLimitPoints: null });

  beforeEach(() => {
    clock = 0;
    calls = 0;
  });

  test('a policy is reused within the cache time and read again after it, so a mode change takes effect within it', async () => {
    const policyFor = lookup();
    answer = policy('OFF');
    expect(await policyFor('org')).toMatchObject({ mode: 'OFF' });
    answer = policy('ENFORCE');
    clock = 2_999;
    expect(await policyFor('org')).toMatchObject({ mode: 'OFF' });
    clock = 3_000;
    expect(await policyFor('org')).toMatchObject({ mode: 'ENFORCE', operationIds: new Set([HASH]) });
    expect(calls).toBe(2);
  });

  test('an organization no tenant answers to is asked again on every request, but once per request', async () => {
    const policyFor = lookup();
    answer = { tenantId: null, mode: 'OFF', operationIds: [], rateLimitPoints: null };
    const first = {};
    expect(await policyFor('stranger', first)).toMatchObject({ tenantId: null });
    expect(await policyFor('stranger', first)).toMatchObject({ tenantId: null });
    expect(calls).toBe(1);
    await policyFor('stranger', {});
    expect(calls).toBe(2);
  });

  test('identity unreachable: a never-read policy is unavailable; a recent one still decides; past 30 s only ENFORCE keeps deciding', async () => {
    answer = 'down';
    expect(await lookup()('org')).toBe('unavailable');

    for (const mode of ['OFF', 'REPORT', 'ENFORCE'] as const) {
      const policyFor = lookup();
      clock = 0;
      answer = policy(mode);
      await policyFor('org');
      answer = 'down';
      clock = 29_000;
      expect([mode, await policyFor('org')]).toMatchObject([mode, { mode }]);
      clock = 31_000;
      expect([mode, await policyFor('org')]).toEqual([mode, mode === 'ENFORCE' ? expect.objectContaining({ mode: 'ENFORCE' }) : 'unavailable']);
    }
  });
});
