import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { ActionAuditor } from '../../../../shared/audit/actions';
import type { SubjectPrincipal } from '../../../../shared/auth/principal';
import type { ConsentPurposes } from '../../../../shared/consent-purposes-client';
import { isUuid } from '../../../../shared/db/data-source';
import { DependencyUnavailableError, forbidden, notFound, privgraphError } from '../../../../shared/errors';
import { SIGNING_ALGORITHM, type SigningKey } from '../../../../shared/signing-key';
import type { PassportSettings } from '../config';
import type { SubjectStanding, TenantAdminRepository } from '../db/repositories/tenant-admin-repository';

/** The JOSE `typ` of a passport (RFC 8725 §3.11: explicit typing, so no other platform JWT passes for one). */
export const PASSPORT_TYP = 'privgraph-passport+jwt';

/** Every claim a passport carries; nothing else, and nothing that is personal data (docs/passports.md). */
export interface PassportClaims {
  iss: string;
  /** The subject's pairwise ref for the audience tenant. */
  sub: string;
  /** The tenant id. */
  aud: string;
  iat: number;
  exp: number;
  jti: string;
  status: 'ACTIVE';
  email_verified: boolean;
  phone_number_verified: boolean;
  /** Sorted purpose keys of the subject's consents in force to the tenant. */
  purposes: string[];
}

export interface Passport {
  token: string;
  expiresAt: Date;
}

export type PassportService = ReturnType<typeof createPassportService>;

export const userBlocked = () => privgraphError('USER_BLOCKED', 'This account is blocked for this tenant; no passport is issued');

/**
 * Why a passport cannot be issued, or null when it can. A suspended subject is refused before the
 * link is looked at, so the answer never tells a suspended person which shops know them.
 */
export function passportRefusal(standing: SubjectStanding) {
  if (!standing.tenantExists) return notFound('Tenant');
  if (standing.subjectStatus === 'BLOCKED') return userBlocked();
  if (standing.subjectStatus !== 'ACTIVE') return forbidden('This account cannot have a passport issued');
  if (!standing.link) return privgraphError('NOT_CONNECTED', 'You are not connected to this tenant (connectTenant first)');
  if (standing.link.status === 'BLOCKED') return userBlocked();
  return null;
}

/**
 * Passports: a compact JWS a subject hands a shop's storefront to say "this is your customer <ref>",
 * signed with the platform key the gateway publishes, so the shop verifies it offline.
 */
export function createPassportService(deps: {
  repo: TenantAdminRepository;
  consents: ConsentPurposes;
  key: SigningKey;
  settings: PassportSettings;
  now: () => Date;
}) {
  const { repo, consents, key, settings, now } = deps;
  return {
    /** Checks standing, reads the purposes, audits PASSPORT_ISSUE, then signs. */
    async issue(principal: SubjectPrincipal, tenantId: string, audit: ActionAuditor): Promise<Passport> {
      if (!isUuid(tenantId)) throw notFound('Tenant');
      const standing = await repo.findStanding(tenantId, principal.subjectId);
      const refusal = passportRefusal(standing);
      if (refusal) throw refusal;
      let purposes: string[];
      try {
        purposes = await consents.activePurposes(tenantId, principal.subjectId);
      } catch (error) {
        if (error instanceof DependencyUnavailableError) throw privgraphError('CONSENT_UNAVAILABLE', 'Consents could not be read; no passport was issued');
        throw error;
      }
      const issuedAt = Math.floor(now().getTime() / 1000);
      const claims: PassportClaims = {
        iss: settings.issuer,
        sub: standing.link!.ref,
        aud: tenantId,
        iat: issuedAt,
        exp: issuedAt + settings.ttlSeconds,
        jti: randomUUID(),
        status: 'ACTIVE',
        email_verified: principal.emailVerified === true,
        phone_number_verified: principal.phoneNumberVerified === true,
        purposes: [...new Set(purposes)].sort(),
      };
      await audit('PASSPORT_ISSUE', { subjectId: principal.subjectId, tenantId });
      const token = await new SignJWT({ ...claims }).setProtectedHeader({ alg: SIGNING_ALGORITHM, kid: key.kid, typ: PASSPORT_TYP }).sign(key.privateKey);
      return { token, expiresAt: new Date(claims.exp * 1000) };
    },
  };
}
