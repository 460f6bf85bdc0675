import { DEFAULT_PORTS, loadCommonConfig, loadDatabaseConfig, type CommonConfig, type DatabaseConfig, type Env } from '../../../shared/config';

export interface ConsentConfig {
  common: CommonConfig;
  database: DatabaseConfig;
}

export function loadConsentConfig(env: Env): ConsentConfig {
  return {
    common: loadCommonConfig(env, 'CONSENT_PORT', DEFAULT_PORTS.consent),
    database: loadDatabaseConfig(env, 'consent'),
  };
}
