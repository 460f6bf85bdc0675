import { z } from 'zod';
import { DEFAULT_PORTS, loadCommonConfig, parseEnv, type CommonConfig, type Env } from '../../shared/config';

export interface GatewayLimits {
  maxDepth: number;
  maxAliases: number;
  maxCost: number;
  maxTokens: number;
  maxDirectives: number;
}

export interface GatewayConfig {
  common: CommonConfig;
  limits: GatewayLimits;
  // Logto webhook (POST /webhooks/logto)
  /** LOGTO_WEBHOOK_SIGNING_KEY: the Logto hook's signing key; unset, the route answers 404. */
  logtoWebhookSigningKey: string | null;
}

export function loadGatewayConfig(env: Env): GatewayConfig {
  const common = loadCommonConfig(env, 'PORT', DEFAULT_PORTS.gateway);
  const limits = parseEnv(
    z.object({
      GATEWAY_MAX_DEPTH: z.coerce.number().int().min(2).max(100).default(12),
      GATEWAY_MAX_ALIASES: z.coerce.number().int().min(1).max(1000).default(30),
      GATEWAY_MAX_COST: z.coerce.number().int().min(10).max(1_000_000).default(20_000),
      GATEWAY_MAX_TOKENS: z.coerce.number().int().min(100).max(1_000_000).default(5_000),
      GATEWAY_MAX_DIRECTIVES: z.coerce.number().int().min(1).max(1000).default(50),
    }),
    env,
  );
  // Logto webhook
  const { LOGTO_WEBHOOK_SIGNING_KEY } = parseEnv(
    z.object({ LOGTO_WEBHOOK_SIGNING_KEY: z.string().trim().min(16, 'must be the signing key Logto shows for the webhook').optional() }),
    env,
  );
  return {
    common,
    logtoWebhookSigningKey: LOGTO_WEBHOOK_SIGNING_KEY ?? null,
    limits: {
      maxDepth: limits.GATEWAY_MAX_DEPTH,
      maxAliases: limits.GATEWAY_MAX_ALIASES,
      maxCost: limits.GATEWAY_MAX_COST,
      maxTokens: limits.GATEWAY_MAX_TOKENS,
      maxDirectives: limits.GATEWAY_MAX_DIRECTIVES,
    },
  };
}
