import { privgraphError } from '../../../shared/errors';

/** Raised to callers of PII fields when the audit log cannot durably record their decision. */
export const auditUnavailable = () => privgraphError('AUDIT_UNAVAILABLE', 'The audit log is unavailable; no PII was released');
