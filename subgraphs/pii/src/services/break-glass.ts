import type { Principal } from '../../../../shared/auth/principal';
import { isUuid } from '../../../../shared/db/data-source';
import { badInput, forbidden, notFound } from '../../../../shared/errors';
import type { PiiCategory } from '../../../../shared/pii';

/**
 * Break-glass: a platform admin reads one subject's personal data for a stated, lawful reason
 * (docs/break-glass.md). The reasons are a closed list, and each opens only the categories it can need
 * (data minimisation, GDPR Art. 5(1)(c)).
 */
export const BREAK_GLASS_REASONS = ['SUPPORT_REQUEST', 'LEGAL_OBLIGATION', 'SECURITY_INCIDENT'] as const;
export type BreakGlassReason = (typeof BREAK_GLASS_REASONS)[number];

export const BREAK_GLASS_CATEGORIES: Record<BreakGlassReason, readonly PiiCategory[]> = {
  // The subject's own request to support: what an account or delivery problem can concern, not their ID document.
  SUPPORT_REQUEST: ['CONTACT', 'IDENTITY', 'ADDRESS'],
  // A court order or an authority's binding request (Art. 6(1)(c)) can name any of it; the admin selects only what it names.
  LEGAL_OBLIGATION: ['CONTACT', 'IDENTITY', 'ADDRESS', 'GOVERNMENT_ID'],
  // Reaching the person about a breach or takeover of their account (Art. 34) needs their contact data only.
  SECURITY_INCIDENT: ['CONTACT'],
};

/**
 * A ticket reference in the platform's ticketing system, e.g. sup-1042 or inc-2026-17: a short prefix,
 * a hyphen, then a number (with further - . _ parts). Case is folded. Shaped so that no name or email
 * fits, and short enough that reason and ticket together fit an audit purpose (64 characters).
 */
const TICKET_PATTERN = /^[a-z][a-z0-9_]{0,15}-[0-9][a-z0-9._-]{0,23}$/;

export function checkTicket(ticket: string): string {
  const folded = ticket.toLowerCase();
  if (!TICKET_PATTERN.test(folded)) {
    throw badInput('ticket', 'ticket must be a ticket reference: a prefix, a hyphen and a number, at most 41 characters (e.g. sup-1042)');
  }
  return folded;
}

const ISSUE = Symbol('break-glass.issue');

/**
 * The capability to release one subject's data to one platform admin within one request. It exists only
 * as the parent value breakGlassUser returns, so only fields reached through that field see it: an
 * `_entities` representation is JSON and cannot carry one, and `#grant` cannot be forged by copying the
 * prototype. Nothing is kept per request.
 */
export class BreakGlassGrant {
  readonly #grant = true;
  /** Only this module holds ISSUE: grants are made by openBreakGlass, after its checks. */
  constructor(
    key: typeof ISSUE,
    readonly subjectId: string,
    readonly reason: BreakGlassReason,
    readonly ticket: string,
    /** The admin's IdP id (token sub): the grant serves no one else. */
    readonly grantedTo: string,
  ) {
    if (key !== ISSUE) throw new Error('A break-glass grant is issued by openBreakGlass only');
    Object.freeze(this);
  }

  static isGrant(value: unknown): value is BreakGlassGrant {
    return typeof value === 'object' && value !== null && #grant in value;
  }

  /** The audit event's purpose: the reason code and the ticket, e.g. support_request.sup-1042 (no personal data). */
  get auditPurpose(): string {
    return `${this.reason.toLowerCase()}.${this.ticket}`;
  }
}

/** The User breakGlassUser returns: the entity key plus the grant its PII fields are decided under. */
export interface BreakGlassUser {
  id: string;
  breakGlass: BreakGlassGrant;
}

/** The grant a parent value carries, if it is one breakGlassUser made. */
export function breakGlassOf(parent: unknown): BreakGlassGrant | null {
  if (typeof parent !== 'object' || parent === null || !('breakGlass' in parent)) return null;
  const grant = (parent as { breakGlass: unknown }).breakGlass;
  return BreakGlassGrant.isGrant(grant) ? grant : null;
}

/**
 * Checks the request and hands out the grant. The reads themselves are decided and audited field by field
 * (access-policy.ts, privacy-guard.ts); a subject whose data the vault does not hold (never stored, or
 * erased) is NOT_FOUND, and nothing is audited because nothing about a person was touched.
 */
export async function openBreakGlass(
  request: { principal: Principal; records: { load(subjectId: string): Promise<unknown> } },
  args: { subjectId: string; reason: string; ticket: string },
): Promise<BreakGlassUser> {
  const { principal } = request;
  if (principal.kind !== 'platform_admin') throw forbidden('Only platform admins use break-glass');
  if (!(BREAK_GLASS_REASONS as readonly string[]).includes(args.reason)) throw badInput('reason', 'reason is not a break-glass reason');
  const ticket = checkTicket(args.ticket);
  if (!isUuid(args.subjectId)) throw badInput('subjectId', 'subjectId is not a subject id');
  if (!(await request.records.load(args.subjectId))) throw notFound('User');
  return { id: args.subjectId, breakGlass: new BreakGlassGrant(ISSUE, args.subjectId, args.reason as BreakGlassReason, ticket, principal.sub) };
}
