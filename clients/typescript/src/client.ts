import { PERSISTED_QUERY_HASHES } from './__generated__/persisted.js';
import { documentText, operationOf, sha256Hex, type Document } from './document.js';
import { fieldErrorsOf, PrivgraphError, type PrivgraphFieldError } from './errors.js';
import { RETRYABLE_STATUS, retryPolicy, sleep, type RetryOptions } from './retry.js';

export const PURPOSE_HEADER = 'x-privacy-purpose';
export const REQUEST_ID_HEADER = 'x-request-id';

export interface PrivgraphClientOptions {
  /** The gateway's GraphQL endpoint, e.g. https://privgraph.example/graphql. */
  url: string | URL;
  /** A fixed access token, or … */
  token?: string;
  /** … a function asked before every request (e.g. a cached client-credentials token that it renews). */
  getToken?: () => string | Promise<string>;
  /** Defaults to the global fetch (Node 20+, browsers). */
  fetch?: typeof globalThis.fetch;
  /** Retries of idempotent queries on 502, 503 and network failures; `false` turns them off. Mutations are never retried. */
  retry?: RetryOptions | false;
  /**
   * Send operations as persisted queries (APQ: `extensions.persistedQuery.sha256Hash`); default true. Operations of
   * the client's manifest go hash-only first; the full text follows when the server does not know the hash.
   */
  persistedQueries?: boolean;
}

export interface RequestOptions {
  /** The purpose sent in x-privacy-purpose, e.g. order_fulfillment: a consent for it must cover every PII field asked. */
  purpose?: string;
  signal?: AbortSignal;
  /** Sent as x-request-id (the audit events of the request carry it); the gateway makes one otherwise. */
  requestId?: string;
}

/**
 * The released data with the errors of the fields that were refused: one field can be refused (null, with its
 * error) while the others are released.
 */
export interface PrivgraphResult<TData> {
  data: TData;
  /** One entry per refused field (or failed part), with its code and path; empty when everything was released. */
  errors: readonly PrivgraphFieldError[];
  /** The x-request-id of the request: filter the audit log by it. */
  requestId: string | undefined;
}

type Arguments<TVariables> = Record<string, never> extends TVariables
  ? [variables?: TVariables, options?: RequestOptions]
  : [variables: TVariables, options?: RequestOptions];

export interface PrivgraphClient {
  /**
   * Runs one operation. Resolves with `{ data, errors }` whenever data came back (refused fields are null and
   * listed in `errors`); rejects with a PrivgraphError when nothing was released (the request was refused
   * whole, or the transport failed).
   */
  request<TData, TVariables>(document: Document<TData, TVariables>, ...args: Arguments<TVariables>): Promise<PrivgraphResult<TData>>;
}

interface GraphqlBody {
  data?: unknown;
  errors?: unknown;
}

export function createPrivgraphClient(options: PrivgraphClientOptions): PrivgraphClient {
  if ((options.token === undefined) === (options.getToken === undefined)) {
    throw new TypeError('createPrivgraphClient needs exactly one of `token` and `getToken`');
  }
  const url = String(options.url);
  const fetchImpl = options.fetch ?? globalThis.fetch;
  if (typeof fetchImpl !== 'function') throw new TypeError('No fetch available: pass `fetch`');
  const policy = retryPolicy(options.retry);
  let persisted = options.persistedQueries !== false;
  // Hashes this server said it does not know: their text is sent along from then on (one round trip, not two).
  const unknownHashes = new Set<string>();
  const tokenOf = async () => {
    const token = options.token ?? (await options.getToken!());
    if (typeof token !== 'string' || token.length === 0) throw new TypeError('getToken must return a non-empty string');
    return token;
  };

  async function request<TData, TVariables>(document: Document<TData, TVariables>, ...args: Arguments<TVariables>): Promise<PrivgraphResult<TData>> {
    const [variables, requestOptions = {}] = args as [TVariables | undefined, RequestOptions | undefined];
    const text = documentText(document);
    const operation = operationOf(text);
    const idempotent = operation?.type === 'query';
    const hash = persisted ? await sha256Hex(text).catch(() => undefined) : undefined;
    let sendText = hash === undefined || !PERSISTED_QUERY_HASHES.has(hash) || unknownHashes.has(hash);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json',
      authorization: `Bearer ${await tokenOf()}`,
    };
    if (requestOptions.purpose !== undefined) headers[PURPOSE_HEADER] = requestOptions.purpose;
    if (requestOptions.requestId !== undefined) headers[REQUEST_ID_HEADER] = requestOptions.requestId;
    const { signal } = requestOptions;

    let retriesLeft = idempotent ? policy.retries : 0;
    let resent = false;
    for (let attempt = 0; ; attempt += 1) {
      const body: Record<string, unknown> = { variables: variables ?? {} };
      if (operation?.name) body.operationName = operation.name;
      if (sendText) body.query = text;
      if (hash !== undefined && persisted) body.extensions = { persistedQuery: { version: 1, sha256Hash: hash } };

      let response: Response;
      try {
        response = await fetchImpl(url, { method: 'POST', headers, body: JSON.stringify(body), signal });
      } catch (error) {
        if (signal?.aborted) throw new PrivgraphError('The request was aborted', { code: 'ABORTED', cause: signal.reason });
        if (retriesLeft > 0) {
          retriesLeft -= 1;
          await pause(policy.delay(attempt, null), signal);
          continue;
        }
        throw new PrivgraphError('privgraph could not be reached', { code: 'NETWORK_ERROR', cause: error });
      }
      const requestId = response.headers.get(REQUEST_ID_HEADER) ?? undefined;
      if (RETRYABLE_STATUS.has(response.status) && retriesLeft > 0) {
        retriesLeft -= 1;
        await response.body?.cancel().catch(() => undefined);
        await pause(policy.delay(attempt, response.headers.get('retry-after')), signal);
        continue;
      }

      let answer: GraphqlBody | undefined;
      try {
        const parsed: unknown = await response.json();
        if (parsed && typeof parsed === 'object' && ('data' in parsed || 'errors' in parsed)) answer = parsed as GraphqlBody;
      } catch {
        if (signal?.aborted) throw new PrivgraphError('The request was aborted', { code: 'ABORTED', cause: signal.reason });
      }
      if (!answer) {
        throw new PrivgraphError(`privgraph answered HTTP ${response.status} without a GraphQL response`, {
          code: response.ok ? 'BAD_RESPONSE' : 'HTTP_ERROR',
          status: response.status,
          requestId,
        });
      }
      const errors = fieldErrorsOf(answer.errors, variables);

      // A hash the server does not know (or a server without persisted queries): nothing ran, send the text.
      const notFound = errors.some((e) => e.code === 'PERSISTED_QUERY_NOT_FOUND');
      const notSupported = errors.some((e) => e.serverCode === 'PERSISTED_QUERY_NOT_SUPPORTED');
      if ((notFound || notSupported) && !resent && answer.data == null && (!sendText || notSupported)) {
        resent = true;
        if (notSupported) persisted = false;
        if (notFound && hash !== undefined) unknownHashes.add(hash);
        sendText = true;
        attempt -= 1;
        continue;
      }

      if (answer.data !== null && typeof answer.data === 'object') {
        return { data: answer.data as TData, errors, requestId };
      }
      const first = errors[0];
      throw new PrivgraphError(first ? first.message : `privgraph answered HTTP ${response.status} without data`, {
        code: first?.code ?? (response.ok ? 'BAD_RESPONSE' : 'HTTP_ERROR'),
        errors,
        status: response.status,
        requestId,
      });
    }
  }

  return { request } as PrivgraphClient;
}

async function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await sleep(ms, signal);
  } catch (reason) {
    throw new PrivgraphError('The request was aborted', { code: 'ABORTED', cause: reason });
  }
}

/** The error of the field at this response path (e.g. errorAt(result.errors, ['user', 'email'])), if it was refused. */
export function errorAt(errors: readonly PrivgraphFieldError[], path: readonly (string | number)[]): PrivgraphFieldError | undefined {
  return errors.find((error) => error.path !== undefined && error.path.length === path.length && error.path.every((p, i) => p === path[i]));
}
