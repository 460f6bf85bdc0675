import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { auditedEffect, type ActionAuditor } from '../../../../shared/audit/actions';
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
  /** The storefront app the subject signed in to (its OIDC client id; OIDC Core §2 authorized party). */
  azp: string;
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

export const clientNotAllowed = () =>
  privgraphError(
    'PASSPORT_CLIENT_NOT_ALLOWED',
    "The app you signed in to is not one of this tenant's storefront apps; the shop must register its storefront app's client id with setStorefrontClients",
  );

export const userBlocked = () => privgraphError('USER_BLOCKED', 'This account is blocked for this tenant; no passport is issued');

/**
 * Why a passport cannot be issued, or null when it can. The app asking must be one of the tenant's
 * storefront apps before anything about the subject is looked at, so another shop's page holding the
 * subject's token learns nothing of the subject's standing here. A suspended subject is refused before
 * the link is looked at, so the answer never tells a suspended person which shops know them.
 */
export function passportRefusal(standing: SubjectStanding, clientId: string | null, storefrontClients: readonly string[]) {
  if (!standing.tenantExists) return notFound('Tenant');
  if (clientId === null || !storefrontClients.includes(clientId)) return clientNotAllowed();
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
  /** The client ids of the tenant's storefront apps (tenant settings). */
  storefrontClients: (tenantId: string) => Promise<string[]>;
  consents: ConsentPurposes;
  key: SigningKey;
  settings: PassportSettings;
  now: () => Date;
}) {
  const { repo, consents, key, settings, now } = deps;
  return {
    /**
     * Checks the asking app and the subject's standing, reads the purposes, audits PASSPORT_ISSUE, then signs.
     * A refusal is not audited: nothing was issued, and the tenant's audit log would otherwise take
     * entries on the say-so of any app holding a subject's token.
     */
    async issue(principal: SubjectPrincipal, tenantId: string, audit: ActionAuditor): Promise<Passport> {
      if (!isUuid(tenantId)) throw notFound('Tenant');
      const [standing, storefrontClients] = await Promise.all([repo.findStanding(tenantId, principal.subjectId), deps.storefrontClients(tenantId)]);
      const refusal = passportRefusal(standing, principal.clientId, storefrontClients);
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
        azp: principal.clientId!,
        iat: issuedAt,
        exp: issuedAt + settings.ttlSeconds,
        jti: randomUUID(),
        status: 'ACTIVE',
        email_verified: principal.emailVerified === true,
        phone_number_verified: principal.phoneNumberVerified === true,
        purposes: [...new Set(purposes)].sort(),
      };
      const token = await auditedEffect(audit, 'PASSPORT_ISSUE', { subjectId: principal.subjectId, tenantId }, () =>
        new SignJWT({ ...claims }).setProtectedHeader({ alg: SIGNING_ALGORITHM, kid: key.kid, typ: PASSPORT_TYP }).sign(key.privateKey),
      );
      return { token, expiresAt: new Date(claims.exp * 1000) };
    },
  };
}
