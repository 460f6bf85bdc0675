import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import express, { type Express, type Request, type Response } from 'express';
import { z } from 'zod';
import type { InternalApiConfig } from '../../shared/config';
import { DependencyUnavailableError, type ErrorCode } from '../../shared/errors';
import { createIdpEventsClient, IDP_EVENT_TYPES, type IdpEvent, type IdpEventsClient, type IdpEventType } from '../../shared/idp-events-client';
import { componentLogger } from '../../shared/logger';

export const LOGTO_WEBHOOK_PATH = '/webhooks/logto';
export const LOGTO_SIGNATURE_HEADER = 'logto-signature-sha-256';
/** User payloads are a few kB; Logto's largest (organization membership deltas) stay well below this. */
const BODY_LIMIT = '512kb';

export interface LogtoWebhookSettings {
  /** The hook's signing key (Logto Console > Webhooks > the webhook > Signing key); null: the route is off. */
  signingKey: string | null;
  internal: InternalApiConfig;
}

/**
 * What privgraph reads of a Logto hook payload. Logto's payloads (packages/schemas types/hook.ts) carry
 * `hookId`, `event`, `createdAt` and, for user data hooks, the user in `data` (`id`, `isSuspended`, …);
 * interaction hooks carry `userId` on top, management API hooks the route's `params`. Everything else is
 * ignored and never stored or logged (it holds the user's email, name and phone).
 */
const hookPayloadSchema = z.object({
  hookId: z.string().min(1).max(128),
  event: z.string().min(1).max(100),
  createdAt: z.iso.datetime({ offset: true }),
  userId: z.string().min(1).max(200).optional(),
  data: z.unknown().optional(),
  params: z.record(z.string(), z.unknown()).optional(),
});

const userDataSchema = z.object({ id: z.string().min(1).max(200), isSuspended: z.boolean().optional() });

type Parsed = { kind: 'event'; event: IdpEvent } | { kind: 'ignored'; hookId: string; event: string } | { kind: 'invalid' };

function isHandled(event: string): event is IdpEventType {
  return (IDP_EVENT_TYPES as readonly string[]).includes(event);
}

/** JSON → the event identity handles, an event privgraph ignores, or malformed. */
export function parseLogtoHook(json: unknown): Parsed {
  const payload = hookPayloadSchema.safeParse(json);
  if (!payload.success) return { kind: 'invalid' };
  const { hookId, event, createdAt } = payload.data;
  if (!isHandled(event)) return { kind: 'ignored', hookId, event };
  const data = userDataSchema.safeParse(payload.data.data);
  const fromParams = payload.data.params?.userId;
  const userId = data.success ? data.data.id : payload.data.userId ?? (typeof fromParams === 'string' ? fromParams : undefined);
  if (!userId || userId.length > 200) return { kind: 'invalid' };
  if (event === 'User.SuspensionStatus.Updated') {
    // The suspension flag is the updated user's `isSuspended` (PATCH /api/users/:userId/is-suspended answers the user).
    if (!data.success || data.data.isSuspended === undefined) return { kind: 'invalid' };
    return { kind: 'event', event: { hookId, type: event, createdAt, userId, suspended: data.data.isSuspended } };
  }
  return { kind: 'event', event: { hookId, type: event, createdAt, userId } };
}

const sha256 = (value: Buffer) => createHash('sha256').update(value).digest();

/**
 * Logto signs each request with `logto-signature-sha-256: hex(HMAC-SHA-256(signing key, raw body))`
 * (docs.logto.io/developers/webhooks/secure-webhooks; core/src/utils/sign.ts). Compared in constant
 * time over digests of equal length, so neither the value nor its length leaks through timing.
 */
export function verifyLogtoSignature(signingKey: string, rawBody: Buffer, presented: string | undefined): boolean {
  if (typeof presented !== 'string' || !/^[0-9a-f]{64}$/i.test(presented.trim())) return false;
  const expected = createHmac('sha256', signingKey).update(rawBody).digest();
  return timingSafeEqual(sha256(expected), sha256(Buffer.from(presented.trim().toLowerCase(), 'hex')));
}

function refuse(res: Response, status: number, code: ErrorCode, message: string) {
  res.status(status).json({ errors: [{ message, extensions: { code } }] });
}

/**
 * POST /webhooks/logto: Logto's webhook, verified on the raw body, then handed to identity's internal
 * API. An event identity cannot handle now answers 503 and records nothing, so it can be delivered again;
 * Logto lists it as failed in the hook's recent logs (its HTTP client, ky, does not retry a POST by itself,
 * the hook's retry setting notwithstanding). Replays are harmless: identity deduplicates them.
 */
export function mountLogtoWebhook(app: Express, settings: LogtoWebhookSettings, options: { client?: IdpEventsClient } = {}) {
  const logger = componentLogger('gateway.logto-webhook');
  const { signingKey } = settings;
  if (!signingKey) {
    app.post(LOGTO_WEBHOOK_PATH, (_req, res) => refuse(res, 404, 'NOT_FOUND', 'The Logto webhook is not configured (set LOGTO_WEBHOOK_SIGNING_KEY)'));
    return;
  }
  const client = options.client ?? createIdpEventsClient(settings.internal);
  app.post(LOGTO_WEBHOOK_PATH, express.raw({ type: () => true, limit: BODY_LIMIT }), async (req: Request, res: Response) => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    if (!verifyLogtoSignature(signingKey, raw, req.header(LOGTO_SIGNATURE_HEADER))) {
      logger.warn({ code: 'UNAUTHENTICATED' }, 'logto webhook refused: bad or missing signature');
      refuse(res, 401, 'UNAUTHENTICATED', `The ${LOGTO_SIGNATURE_HEADER} header is missing or does not match the body`);
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch {
      refuse(res, 400, 'BAD_REQUEST', 'The body is not JSON');
      return;
    }
    const parsed = parseLogtoHook(json);
    if (parsed.kind === 'invalid') {
      logger.warn({ code: 'BAD_REQUEST' }, 'logto webhook refused: not a Logto hook payload');
      refuse(res, 400, 'BAD_REQUEST', 'The body is not a Logto hook event privgraph understands');
      return;
    }
    if (parsed.kind === 'ignored') {
      logger.info({ hookId: parsed.hookId, event: parsed.event }, 'logto webhook event ignored');
      res.json({ ok: true, duplicate: false, ignored: true });
      return;
    }
    const { hookId, type } = parsed.event;
    try {
      const result = await client.handle(parsed.event);
      logger.info({ hookId, event: type, outcome: result.outcome, duplicate: result.duplicate }, 'logto webhook event handled');
      res.json({ ok: true, duplicate: result.duplicate });
    } catch (error) {
      const unavailable = error instanceof DependencyUnavailableError;
      logger.error({ hookId, event: type, err: { name: (error as Error)?.name } }, 'logto webhook event not handled; it can be delivered again');
      if (unavailable) refuse(res, 503, 'DEPENDENCY_UNAVAILABLE', 'The identity service is unavailable; retry later');
      else refuse(res, 500, 'INTERNAL_SERVER_ERROR', 'Internal server error');
    }
  });
}
