import { ERROR_CODES, type ErrorCode } from './__generated__/error-codes.js';

export { ERROR_CODES, type ErrorCode };

/** One error of a GraphQL response: a field refused (with its path) or the whole request. */
export interface PrivgraphFieldError {
  /** privgraph's code (see ERROR_CODES). A code this version of the client does not know reads `INTERNAL_SERVER_ERROR`; `serverCode` keeps it. */
  code: ErrorCode;
  /** The server's message, with any variable value of the request removed. */
  message: string;
  /** The response path of the refused field, e.g. ['user', 'email']; undefined for request-level errors. */
  path: readonly (string | number)[] | undefined;
  /** For BAD_USER_INPUT: the argument or input field at fault (never its value). */
  field?: string;
  /** The raw `extensions.code`, when it is not one of ERROR_CODES. */
  serverCode?: string;
}

/** Failures of the transport, before privgraph answered with GraphQL errors. */
export type TransportErrorCode =
  /** The request did not reach the server, or no answer came back (retried for queries). */
  | 'NETWORK_ERROR'
  /** The server answered with an HTTP error and no GraphQL errors (e.g. 502, 503 after the retries). */
  | 'HTTP_ERROR'
  /** The answer was not a GraphQL response (not JSON, or neither data nor errors). */
  | 'BAD_RESPONSE'
  /** The caller's AbortSignal fired. */
  | 'ABORTED';

export type PrivgraphErrorCode = ErrorCode | TransportErrorCode;

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, code);
}

/**
 * Thrown by `request` when nothing was released: the request was refused as a whole (bad token, invalid
 * document, limits), the root data is null, or the transport failed. When some data came back, `request`
 * returns it with the field errors instead of throwing.
 */
export class PrivgraphError extends Error {
  override readonly name = 'PrivgraphError';
  /** The first error's code, or the transport's. */
  readonly code: PrivgraphErrorCode;
  /** Every GraphQL error of the response (empty for transport failures). */
  readonly errors: readonly PrivgraphFieldError[];
  /** The HTTP status, when an answer came. */
  readonly status: number | undefined;
  /** The x-request-id the gateway returned (ties the failure to its audit events and logs). */
  readonly requestId: string | undefined;

  constructor(
    message: string,
    details: { code: PrivgraphErrorCode; errors?: readonly PrivgraphFieldError[]; status?: number; requestId?: string; cause?: unknown },
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = details.code;
    this.errors = details.errors ?? [];
    this.status = details.status;
    this.requestId = details.requestId;
  }

  /** Whether any error of the response has this code. */
  has(code: PrivgraphErrorCode): boolean {
    return this.code === code || this.errors.some((error) => error.code === code);
  }
}

interface RawGraphqlError {
  message?: unknown;
  path?: unknown;
  extensions?: { code?: unknown; field?: unknown } | null;
}

/** Typed field errors from a response's `errors`, messages scrubbed of the request's variable values. */
export function fieldErrorsOf(raw: unknown, variables: unknown): PrivgraphFieldError[] {
  if (!Array.isArray(raw)) return [];
  const secrets = variableValues(variables);
  return raw.map((entry: RawGraphqlError) => {
    const serverCode = entry?.extensions?.code;
    const error: PrivgraphFieldError = {
      code: isErrorCode(serverCode) ? serverCode : 'INTERNAL_SERVER_ERROR',
      message: scrub(typeof entry?.message === 'string' ? entry.message : 'Unknown error', secrets),
      path: Array.isArray(entry?.path) ? entry.path.filter((p): p is string | number => typeof p === 'string' || typeof p === 'number') : undefined,
    };
    if (typeof entry?.extensions?.field === 'string') error.field = entry.extensions.field;
    if (typeof serverCode === 'string' && !isErrorCode(serverCode)) error.serverCode = serverCode;
    return error;
  });
}

/**
 * Every string among the variables (the values a message must never repeat). Numbers and booleans (page sizes,
 * flags) are left: removing "20" from a message would garble it and they carry no personal data.
 */
function variableValues(variables: unknown): string[] {
  const found = new Set<string>();
  const walk = (value: unknown, depth: number) => {
    if (depth > 20 || value === null || value === undefined) return;
    if (typeof value === 'string' && value.length > 1) found.add(value);
    else if (Array.isArray(value)) value.forEach((item) => walk(item, depth + 1));
    else if (typeof value === 'object') Object.values(value).forEach((item) => walk(item, depth + 1));
  };
  walk(variables, 0);
  // Longest first, so a value that contains another is removed whole.
  return [...found].sort((a, b) => b.length - a.length);
}

function scrub(message: string, secrets: string[]): string {
  let result = message;
  for (const secret of secrets) {
    // JSON-quoted forms too: GraphQL's coercion messages quote values with escapes.
    for (const form of new Set([secret, JSON.stringify(secret).slice(1, -1)])) {
      if (form.length > 1) result = result.split(form).join('[redacted]');
    }
  }
  return result;
}
