import { hash } from 'node:crypto';
import type { AuditEventInput } from '../../../../shared/audit/events';

/** The predecessor of event 1. */
export const GENESIS_HASH: Buffer = Buffer.alloc(32);

/** occurredAt as canonical ISO-8601 with milliseconds and Z (what PostgreSQL's timestamptz gives back). */
export type ChainedFields = AuditEventInput & { seq: string };

const CANONICAL_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export function canonicalTime(value: string | Date): string {
  if (typeof value === 'string' && CANONICAL_TIME.test(value)) return value;
  return (typeof value === 'string' ? new Date(value) : value).toISOString();
}

/**
 * hash(n) = SHA-256(hash(n-1) ‖ canonical(event n)). The canonical form is a JSON array in a fixed
 * order, with the sequence number included, so editing, reordering or renumbering any event breaks
 * the chain from that event on.
 */
export function chainHash(prevHash: Buffer, event: ChainedFields): Buffer {
  const fields: unknown[] = [
    1,
    event.seq,
    event.occurredAt,
    event.actorType,
    event.actorId,
    event.tenantId,
    event.subjectId,
    event.action,
    event.field,
    event.purpose,
    event.decision,
    event.reason,
    event.consentId,
    event.requestId,
  ];
  // Added fields join the canonical form only when set, so events recorded before them still verify.
  if (event.outcome) fields.push(['outcome', event.outcome]);
  if (event.origin) fields.push(['origin', event.origin]);
  if (event.userAgentClass) fields.push(['userAgentClass', event.userAgentClass]);
  const canonical = JSON.stringify(fields);
  // One-shot hashing: the same digest as update(prevHash).update(canonical), without a Hash object per event.
  return hash('sha256', Buffer.concat([prevHash, Buffer.from(canonical, 'utf8')]), 'buffer');
}
