import { z } from 'zod';
import {
  DEFAULT_PORTS,
  loadCommonConfig,
  loadDatabaseConfig,
  loadErasureLedgerConfig,
  loadSigningKeyConfig,
  parseEnv,
  type CommonConfig,
  type DatabaseConfig,
  type Env,
  type ErasureLedgerConfig,
  type SigningKeyConfig,
} from '../../../shared/config';

export interface ConsentConfig {
  common: CommonConfig;
  database: DatabaseConfig;
  receipts: {
    /** The platform key receipts are signed with (the same key that signs audit checkpoints). */
    signingKey: SigningKeyConfig;
    /** Kantara `jurisdiction`: where the controller is located / the law consent is given under. */
    jurisdiction: string;
    /** Kantara `language` of the receipt's texts. */
    language: string;
  };
  /** The erasure ledger, replayed before serving: consents of erased subjects restored from a backup are withdrawn again. */
  erasureLedger: ErasureLedgerConfig;
}

export function loadConsentConfig(env: Env): ConsentConfig {
  const common = loadCommonConfig(env, 'CONSENT_PORT', DEFAULT_PORTS.consent);
  const parsed = parseEnv(
    z.object({
      CONSENT_RECEIPT_JURISDICTION: z.string().regex(/^[A-Za-z]{2}(-[A-Za-z0-9]{1,8})?$/, 'an ISO 3166 code such as EU, DE or US-CA').default('EU'),
      CONSENT_RECEIPT_LANGUAGE: z.string().regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$/, 'a BCP 47 tag such as en or de').default('en'),
    }),
    env,
  );
  return {
    common,
    database: loadDatabaseConfig(env, 'consent'),
    receipts: {
      signingKey: loadSigningKeyConfig(env, common.dataDir, common.env === 'production'),
      jurisdiction: parsed.CONSENT_RECEIPT_JURISDICTION,
      language: parsed.CONSENT_RECEIPT_LANGUAGE,
    },
    erasureLedger: loadErasureLedgerConfig(env, common.dataDir, common.env === 'production'),
  };
}
