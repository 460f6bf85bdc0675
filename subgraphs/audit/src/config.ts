import { DEFAULT_PORTS, loadCommonConfig, loadDatabaseConfig, type CommonConfig, type DatabaseConfig, type Env } from '../../../shared/config';

export interface AuditConfig {
  common: CommonConfig;
  database: DatabaseConfig;
}

export function loadAuditConfig(env: Env): AuditConfig {
  return {
    common: loadCommonConfig(env, 'AUDIT_PORT', DEFAULT_PORTS.audit),
    database: loadDatabaseConfig(env, 'audit'),
  };
}
