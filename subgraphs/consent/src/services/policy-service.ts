import { auditedEffect, type ActionAuditor } from '../../../../shared/audit/actions';
import { isUuid } from '../../../../shared/db/data-source';
import { badInput, notFound, privgraphError } from '../../../../shared/errors';
import { isPiiCategory, PURPOSE_PATTERN, type PiiCategory } from '../../../../shared/pii';
import type { LawfulBasis, PolicyVersionRow, PurposeDeclaration } from '../db/entities';
import type { PolicyRepository } from '../db/repositories/policy-repository';

export const POLICY_VERSION_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
const TEXT_HASH_PATTERN = /^[0-9a-f]{64}$/;
const LAWFUL_BASES: readonly LawfulBasis[] = ['CONSENT', 'CONTRACT', 'LEGAL_OBLIGATION', 'VITAL_INTERESTS', 'PUBLIC_TASK', 'LEGITIMATE_INTERESTS'];
/** A century: any number of days, bounded only so that dates stay representable. */
const MAX_RETENTION_DAYS = 36_500;
const MAX_PURPOSES = 100;

export interface PublishPolicyInput {
  version: string;
  url: string;
  textHash: string;
  effectiveAt?: Date | null;
  purposes: PurposeDeclaration[];
}

export type PolicyService = ReturnType<typeof createPolicyService>;

function validUrl(value: string): boolean {
  if (value.length > 2048) return false;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

function validatePurposes(purposes: PurposeDeclaration[]): PurposeDeclaration[] {
  if (purposes.length === 0 || purposes.length > MAX_PURPOSES) {
    throw badInput('input.purposes', `a policy version declares 1 to ${MAX_PURPOSES} purposes`);
  }
  const seen = new Set<string>();
  return purposes.map((purpose, i) => {
    const at = `input.purposes[${i}]`;
    const key = purpose.key.trim();
    if (!PURPOSE_PATTERN.test(key)) {
      throw badInput(`${at}.key`, 'a purpose key is a lower-case letter followed by letters, digits or _ . - (max 64), e.g. order_fulfillment');
    }
    if (seen.has(key)) throw badInput(`${at}.key`, `purpose ${key} is declared twice`);
    seen.add(key);
    const description = purpose.description.trim();
    if (description.length === 0 || description.length > 500) throw badInput(`${at}.description`, 'a description of 1-500 characters is required');
    const categories = [...new Set(purpose.categories)];
    if (categories.length === 0 || !categories.every(isPiiCategory)) throw badInput(`${at}.categories`, 'a purpose needs at least one PII category');
    if (!LAWFUL_BASES.includes(purpose.lawfulBasis)) throw badInput(`${at}.lawfulBasis`, 'unknown lawful basis');
    if (!Number.isInteger(purpose.retentionDays) || purpose.retentionDays < 1 || purpose.retentionDays > MAX_RETENTION_DAYS) {
      throw badInput(`${at}.retentionDays`, `retentionDays must be a whole number of days from 1 to ${MAX_RETENTION_DAYS}`);
    }
    return { key, description, categories: categories as PiiCategory[], lawfulBasis: purpose.lawfulBasis, retentionDays: purpose.retentionDays };
  });
}

export function createPolicyService(deps: { repo: PolicyRepository; now: () => Date }) {
  const { repo, now } = deps;

  return {
    /**
     * Publishes an immutable policy version. Validates everything first, audits (POLICY_PUBLISH), then
     * writes one row: a refused publication leaves nothing behind.
     */
    async publish(tenantId: string, input: PublishPolicyInput, audit: ActionAuditor): Promise<PolicyVersionRow> {
      if (!POLICY_VERSION_PATTERN.test(input.version)) throw badInput('input.version', 'version must be 1-64 letters, digits or . _ -');
      if (!validUrl(input.url)) throw badInput('input.url', 'url must be an http(s) URL of at most 2048 characters');
      const textHash = input.textHash.toLowerCase();
      if (!TEXT_HASH_PATTERN.test(textHash)) throw badInput('input.textHash', 'textHash must be the SHA-256 of the policy text as 64 hex digits');
      const purposes = validatePurposes(input.purposes);
      const publishedAt = now();
      const effectiveAt = input.effectiveAt ?? publishedAt;
      if (effectiveAt.getTime() < publishedAt.getTime()) throw badInput('input.effectiveAt', 'effectiveAt cannot be in the past');
      const latest = await repo.findLatestPolicy(tenantId);
      if (await repo.findPolicyVersion(tenantId, input.version)) {
        throw privgraphError('ALREADY_EXISTS', `policy version ${input.version} is already published`, { field: 'input.version' });
      }
      if (latest && effectiveAt.getTime() < latest.effectiveAt.getTime()) {
        throw badInput('input.effectiveAt', `effectiveAt must not precede that of version ${latest.version} (${latest.effectiveAt.toISOString()})`);
      }
      const policy: PolicyVersionRow = { tenantId, version: input.version, url: input.url, textHash, effectiveAt, publishedAt, purposes };
      return auditedEffect(audit, 'POLICY_PUBLISH', { tenantId, field: `PolicyVersion.${input.version}` }, async () => {
        if (!(await repo.insertPolicyVersion(policy))) {
          throw privgraphError('ALREADY_EXISTS', `policy version ${input.version} is already published`, { field: 'input.version' });
        }
        return policy;
      });
    },

    /** The version in force for a tenant; an id that is no tenant's simply has none. */
    currentFor(tenantId: string): Promise<PolicyVersionRow | null> {
      if (!isUuid(tenantId)) throw badInput('tenantId', 'tenantId is not a valid id');
      return repo.findCurrentPolicy(tenantId, now());
    },

    list(tenantId: string): Promise<PolicyVersionRow[]> {
      return repo.listPolicyVersions(tenantId);
    },

    /**
     * The purpose a grant may be given for: declared in the version in force, which must be the one
     * the grant names (so nobody consents to superseded text).
     */
    async grantablePurpose(tenantId: string, purposeKey: string, version: string): Promise<{ policy: PolicyVersionRow; purpose: PurposeDeclaration }> {
      const current = await repo.findCurrentPolicy(tenantId, now());
      if (!current) {
        throw privgraphError('PURPOSE_NOT_PUBLISHED', 'the tenant has not published a policy version yet', { field: 'input.purpose' });
      }
      if (current.version !== version) {
        if (!(await repo.findPolicyVersion(tenantId, version))) throw notFound('Policy version');
        throw privgraphError('POLICY_VERSION_OUTDATED', `policy version ${version} is not in force; the current version is ${current.version}`, {
          field: 'input.policyVersion',
        });
      }
      const purpose = current.purposes.find((p) => p.key === purposeKey);
      if (!purpose) {
        throw privgraphError('PURPOSE_NOT_PUBLISHED', `purpose ${purposeKey} is not declared in policy version ${current.version}`, { field: 'input.purpose' });
      }
      return { policy: current, purpose };
    },
  };
}
