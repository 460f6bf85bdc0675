import { randomUUID } from 'node:crypto';
import { PURPOSE_HEADER, PURPOSE_PATTERN, REQUEST_ID_HEADER } from './pii';

type HeaderSource = { header(name: string): string | undefined };

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{8,128}$/;

/** Accepts a well-formed upstream request id (the gateway's) so one id follows a request through all services. */
export function requestIdFrom(req: HeaderSource): string {
  const given = req.header(REQUEST_ID_HEADER);
  return given && REQUEST_ID_PATTERN.test(given) ? given : randomUUID();
}

/** The declared purpose, or null when absent or not a well-formed purpose key. */
export function purposeFrom(req: HeaderSource): { purpose: string | null; malformed: boolean } {
  const raw = req.header(PURPOSE_HEADER);
  if (raw === undefined || raw.trim() === '') return { purpose: null, malformed: false };
  const value = raw.trim();
  return PURPOSE_PATTERN.test(value) ? { purpose: value, malformed: false } : { purpose: null, malformed: true };
}
