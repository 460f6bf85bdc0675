import type { JWK } from 'jose';
import { openDocument, signDocument, type SigningKey } from '../../../../shared/signing-key';
import type { SeqRun } from '../db/repositories/retention-repository';

/**
 * Signed purge records: what retention removed, signed by the platform's key when a partition goes.
 * This module owns the document type, so retention (which writes them) and verification (which bridges
 * the removed runs with them) both import from here and neither imports the other.
 */
export const PURGE_TYPE = 'privgraph-audit-purge+jws';

/** What a signed purge record says: which partition went, when, and the runs of events it held. */
export interface PurgeRecord {
  id: string;
  partition: string;
  from: string;
  to: string;
  events: number;
  runs: SeqRun[];
  purgedAt: string;
}

export function signPurgeRecord(key: SigningKey, record: PurgeRecord): Promise<string> {
  return signDocument(key, PURGE_TYPE, record);
}

/** The record, if its signature verifies with the platform key; null otherwise. */
export async function openPurgeRecord(publicJwk: JWK, jws: string): Promise<PurgeRecord | null> {
  const record = (await openDocument(publicJwk, PURGE_TYPE, jws)) as PurgeRecord | null;
  return record && Array.isArray(record.runs) ? record : null;
}
