import type { Router } from 'express';
import { z } from 'zod';
import { AUDIT_ACTIONS, AUDIT_INGEST_PATH, AUDIT_OUTCOMES, type AuditSink } from '../../../shared/audit/events';
import { ACTOR_TYPES } from '../../../shared/auth/principal';
import { ORIGIN_PATTERN, USER_AGENT_CLASSES } from '../../../shared/origin';
import { EXPORT_PATHS, exportRequestSchema, internalRoute } from '../../../shared/export-client';
import { ERASURE_PATHS, auditErasureCheckRequest, type AuditErasureCheck } from '../../../shared/erasure-client';
import { DEADLINE_HEADER, parseDeadlineHeader } from '../../../shared/deadline';
import { internalHandler } from '../../../shared/internal-api';
import type { Logger } from '../../../shared/logger';
import type { AuditSubjectExport } from './services/subject-export';

const optionalId = z.string().max(200).nullable();
const uuid = z.uuid().nullable();

/** Validated strictly: the log must never hold free text that could carry personal data. */
const eventSchema = z.strictObject({
  occurredAt: z.iso.datetime({ offset: true }),
  actorType: z.enum(ACTOR_TYPES),
  actorId: optionalId,
  tenantId: uuid,
  subjectId: uuid,
  action: z.enum(AUDIT_ACTIONS),
  // Type.field, or an object named by a key (PolicyVersion.2026-11, Region.eu).
  field: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/).nullable(),
  purpose: z.string().regex(/^[a-z][a-z0-9_.-]{0,63}$/).nullable(),
  decision: z.enum(['ALLOW', 'DENY']),
  reason: z.string().regex(/^[A-Z_]{1,64}$/),
  consentId: uuid,
  requestId: z.string().min(1).max(128),
  outcome: z.enum(AUDIT_OUTCOMES).nullable().optional(),
  // Truncated or keyed-hashed only: a full address is refused (shared/origin.ts).
  origin: z.string().regex(ORIGIN_PATTERN).nullable().optional(),
  userAgentClass: z.enum(USER_AGENT_CLASSES).nullable().optional(),
});

/**
 * The commit-by time of an ingest request (docs/audit.md#deadlines). The caller waits at most the budget
 * its request states (DEADLINE_HEADER, what is left of its own deadline) and never longer than its
 * client's timeout, INTERNAL_TIMEOUT_MS (the same setting on every service): the events must be
 * committed before the smaller of the two, with a margin for the answer's way back (a fifth of the
 * budget, at most 100 ms).
 */
export function commitBy(arrivedAt: number, timeoutMs: number, statedBudgetMs: number | undefined): number {
  const budget = Math.min(timeoutMs, statedBudgetMs ?? timeoutMs);
  return arrivedAt + budget - Math.min(100, Math.floor(budget / 5));
}

const ingestBody = z.object({ events: z.array(eventSchema).min(1).max(10_000) });

export function ingestRoutes(sink: AuditSink, logger: Logger, options: { timeoutMs: number }) {
  return (router: Router) => {
    router.post(AUDIT_INGEST_PATH.replace(/^\/internal/, ''), (req, res) => {
      const deadline = commitBy(Date.now(), options.timeoutMs, parseDeadlineHeader(req.header(DEADLINE_HEADER)));
      return internalHandler(ingestBody, async ({ events }) => {
        await sink.append(events, { deadline });
        return { appended: events.length };
      }, logger)(req, res);
    });
  };
}

// Data export (GDPR Art. 15): the subject's access log, for identity's export assembly
export function exportRoutes(subjectExport: AuditSubjectExport, logger: Logger) {
  return (router: Router) => {
    router.post(internalRoute(EXPORT_PATHS.subject), internalHandler(exportRequestSchema, (body) => subjectExport.exportSubject(body), logger));
    router.post(internalRoute(EXPORT_PATHS.summary), internalHandler(exportRequestSchema, (body) => subjectExport.summary(body), logger));
  };
}

// Erasure (GDPR Art. 17): the saga's audit step
export function erasureRoutes(check: (subjectId: string) => Promise<AuditErasureCheck>, logger: Logger) {
  return (router: Router) => {
    router.post(
      ERASURE_PATHS.auditCheck.replace(/^\/internal/, ''),
      internalHandler(auditErasureCheckRequest, (body) => check(body.subjectId), logger),
    );
  };
}
