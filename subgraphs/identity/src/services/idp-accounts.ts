import { DependencyUnavailableError } from '../../../../shared/errors';
import type { IdpAccountsSettings } from '../config';

/**
 * The identity provider's accounts, as the erasure saga's IdP step needs them: delete the user at
 * Logto through its Management API. Not configured (no machine credentials), the step is SKIPPED with
 * `whyNot` as its reason.
 */
export interface IdpAccounts {
  configured: boolean;
  whyNot: string | null;
  /**
   * DELETED: Logto deleted the user now (204); ABSENT: Logto has no such user (404, e.g. already deleted).
   * Throws IdpUnavailableError (a DependencyUnavailableError: retry later) on a network error, a timeout,
   * 429 or 5xx; IdpAccountsRefusedError (retrying will not help) when Logto refuses the credentials.
   */
  deleteUser(userId: string): Promise<'DELETED' | 'ABSENT'>;
}

/** Logto could not be reached or failed: transient, the saga retries with backoff. */
export class IdpUnavailableError extends DependencyUnavailableError {
  constructor(message: string) {
    super('directory', message);
    this.name = 'IdpUnavailableError';
  }
}

/** Logto refused the machine credentials or the request: a configuration problem an operator must fix. */
export class IdpAccountsRefusedError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'IdpAccountsRefusedError';
  }
}

/** Renew the Management API token this long before Logto says it expires (clock skew, slow calls). */
const TOKEN_RENEW_MARGIN_MS = 60_000;
const USER_ID = /^[A-Za-z0-9._:@|-]{1,200}$/;

const REQUIRED: { variable: string; present: (s: IdpAccountsSettings) => boolean }[] = [
  { variable: 'LOGTO_MANAGEMENT_ENDPOINT or LOGTO_ENDPOINT', present: (s) => Boolean(s.endpoint) },
  { variable: 'LOGTO_M2M_APP_ID', present: (s) => Boolean(s.appId) },
  { variable: 'LOGTO_M2M_APP_SECRET', present: (s) => Boolean(s.appSecret) },
];

function notConfigured(whyNot: string): IdpAccounts {
  return {
    configured: false,
    whyNot,
    async deleteUser() {
      throw new IdpAccountsRefusedError(0, `The identity provider's Management API is not configured: ${whyNot}`);
    },
  };
}

/**
 * A Logto Management API client: a machine-to-machine app gets an access token with the OAuth 2.0
 * client credentials grant (RFC 6749 §4.4; client authenticated with HTTP Basic, §2.3.1) at
 * `<endpoint>/oidc/token`, for the Management API's resource indicator (RFC 8707) and scope `all`;
 * then `DELETE <endpoint>/api/users/{userId}` answers 204, or 404 for an unknown user. The token is
 * cached until shortly before it expires; the secret never leaves this closure (never logged).
 */
export function createIdpAccounts(settings: IdpAccountsSettings | null, options: { fetch?: typeof fetch } = {}): IdpAccounts {
  const missing = settings ? REQUIRED.filter((r) => !r.present(settings)).map((r) => r.variable) : REQUIRED.map((r) => r.variable);
  if (!settings || missing.length > 0) return notConfigured(`missing ${missing.join(', ')}`);
  const endpoint = (settings.endpoint as string).replace(/\/+$/, '');
  const basic = Buffer.from(`${encodeURIComponent(settings.appId as string)}:${encodeURIComponent(settings.appSecret as string)}`).toString('base64');
  const doFetch = options.fetch ?? fetch;
  let cached: { token: string; renewAt: number } | null = null;
  let pending: Promise<string> | null = null;

  const call = async (url: string, init: RequestInit, what: string): Promise<Response> => {
    try {
      return await doFetch(url, { ...init, redirect: 'error', signal: AbortSignal.timeout(settings.timeoutMs) });
    } catch (error) {
      const timedOut = (error as Error)?.name === 'TimeoutError';
      throw new IdpUnavailableError(`identity provider ${what}: ${timedOut ? 'timed out' : 'unreachable'}`);
    }
  };

  /** OAuth error codes (`invalid_client`, `invalid_target`, …) are protocol constants, safe to report. */
  const oauthError = async (response: Response): Promise<string> => {
    const body = (await response.json().catch(() => null)) as { error?: unknown } | null;
    return typeof body?.error === 'string' && /^[a-z_]{1,64}$/.test(body.error) ? ` (${body.error})` : '';
  };

  const fetchToken = async (): Promise<string> => {
    const response = await call(
      `${endpoint}/oidc/token`,
      {
        method: 'POST',
        headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ grant_type: 'client_credentials', resource: settings.resource, scope: 'all' }).toString(),
      },
      'token endpoint',
    );
    if (response.status === 429 || response.status >= 500) {
      throw new IdpUnavailableError(`identity provider token endpoint answered ${response.status}`);
    }
    if (!response.ok) {
      throw new IdpAccountsRefusedError(
        response.status,
        `The identity provider refused the machine-to-machine credentials: ${response.status}${await oauthError(response)}. ` +
          'Check LOGTO_M2M_APP_ID, LOGTO_M2M_APP_SECRET, LOGTO_MANAGEMENT_RESOURCE and that the app has a role with the Management API permission "all".',
      );
    }
    const body = (await response.json().catch(() => null)) as { access_token?: unknown; expires_in?: unknown } | null;
    if (typeof body?.access_token !== 'string' || body.access_token.length === 0) {
      throw new IdpUnavailableError('identity provider token endpoint answered without an access token');
    }
    const lifetimeMs = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in * 1000 : 60_000;
    cached = { token: body.access_token, renewAt: Date.now() + Math.max(lifetimeMs - TOKEN_RENEW_MARGIN_MS, lifetimeMs / 2) };
    return body.access_token;
  };

  /** One token request at a time: concurrent steps share it. */
  const token = async (): Promise<string> => {
    if (cached && Date.now() < cached.renewAt) return cached.token;
    pending ??= fetchToken().finally(() => {
      pending = null;
    });
    return pending;
  };

  const deleteOnce = async (userId: string) =>
    call(`${endpoint}/api/users/${encodeURIComponent(userId)}`, { method: 'DELETE', headers: { authorization: `Bearer ${await token()}` } }, 'Management API');

  return {
    configured: true,
    whyNot: null,
    async deleteUser(userId) {
      if (!USER_ID.test(userId)) throw new IdpAccountsRefusedError(0, 'The user id is not an identity provider user id');
      let response = await deleteOnce(userId);
      if (response.status === 401) {
        // The cached token may have been revoked or expired early: one fresh token, one more try.
        cached = null;
        response = await deleteOnce(userId);
      }
      await response.body?.cancel().catch(() => undefined);
      if (response.status === 204 || response.status === 200) return 'DELETED';
      if (response.status === 404) return 'ABSENT';
      if (response.status === 429 || response.status >= 500) throw new IdpUnavailableError(`identity provider Management API answered ${response.status}`);
      if (response.status === 401 || response.status === 403) {
        throw new IdpAccountsRefusedError(
          response.status,
          `The identity provider's Management API refused the token (${response.status}): give the machine-to-machine app a role with the Management API permission "all".`,
        );
      }
      throw new IdpAccountsRefusedError(response.status, `The identity provider's Management API refused to delete the user (${response.status})`);
    },
  };
}
