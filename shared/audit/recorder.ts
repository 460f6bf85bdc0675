import DataLoader from 'dataloader';
import { internalClientFor } from '../internal-api';
import type { InternalApiConfig } from '../config';
import { Deadline } from '../deadline';
import { AUDIT_INGEST_PATH, type AuditEventInput, type AuditSink } from './events';

/**
 * A sink that can bound one append by the calling request's deadline. The remote sink does: the ingest request carries
 * the budget left (x-privgraph-deadline-ms) and waits no longer than it (docs/security.md#deadlines).
 */
export interface DeadlineBoundSink {
  appendWithin(events: AuditEventInput[], deadline: Deadline): Promise<void>;
}

/** The audit service's ingest endpoint as a sink. */
export function createRemoteAuditSink(config: InternalApiConfig): AuditSink & DeadlineBoundSink {
  const client = internalClientFor(config, 'audit');
  return {
    async append(events) {
      await client.post<{ appended: number }>(AUDIT_INGEST_PATH, { events });
    },
    async appendWithin(events, deadline) {
      await client.post<{ appended: number }>(AUDIT_INGEST_PATH, { events }, { deadline });
    },
  };
}

function boundByDeadline(sink: AuditSink): sink is AuditSink & DeadlineBoundSink {
  return typeof (sink as Partial<DeadlineBoundSink>).appendWithin === 'function';
}

/**
 * The budget an append is sent with: the request's, less a margin the caller keeps for itself (a tenth, at most 20 ms),
 * so the audit service commits by a time the caller can still act on (its answer parsed, the deadline checked) and a
 * committed ALLOW is rarely followed by a value withheld at the deadline (docs/audit.md#deadlines).
 */
export function appendBudget(deadline: Deadline): Deadline {
  const left = deadline.remainingMs();
  return Deadline.in(left - Math.min(20, Math.floor(left / 10)));
}

/**
 * Per-request recorder: every decision made in the same tick of one request is sent as one batch
 * and committed in one transaction; each caller waits for that commit before releasing anything.
 */
export function createRequestAuditRecorder(sink: AuditSink, deadline?: Deadline): DataLoader<AuditEventInput, true> {
  return new DataLoader<AuditEventInput, true>(
    async (events) => {
      try {
        // With the request's deadline, where the sink can take it (a test's wrapped sink may not): the budget left goes along.
        if (deadline && boundByDeadline(sink)) await sink.appendWithin([...events], appendBudget(deadline));
        else await sink.append([...events]);
        return events.map(() => true as const);
      } catch (error) {
        return events.map(() => (error instanceof Error ? error : new Error('audit append failed')));
      }
    },
    { cache: false, maxBatchSize: 1000 },
  );
}
