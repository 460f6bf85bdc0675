import { randomUUID } from 'node:crypto';
import { auditedEffect, type ActionAuditor } from '../../../../shared/audit/actions';
import type { ExtendedDirectory } from '../../../../shared/directory-client';
import { isUuid } from '../../../../shared/db/data-source';
import { badInput, notFound, privgraphError } from '../../../../shared/errors';
import { componentLogger } from '../../../../shared/logger';
import { checkAdminReason } from '../../../../shared/pii';
import type { SigningKey } from '../../../../shared/signing-key';
import type { AuditRepository } from '../db/repositories/audit-repository';
import type { AuditPartition, LegalHold, RetentionRepository, TenantRetention } from '../db/repositories/retention-repository';
import { signPurgeRecord, type PurgeRecord } from './purge-records';
import type { Verification, VerificationProblem } from './verification';

const MAX_DAYS = 36_500;

export type PartitionFate = 'REMOVED' | 'KEPT_RETENTION' | 'KEPT_LEGAL_HOLD' | 'CURRENT';

export interface PartitionStatus extends AuditPartition {
  events: number;
  /** When every event in it has passed its retention (null when empty). */
  removableAfter: Date | null;
  holdIds: string[];
  fate: PartitionFate;
}

export interface RetentionRun {
  ranAt: Date;
  removed: PartitionStatus[];
  kept: PartitionStatus[];
  /** The checkpoint signed before anything was removed. */
  checkpointSeq: number | null;
  /** Set when the run refused to remove anything because the log does not verify. */
  problem: VerificationProblem | null;
}

export interface RetentionDeps {
  repo: AuditRepository;
  retention: RetentionRepository;
  key: SigningKey;
  checkpointNow: () => Promise<{ seq: number } | null>;
  verify: () => Promise<Verification>;
  defaultDays: number;
  now: () => Date;
  /** Identity's directory (over its internal API): settings and holds name tenants and subjects that exist. */
  directory: Pick<ExtendedDirectory, 'tenantNames' | 'existingSubjects'>;
}

const logger = componentLogger('audit.retention');

export type RetentionService = ReturnType<typeof createRetentionService>;

/**
 * Retention and legal hold. Events leave the log only by whole month partitions, and only when every
 * event in the partition has passed its tenant's retention (or the default) and none is under a legal
 * hold: retention is a minimum for each event, never cut short by another tenant's shorter one.
 * Before a partition goes, the log must verify, the removal is audited (AUDIT_PURGE) and a checkpoint
 * is signed; the removed runs of sequence numbers are kept in a signed purge record so verification
 * bridges the gap, while any other missing event still breaks the chain.
 */
export function createRetentionService(deps: RetentionDeps) {
  const { retention, now, directory } = deps;
  let running: Promise<RetentionRun> | null = null;

  /** NOT_FOUND (with the field) before anything is audited: no setting or hold names a tenant or subject that does not exist. */
  async function requireTenant(tenantId: string, field: string) {
    if (!(await directory.tenantNames([tenantId])).has(tenantId)) throw privgraphError('NOT_FOUND', 'Tenant not found', { field });
  }
  async function requireSubject(subjectId: string, field: string) {
    if (!(await directory.existingSubjects([subjectId])).has(subjectId)) throw privgraphError('NOT_FOUND', 'Subject not found', { field });
  }

  async function statusOf(partition: AuditPartition, at: Date): Promise<PartitionStatus> {
    const contents = await retention.contentsOf(partition, deps.defaultDays);
    const base = { ...partition, events: contents.events, removableAfter: contents.keepUntil, holdIds: contents.holdIds };
    let fate: PartitionFate;
    if (partition.to.getTime() > at.getTime()) fate = 'CURRENT';
    else if (contents.holdIds.length > 0) fate = 'KEPT_LEGAL_HOLD';
    else if (contents.keepUntil && contents.keepUntil.getTime() > at.getTime()) fate = 'KEPT_RETENTION';
    else fate = 'REMOVED';
    return { ...base, fate };
  }

  async function run(audit: ActionAuditor, reason: string): Promise<RetentionRun> {
    const ranAt = now();
    const statuses = await Promise.all((await retention.listPartitions()).map((p) => statusOf(p, ranAt)));
    const due = statuses.filter((s) => s.fate === 'REMOVED');
    const kept = statuses.filter((s) => s.fate !== 'REMOVED');
    if (due.length === 0) return { ranAt, removed: [], kept, checkpointSeq: null, problem: null };
    // Never destroy the evidence of tampering: a log that does not verify loses nothing.
    const verification = await deps.verify();
    if (!verification.ok) {
      logger.error({ problem: verification.problem, firstBadSeq: verification.firstBadSeq }, 'retention refused: the audit log does not verify');
      return { ranAt, removed: [], kept: statuses, checkpointSeq: null, problem: verification.problem };
    }
    for (const partition of due) await audit('AUDIT_PURGE', { tenantId: null, field: `AuditPartition.${partition.name}`, purpose: reason });
    const checkpoint = await deps.checkpointNow();
    const head = await deps.repo.readHead();
    const removed: PartitionStatus[] = [];
    for (const partition of due) {
      const runs = await retention.seqRunsOf(partition);
      // The chain head always stays: the next event is chained onto it.
      if (runs.some((r) => BigInt(r.to) >= head.seq)) {
        kept.push({ ...partition, fate: 'CURRENT' });
        continue;
      }
      const record: PurgeRecord = {
        id: randomUUID(),
        partition: partition.name,
        from: partition.from.toISOString(),
        to: partition.to.toISOString(),
        events: partition.events,
        runs,
        purgedAt: now().toISOString(),
      };
      const dropped = await retention.dropPartition(partition, {
        id: record.id,
        partitionName: partition.name,
        rangeFrom: partition.from,
        rangeTo: partition.to,
        events: partition.events,
        purgedAt: new Date(record.purgedAt),
        record: await signPurgeRecord(deps.key, record),
      });
      if (!dropped) continue; // another replica removed it first
      removed.push(partition);
      logger.info({ partition: partition.name, events: partition.events }, 'audit partition removed after retention');
    }
    deps.repo.forgetPartitions();
    return { ranAt, removed, kept, checkpointSeq: checkpoint?.seq ?? null, problem: null };
  }

  return {
    defaultDays: deps.defaultDays,

    async status(): Promise<{ partitions: PartitionStatus[]; tenants: TenantRetention[]; holds: LegalHold[] }> {
      const at = now();
      const [partitions, tenants, holds] = await Promise.all([
        retention.listPartitions().then((list) => Promise.all(list.map((p) => statusOf(p, at)))),
        retention.listRetentions(),
        retention.listHolds(),
      ]);
      return { partitions, tenants, holds };
    },

    purges: () => retention.listPurges(),

    /** One run at a time per process; a second caller gets the run in progress. */
    run(audit: ActionAuditor, reason: string): Promise<RetentionRun> {
      checkAdminReason(reason);
      running ??= run(audit, reason).finally(() => {
        running = null;
      });
      return running;
    },

    async setRetention(audit: ActionAuditor, principalId: string, tenantId: string, days: number, reason: string): Promise<TenantRetention> {
      checkAdminReason(reason);
      if (!isUuid(tenantId)) throw badInput('tenantId', 'tenantId is not a valid id');
      if (!Number.isInteger(days) || days < 1 || days > MAX_DAYS) throw badInput('days', `days must be a whole number from 1 to ${MAX_DAYS}`);
      await requireTenant(tenantId, 'tenantId');
      const setAt = now();
      return auditedEffect(audit, 'AUDIT_RETENTION_SET', { tenantId, field: `AuditRetention.${days}`, purpose: reason }, async () => {
        await retention.insertRetention(tenantId, days, setAt, principalId);
        return { tenantId, days, setAt };
      });
    },

    async placeHold(audit: ActionAuditor, principalId: string, input: { tenantId?: string | null; subjectId?: string | null; reason: string }): Promise<LegalHold> {
      checkAdminReason(input.reason);
      const tenantId = input.tenantId ?? null;
      const subjectId = input.subjectId ?? null;
      if ((tenantId === null) === (subjectId === null)) throw badInput('input', 'a legal hold names either a tenantId or a subjectId');
      if (tenantId !== null && !isUuid(tenantId)) throw badInput('input.tenantId', 'tenantId is not a valid id');
      if (subjectId !== null && !isUuid(subjectId)) throw badInput('input.subjectId', 'subjectId is not a valid id');
      if (tenantId !== null) await requireTenant(tenantId, 'input.tenantId');
      if (subjectId !== null) await requireSubject(subjectId, 'input.subjectId');
      const hold = { id: randomUUID(), tenantId, subjectId, reason: input.reason, placedAt: now(), placedBy: principalId };
      return auditedEffect(audit, 'LEGAL_HOLD_PLACE', { tenantId, subjectId, field: `LegalHold.${hold.id.replace(/-/g, '')}`, purpose: input.reason }, async () => {
        await retention.insertHold(hold);
        return { ...hold, releasedAt: null, releaseReason: null };
      });
    },

    async releaseHold(audit: ActionAuditor, principalId: string, id: string, reason: string): Promise<LegalHold> {
      checkAdminReason(reason);
      const [hold] = isUuid(id) ? await retention.listHolds({ id }) : [];
      if (!hold) throw notFound('Legal hold');
      if (hold.releasedAt) throw privgraphError('CONFLICT', 'this legal hold is already released');
      return auditedEffect(audit, 'LEGAL_HOLD_RELEASE', { tenantId: hold.tenantId, subjectId: hold.subjectId, field: `LegalHold.${hold.id.replace(/-/g, '')}`, purpose: reason }, async () => {
        // Of two releases racing, the second changes nothing and is told so (recorded as FAILED).
        if (!(await retention.insertRelease(hold.id, reason, now(), principalId))) throw privgraphError('CONFLICT', 'this legal hold is already released');
        const [released] = await retention.listHolds({ id });
        return released;
      });
    },
  };
}
