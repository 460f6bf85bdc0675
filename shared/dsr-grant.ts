import { z } from 'zod';
import { openDocument, signDocument, type SigningKey } from './signing-key';

/**
 * The vault's most powerful internal calls — decrypt everything about a subject (an export), destroy
 * everything about a subject (an erasure) — need more than the internal token every service holds:
 * a short-lived grant signed with the platform key by identity, which runs data subject requests,
 * naming the subject, the request and the action. A token holder without the platform key (the
 * gateway, say) can neither read nor shred anyone through them.
 */
export const DSR_GRANT_TYP = 'privgraph-dsr-grant+jws';
const GRANT_SECONDS = 300;

export type DsrGrantAction = 'export' | 'erase';

const grantSchema = z.strictObject({
  sub: z.uuid(),
  rid: z.uuid(),
  act: z.enum(['export', 'erase']),
  exp: z.number().int(),
});

export function signDsrGrant(key: SigningKey, grant: { subjectId: string; requestId: string; action: DsrGrantAction }, now: Date): Promise<string> {
  return signDocument(key, DSR_GRANT_TYP, { sub: grant.subjectId, rid: grant.requestId, act: grant.action, exp: Math.floor(now.getTime() / 1000) + GRANT_SECONDS });
}

/** The request id the grant was issued for, when it verifies for this subject and action and has not expired; else null. */
export async function verifyDsrGrant(
  publicJwk: SigningKey['publicJwk'],
  jws: string | undefined,
  expected: { subjectId: string; action: DsrGrantAction },
  now: Date,
): Promise<string | null> {
  if (!jws) return null;
  const parsed = grantSchema.safeParse(await openDocument(publicJwk, DSR_GRANT_TYP, jws));
  if (!parsed.success) return null;
  const { sub, rid, act, exp } = parsed.data;
  return sub === expected.subjectId && act === expected.action && exp * 1000 > now.getTime() ? rid : null;
}
