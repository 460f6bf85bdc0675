import type { Principal } from '../../../../shared/auth/principal';
import type { ErrorCode } from '../../../../shared/errors';
import { readScopeFor, type PiiCategory } from '../../../../shared/pii';
import type { ActiveConsent } from '../../../../shared/consent-client';

export type AccessDecision =
  | { allow: true; reason: 'SELF' | 'CONSENT'; consentId: string | null }
  | { allow: false; code: ErrorCode; message: string; consentId: null };

export interface AccessRequest {
  principal: Principal;
  subjectId: string;
  field: string;
  category: PiiCategory;
  purpose: string | null;
  purposeMalformed: boolean;
  /** The subject's consent to the calling tenant for the purpose; undefined when not looked up. */
  consent?: ActiveConsent | null;
}

const deny = (code: ErrorCode, message: string): AccessDecision => ({ allow: false, code, message, consentId: null });

/** Whether a consent lookup can change the outcome (so it is made only when needed). */
export function needsConsent(request: Omit<AccessRequest, 'consent'>): boolean {
  const { principal } = request;
  return principal.kind === 'tenant' && principal.scopes.has(readScopeFor(request.category)) && request.purpose !== null;
}

/**
 * The privacy contract for one PII field, as a pure function (architecture.md, invariant 1):
 * the subject reads their own data; a tenant needs the category's scope, a declared purpose and an
 * active consent for that purpose covering the category; everyone else is refused.
 */
export function decideAccess(request: AccessRequest): AccessDecision {
  const { principal, category, field } = request;
  switch (principal.kind) {
    case 'anonymous':
      return deny('UNAUTHENTICATED', 'A valid access token is required');
    case 'subject':
      return principal.subjectId === request.subjectId
        ? { allow: true, reason: 'SELF', consentId: null }
        : deny('FORBIDDEN', 'Only the user themself may read this data');
    case 'platform_admin':
      return deny('FORBIDDEN', 'Platform admins do not read personal data through this field');
    case 'tenant': {
      const scope = readScopeFor(category);
      if (!principal.scopes.has(scope)) return deny('SCOPE_REQUIRED', `Reading ${field} requires the scope ${scope}`);
      if (request.purposeMalformed) return deny('PURPOSE_REQUIRED', 'The x-privacy-purpose header is not a valid purpose key');
      if (request.purpose === null) return deny('PURPOSE_REQUIRED', 'Declare the purpose in the x-privacy-purpose header');
      const consent = request.consent;
      if (!consent || !consent.categories.includes(category)) {
        return deny('CONSENT_REQUIRED', `No active consent covers ${category} data for purpose ${request.purpose}`);
      }
      return { allow: true, reason: 'CONSENT', consentId: consent.consentId };
    }
  }
}
