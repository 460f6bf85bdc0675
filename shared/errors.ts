import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import type { Logger } from 'pino';

/**
 * The closed set of error codes privgraph returns in `extensions.code`.
 * Clients may switch on these; a code is never renamed or reused. The error reference in
 * docs/errors.md is generated from this table (`npm run docs:errors`) and a test fails when it drifts.
 */
export const ERROR_CODES = {
  UNAUTHENTICATED: 'No valid access token: missing, expired, wrong issuer or audience, bad signature or algorithm.',
  FORBIDDEN: 'The caller is authenticated but this kind of principal may not perform the operation.',
  SCOPE_REQUIRED: 'The token lacks the scope for this PII category (e.g. pii:contact:read).',
  PURPOSE_REQUIRED: 'A tenant request for PII declares no purpose in the x-privacy-purpose header, or a malformed one.',
  CONSENT_REQUIRED: 'The subject has no active consent to this tenant for the declared purpose covering this category.',
  NOT_FOUND: 'The object does not exist or is not visible to the caller (the two are indistinguishable).',
  BAD_USER_INPUT: 'An argument is malformed or invalid; `extensions.field` names it when known.',
  AUDIT_UNAVAILABLE: 'The audit log could not durably record the decision, so no PII was released or written.',
  CONSENT_UNAVAILABLE: 'The consent service could not be reached, so no PII was released.',
  DEPENDENCY_UNAVAILABLE: 'A platform service this request needs (directory, key provider) is unreachable; the request failed closed.',
  REGION_UNSUPPORTED: 'The region is not configured, or no configured region stores data for the country given.',
  KEY_VERSION_RETIRED: 'The data key is wrapped under a retired key-encryption-key version; no PII was released.',
  KEY_VERSION_IN_USE: 'Key versions cannot be retired while data keys are still wrapped under them; finish the re-wrap first.',
  CHECKPOINT_UNAVAILABLE: 'The store for signed audit checkpoints cannot be written; no checkpoint was made.',
  ALREADY_EXISTS: 'The object already exists: the same consent granted twice, a policy version published twice.',
  PURPOSE_NOT_PUBLISHED: "The purpose is not declared in the tenant's policy version in force (or the tenant has published none).",
  POLICY_VERSION_OUTDATED: "The policy version is not the tenant's version in force: consent must be given to the current text.",
  CONFLICT: 'Another operation on the same object is in progress (a key rotation, a region move); retry when it is done.',
  EXPORT_ALREADY_DOWNLOADED: 'The data export was downloaded already (a link works once); request a new export to download your data again.',
  EXPORT_LINK_EXPIRED: 'The data export download link has expired (links live ten minutes); ask for a new link.',
  GRAPHQL_PARSE_FAILED: 'The query is not valid GraphQL syntax.',
  GRAPHQL_VALIDATION_FAILED: 'The query does not match the schema or exceeds a depth, alias, cost or size limit.',
  BAD_REQUEST: 'The HTTP request is malformed (e.g. not JSON, too large).',
  PERSISTED_QUERY_NOT_FOUND: 'An automatic persisted query hash is unknown; resend with the full query.',
  OPERATION_RESOLUTION_FAILURE: 'The operation name does not match an operation in the document.',
  USER_BLOCKED: 'The user is blocked by this tenant or suspended on the platform: no passport, no personal data for this tenant.',
  NOT_CONNECTED: 'The subject is not connected to this tenant (connectTenant first).',
  PASSPORT_CLIENT_NOT_ALLOWED: "The app the subject signed in to is not one of the tenant's storefront apps (setStorefrontClients): no passport for this tenant.",
  OPERATION_NOT_SAFELISTED: "The tenant enforces its safelist and this document is not one of its registered persisted operations; nothing ran.",
  DEADLINE_EXCEEDED: 'The request ran past its deadline (x-privgraph-deadline-ms, at most REQUEST_DEADLINE_MS) and was abandoned; no PII was released after it.',
  RATE_LIMITED: 'The caller spent its rate-limit budget for the window (requests are charged by operation cost); nothing ran. Retry after `Retry-After` seconds.',
  INTERNAL_SERVER_ERROR: 'An unexpected failure. Details are never sent to the client; the request id identifies it in logs.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

const KNOWN_CODES = new Set<string>(Object.keys(ERROR_CODES));

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && KNOWN_CODES.has(code);
}

export interface PrivgraphErrorOptions {
  /** The input field (path) at fault, for BAD_USER_INPUT. Never the value. */
  field?: string;
  /** HTTP status for errors raised before execution (context creation). */
  httpStatus?: number;
  /** Response headers that go with httpStatus (e.g. a 401's WWW-Authenticate). */
  httpHeaders?: Record<string, string>;
}

/** Build a GraphQL error with one of privgraph's codes. Messages must never contain personal data. */
export function privgraphError(code: ErrorCode, message: string, options: PrivgraphErrorOptions = {}): GraphQLError {
  const extensions: Record<string, unknown> = { code };
  if (options.field) extensions.field = options.field;
  if (options.httpStatus) {
    // Apollo takes `extensions.http` (status, a Map of headers) for the response and strips it from the body.
    const headers = new Map(Object.entries(options.httpHeaders ?? {}).map(([name, value]) => [name.toLowerCase(), value]));
    extensions.http = { status: options.httpStatus, headers };
  }
  return new GraphQLError(message, { extensions });
}

export const badInput = (field: string, message: string) => privgraphError('BAD_USER_INPUT', message, { field });
export const notFound = (what: string) => privgraphError('NOT_FOUND', `${what} not found`);
export const forbidden = (message = 'Not allowed for this principal') => privgraphError('FORBIDDEN', message);

/**
 * RFC 6750 §3: a 401 names the scheme; `error="invalid_token"` when a token was presented and refused
 * (§3.1), a bare `Bearer` when none was. The description is the (value-free) message, quote-safe.
 */
export function bearerChallenge(description?: string): string {
  if (description === undefined) return 'Bearer';
  const safe = description.replace(/[^\x20-\x7e]/g, ' ').replace(/["\\]/g, "'");
  return `Bearer error="invalid_token", error_description="${safe}"`;
}

/** A request without a usable token: 401 with its challenge (`tokenPresented: false` for a request that sent none). */
export const unauthenticated = (message = 'A valid access token is required', options: { tokenPresented?: boolean } = {}) =>
  privgraphError('UNAUTHENTICATED', message, {
    httpStatus: 401,
    httpHeaders: { 'www-authenticate': bearerChallenge(options.tokenPresented === false ? undefined : message) },
  });

/** The response headers an error carries (a 401's challenge), for routes that answer outside Apollo. */
export function httpHeadersOf(error: GraphQLError): [string, string][] {
  const headers = (error.extensions.http as { headers?: unknown } | undefined)?.headers;
  return headers instanceof Map ? [...(headers as Map<string, string>)] : [];
}

/**
 * Apollo `formatError`: errors that carry one of our codes pass (without stack traces);
 * everything else is masked. The original is logged by name and code only, because driver
 * messages can quote SQL or values.
 */
export function createErrorFormatter(logger: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const code = formatted.extensions?.code;
    if (isErrorCode(code) && code !== 'INTERNAL_SERVER_ERROR') {
      const extensions: Record<string, unknown> = { code };
      if (typeof formatted.extensions?.field === 'string') extensions.field = formatted.extensions.field;
      if (formatted.extensions?.serviceName) extensions.serviceName = formatted.extensions.serviceName;
      return { message: formatted.message, locations: formatted.locations, path: formatted.path, extensions };
    }
    const original = unwrap(error);
    const sqlState = sqlStateOf(original);
    if ((sqlState && DEADLINE_SQLSTATES.has(sqlState)) || original?.name === 'TimeoutError') {
      // statement_timeout (57014) or lock_timeout (55P03), the pool's ceiling or the request's budget (docs/security.md#deadlines).
      logger.warn({ err: { name: original?.name, code: sqlState }, path: formatted.path }, 'deadline exceeded');
      return { message: DEADLINE_EXCEEDED_MESSAGE, locations: formatted.locations, path: formatted.path, extensions: { code: 'DEADLINE_EXCEEDED' } };
    }
    if (original instanceof DependencyUnavailableError || databaseUnavailable(original, sqlState)) {
      logger.warn({ err: { name: original?.name, code: sqlState ?? (original as { code?: unknown } | undefined)?.code }, path: formatted.path }, 'dependency unavailable');
      return {
        message: 'A platform service this request needs is unavailable; nothing was released. Try again shortly.',
        locations: formatted.locations,
        path: formatted.path,
        extensions: { code: 'DEPENDENCY_UNAVAILABLE' },
      };
    }
    if (sqlState?.startsWith('22')) {
      // Class 22 (data exception: 22P02 invalid text representation, 22003 out of range, 22021 NUL in text) is the
      // caller's value, not our failure. The driver's message quotes SQL and the value, so only the class is kept.
      // Any other data exception (division by zero, an invalid regular expression …) more likely is a bug of ours:
      // still no 500 for the caller, but logged as an error so it is seen.
      const level = INPUT_DATA_EXCEPTIONS.has(sqlState) ? 'warn' : 'error';
      logger[level]({ err: { name: original?.name, code: sqlState }, path: formatted.path }, 'data exception answered as bad input');
      return { message: 'An argument is not a valid value', locations: formatted.locations, path: formatted.path, extensions: { code: 'BAD_USER_INPUT' } };
    }
    logger.error(
      { err: { name: original?.name, code: (original as { code?: unknown } | undefined)?.code }, path: formatted.path },
      'unexpected error masked',
    );
    return {
      message: 'Internal server error',
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    };
  };
}

/** PostgreSQL's statement_timeout (57014, query_canceled) and lock_timeout (55P03, lock_not_available); shared/deadline.ts re-exports both. */
export const DEADLINE_SQLSTATES: ReadonlySet<string> = new Set(['57014', '55P03']);
export const DEADLINE_EXCEEDED_MESSAGE = 'The request ran past its deadline; nothing more was released. Retry, or allow more time.';

/** Class-22 states a caller's value causes (bad text, out of range, NUL, bad date, too long, untranslatable). */
const INPUT_DATA_EXCEPTIONS = new Set(['22P02', '22003', '22021', '22007', '22008', '22001', '22P05']);

/** Socket errors of a database (or peer) that cannot be reached. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
/** pg's own messages for a connection that failed or was lost (they carry no code). */
const LOST_CONNECTION = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection is closed)/;

/**
 * The database is down or unreachable: class 08 (connection exception), 57P01–57P03 (shutdown, cannot connect now),
 * 53300 (too many connections), a socket error, or pg's lost-connection errors. It answers DEPENDENCY_UNAVAILABLE.
 */
function databaseUnavailable(error: Error | undefined, sqlState: string | undefined): boolean {
  if (!error) return false;
  if (sqlState) return sqlState.startsWith('08') || /^57P0[123]$/.test(sqlState) || sqlState === '53300';
  const candidates = [error, (error as { driverError?: unknown }).driverError as Error | undefined];
  return candidates.some((candidate) => {
    const code = (candidate as { code?: unknown } | undefined)?.code;
    return (typeof code === 'string' && UNREACHABLE_CODES.has(code)) || (typeof candidate?.message === 'string' && LOST_CONNECTION.test(candidate.message));
  });
}

/** The SQLSTATE of a PostgreSQL error, raw from pg or wrapped by TypeORM (QueryFailedError.driverError). */
function sqlStateOf(error: Error | undefined): string | undefined {
  const candidates = [error, (error as { driverError?: unknown } | undefined)?.driverError];
  for (const candidate of candidates) {
    const code = (candidate as { code?: unknown } | undefined)?.code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && (candidate as { severity?: unknown }).severity !== undefined) return code;
  }
  return undefined;
}

function unwrap(error: unknown): Error | undefined {
  let current = error;
  for (let depth = 0; depth < 5; depth += 1) {
    if (current instanceof GraphQLError && current.originalError) current = current.originalError;
    else break;
  }
  return current instanceof Error ? current : undefined;
}

/** Thrown by ports (consent, audit, directory, key provider) when their backend is unreachable. */
export class DependencyUnavailableError extends Error {
  constructor(
    readonly dependency: 'audit' | 'consent' | 'directory' | 'keys' | 'vault',
    message: string,
  ) {
    super(message);
    this.name = 'DependencyUnavailableError';
  }
}
