import { LessThanOrEqual, type DataSource } from 'typeorm';
import { qualifiedTable } from '../../../../../shared/db/data-source';
import { PolicyVersionEntity, type PolicyVersionRow } from '../entities';

export type PolicyRepository = ReturnType<typeof createPolicyRepository>;

export function createPolicyRepository(dataSource: DataSource) {
  const policies = dataSource.getRepository(PolicyVersionEntity);
  const policyTable = qualifiedTable(dataSource, 'policy_version');
  const newestFirst = { effectiveAt: 'DESC', seq: 'DESC' } as const;

  return {
    /** Inserts a version; false when the tenant already has one by that name (nothing written). */
    async insertPolicyVersion(policy: PolicyVersionRow): Promise<boolean> {
      const inserted = await dataSource.query(
        `INSERT INTO ${policyTable}
           (tenant_id, version, url, text_hash, effective_at, published_at, purposes)
         VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)
         ON CONFLICT (tenant_id, version) DO NOTHING RETURNING seq`,
        [policy.tenantId, policy.version, policy.url, policy.textHash, policy.effectiveAt, policy.publishedAt, JSON.stringify(policy.purposes)],
      );
      return inserted.length === 1;
    },

    /** The version in force at `at`: the latest effective one (a later publication wins a tie). */
    findCurrentPolicy(tenantId: string, at: Date): Promise<PolicyVersionRow | null> {
      return policies.findOne({ where: { tenantId, effectiveAt: LessThanOrEqual(at) }, order: newestFirst });
    },

    /** The latest version by effective date, scheduled ones included. */
    findLatestPolicy(tenantId: string): Promise<PolicyVersionRow | null> {
      return policies.findOne({ where: { tenantId }, order: newestFirst });
    },

    findPolicyVersion(tenantId: string, version: string): Promise<PolicyVersionRow | null> {
      return policies.findOne({ where: { tenantId, version } });
    },

    listPolicyVersions(tenantId: string): Promise<PolicyVersionRow[]> {
      return policies.find({ where: { tenantId }, order: newestFirst });
    },
  };
}
