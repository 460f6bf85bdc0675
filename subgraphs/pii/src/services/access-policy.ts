import type { Principal } from '../../../../shared/auth/principal';
import type { ErrorCode } from '../../../../shared/errors';
import { maskedScopeFor, readScopeFor, type PiiCategory, type PiiMask } from '../../../../shared/pii';
import type { ActiveConsent } from '../../../../shared/consent-client';
import type { Standing } from '../../../../shared/standing-client';
import { BREAK_GLASS_CATEGORIES, type BreakGlassReason } from './break-glass';

export type AccessDecision =
  | { allow: true; reason: 'SELF' | 'CONSENT' | 'CONSENT_MASKED' | 'BREAK_GLASS'; consentId: string | null; masked: boolean }
  | { allow: false; code: ErrorCode; message: string; consentId: null };

export interface AccessRequest {
  principal: Principal;
  subjectId: string;
  field: string;
  category: PiiCategory;
  /** The field's mask, when it has a masked view. */
  mask?: PiiMask;
  purpose: string | null;
  purposeMalformed: boolean;
  /** The subject's consent to the calling tenant for the purpose; undefined when not looked up. */
  consent?: ActiveConsent | null;
  /**
   * Where the subject stands with the calling tenant (identity's standing API): BLOCKED when the tenant
   * blocked them or the platform suspended them, null when not connected; undefined when not looked up.
   */
  standing?: Standing | null;
  /** The break-glass grant the field was reached under (breakGlassUser's parent value); null otherwise. */
  breakGlass?: { subjectId: string; reason: BreakGlassReason; grantedTo: string } | null;
}

const deny = (code: ErrorCode, message: string): AccessDecision => ({ allow: false, code, message, consentId: null });

/** What a tenant's scopes let it see of a field: the value, its masked view, or nothing. */
function grantedView(principal: { scopes: ReadonlySet<string> }, request: Pick<AccessRequest, 'category' | 'mask'>): 'FULL' | 'MASKED' | null {
  if (principal.scopes.has(readScopeFor(request.category))) return 'FULL';
  if (request.mask && principal.scopes.has(maskedScopeFor(request.category))) return 'MASKED';
  return null;
}

/** Whether a consent lookup can change the outcome (so it is made only when needed). */
export function needsConsent(request: Omit<AccessRequest, 'consent'>): boolean {
  const { principal } = request;
  return principal.kind === 'tenant' && grantedView(principal, request) !== null && request.purpose !== null;
}

/**
 * The privacy contract for one PII field, as a pure function (architecture.md, invariant 1):
 * the subject reads their own data; a tenant needs the category's scope (or, for a field with a mask,
 * the masked scope, which releases only the masked view), a declared purpose and an active consent
 * for that purpose covering the category; a platform admin needs a break-glass grant for that subject
 * whose reason covers the category; everyone else is refused.
 */
export function decideAccess(request: AccessRequest): AccessDecision {
  const { principal, category, field } = request;
  switch (principal.kind) {
    case 'anonymous':
      return deny('UNAUTHENTICATED', 'A valid access token is required');
    case 'subject':
      return principal.subjectId === request.subjectId
        ? { allow: true, reason: 'SELF', consentId: null, masked: false }
        : deny('FORBIDDEN', 'Only the user themself may read this data');
    case 'platform_admin': {
      // Only through breakGlassUser, whose result carries the grant for that subject and admin.
      const grant = request.breakGlass;
      if (!grant || grant.subjectId !== request.subjectId || grant.grantedTo !== principal.sub) {
        return deny('FORBIDDEN', 'Platform admins read personal data only through breakGlassUser, with a reason and a ticket');
      }
      if (!BREAK_GLASS_CATEGORIES[grant.reason].includes(category)) {
        return deny('FORBIDDEN', `A break-glass read for ${grant.reason} does not cover ${category} data`);
      }
      return { allow: true, reason: 'BREAK_GLASS', consentId: null, masked: false };
    }
    case 'tenant': {
      const view = grantedView(principal, request);
      if (!view) {
        const masked = request.mask ? ` (or ${maskedScopeFor(category)} for the masked view)` : '';
        return deny('SCOPE_REQUIRED', `Reading ${field} requires the scope ${readScopeFor(category)}${masked}`);
      }
      if (request.purposeMalformed) return deny('PURPOSE_REQUIRED', 'The x-privacy-purpose header is not a valid purpose key');
      if (request.purpose === null) return deny('PURPOSE_REQUIRED', 'Declare the purpose in the x-privacy-purpose header');
      // A blocked or suspended user's data is withheld whatever the consent says; unknown standing fails closed.
      if (request.standing === undefined || request.standing === 'BLOCKED') {
        return deny('USER_BLOCKED', 'This user is blocked by this tenant or suspended on the platform; no personal data is released');
      }
      const consent = request.consent;
      if (!consent || !consent.categories.includes(category)) {
        return deny('CONSENT_REQUIRED', `No active consent covers ${category} data for purpose ${request.purpose}`);
      }
      return view === 'FULL'
        ? { allow: true, reason: 'CONSENT', consentId: consent.consentId, masked: false }
        : { allow: true, reason: 'CONSENT_MASKED', consentId: consent.consentId, masked: true };
    }
  }
}
