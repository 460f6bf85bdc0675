import type { Deadline } from '../deadline';
import { privgraphError, unauthenticated } from '../errors';
import { SCOPES } from '../pii';
import { bearerToken, type TokenVerifier } from './verifier';

export type SubjectStatus = 'ACTIVE' | 'BLOCKED' | 'ERASED';

export interface AnonymousPrincipal {
  kind: 'anonymous';
}
export interface SubjectPrincipal {
  kind: 'subject';
  subjectId: string;
  sub: string;
  scopes: ReadonlySet<string>;
  /** The access token's `email_verified` / `phone_number_verified` claims (null: the IdP said nothing). */
  emailVerified: boolean | null;
  phoneNumberVerified: boolean | null;
  /** The app the person signed in to (the access token's `client_id`, RFC 9068 §2.2); null when the token names none. */
  clientId: string | null;
}
export interface TenantPrincipal {
  kind: 'tenant';
  tenantId: string;
  /** The OAuth client the token was issued to (`client_id`; for the shop's backend also its `sub`); null when the token names none. */
  clientId: string | null;
  /**
   * The staff user acting for the shop (an organization token issued to a user: `sub` is the user), or
   * null for the shop's backend itself (a client-credentials token: `sub` is the client id, RFC 9068 §2.2).
   * A member may do exactly what the token's scopes allow, like the backend.
   */
  member: { sub: string } | null;
  scopes: ReadonlySet<string>;
  isTenantAdmin: boolean;
}
export interface PlatformAdminPrincipal {
  kind: 'platform_admin';
  sub: string;
  scopes: ReadonlySet<string>;
}
export type Principal = AnonymousPrincipal | SubjectPrincipal | TenantPrincipal | PlatformAdminPrincipal;

/** A lookup made for a request: a remote directory sends the budget left and waits no longer (shared/deadline.ts). */
export interface DirectoryCall {
  deadline?: Deadline;
}

/** Maps IdP identities onto privgraph's internal ids. Implemented by the identity subgraph. */
export interface Directory {
  /** Returns the subject bound to (issuer, sub), provisioning it on first sight. */
  resolveSubject(issuer: string, sub: string, call?: DirectoryCall): Promise<{ subjectId: string; status: SubjectStatus }>;
  /** The tenant that answers to an IdP organization id, or null. */
  resolveTenant(organizationId: string, call?: DirectoryCall): Promise<{ tenantId: string } | null>;
}

/** Raised before execution, so it carries an HTTP status (a gateway maps 403 back onto FORBIDDEN). */
const refuse = (message: string) => privgraphError('FORBIDDEN', message, { httpStatus: 403 });

export const ANONYMOUS: AnonymousPrincipal = { kind: 'anonymous' };

/**
 * Authorization header → principal. Throws UNAUTHENTICATED for a present but invalid token;
 * a missing header yields the anonymous principal, which every rule denies.
 */
export async function resolvePrincipal(
  authorization: string | undefined,
  verifier: TokenVerifier,
  directory: Directory,
  call?: DirectoryCall,
): Promise<Principal> {
  const token = bearerToken(authorization);
  if (token === undefined) return ANONYMOUS;
  if (token === null) throw unauthenticated('The Authorization header must be "Bearer <token>"');
  const verified = await verifier.verify(token);

  if (verified.organizationId !== undefined) {
    const tenant = await directory.resolveTenant(verified.organizationId, call);
    if (!tenant) throw refuse("The token's organization is not a registered tenant");
    const isBackend = verified.clientId !== undefined && verified.clientId === verified.sub;
    return {
      kind: 'tenant',
      tenantId: tenant.tenantId,
      clientId: verified.clientId ?? null,
      member: isBackend ? null : { sub: verified.sub },
      scopes: verified.scopes,
      isTenantAdmin: verified.scopes.has(SCOPES.tenantAdmin),
    };
  }
  if (verified.scopes.has(SCOPES.platformAdmin)) {
    return { kind: 'platform_admin', sub: verified.sub, scopes: verified.scopes };
  }
  // A client-credentials token (RFC 9068 §2.2: sub is the client id) without a tenant is no end user.
  if (verified.clientId !== undefined && verified.clientId === verified.sub) {
    throw refuse('A machine token must carry a tenant (organization) or the platform:admin scope');
  }
  const subject = await directory.resolveSubject(verified.issuer, verified.sub, call);
  if (subject.status === 'BLOCKED') throw refuse('This account is blocked');
  if (subject.status === 'ERASED') throw refuse('This account has been erased');
  return {
    kind: 'subject',
    subjectId: subject.subjectId,
    sub: verified.sub,
    scopes: verified.scopes,
    emailVerified: verified.emailVerified,
    phoneNumberVerified: verified.phoneNumberVerified,
    clientId: verified.clientId ?? null,
  };
}

/**
 * Who may read a shop's audit log (GraphQL and the export): its backend, its tenant admins (staff
 * included) and platform admins — not a staff member without tenant:admin, since the log names
 * colleagues and the refs they touched.
 */
export function mayReadTenantAudit(principal: Principal): boolean {
  if (principal.kind === 'platform_admin') return true;
  return principal.kind === 'tenant' && (principal.member === null || principal.isTenantAdmin);
}

export function actorOf(principal: Principal): { actorType: ActorType; actorId: string | null; tenantId: string | null } {
  switch (principal.kind) {
    case 'subject':
      return { actorType: 'SUBJECT', actorId: principal.subjectId, tenantId: null };
    case 'tenant':
      // A member's events name the staff user (and the tenant), so the shop can tell who read what.
      return principal.member
        ? { actorType: 'TENANT_MEMBER', actorId: principal.member.sub, tenantId: principal.tenantId }
        : { actorType: 'TENANT', actorId: principal.clientId, tenantId: principal.tenantId };
    case 'platform_admin':
      return { actorType: 'PLATFORM_ADMIN', actorId: principal.sub, tenantId: null };
    default:
      return { actorType: 'ANONYMOUS', actorId: null, tenantId: null };
  }
}

export const ACTOR_TYPES = ['SUBJECT', 'TENANT', 'TENANT_MEMBER', 'PLATFORM_ADMIN', 'ANONYMOUS', 'SYSTEM'] as const;
export type ActorType = (typeof ACTOR_TYPES)[number];
