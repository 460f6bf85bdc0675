import DataLoader from 'dataloader';
import { internalClientFor } from '../internal-api';
import type { InternalApiConfig } from '../config';
import { AUDIT_INGEST_PATH, type AuditEventInput, type AuditSink } from './events';

/** The audit service's ingest endpoint as a sink. */
export function createRemoteAuditSink(config: InternalApiConfig): AuditSink {
  const client = internalClientFor(config, 'audit');
  return {
    async append(events) {
      await client.post<{ appended: number }>(AUDIT_INGEST_PATH, { events });
    },
  };
}

/**
 * Per-request recorder: every decision made in the same tick of one request is sent as one batch
 * and committed in one transaction; each caller waits for that commit before releasing anything.
 */
export function createRequestAuditRecorder(sink: AuditSink): DataLoader<AuditEventInput, true> {
  return new DataLoader<AuditEventInput, true>(
    async (events) => {
      try {
        await sink.append([...events]);
        return events.map(() => true as const);
      } catch (error) {
        return events.map(() => (error instanceof Error ? error : new Error('audit append failed')));
      }
    },
    { cache: false, maxBatchSize: 1000 },
  );
}
