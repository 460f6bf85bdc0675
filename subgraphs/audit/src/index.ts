import { runService } from '../../../shared/server/run';
import { startAudit } from './app';
import { loadAuditConfig } from './config';

runService('audit', () => startAudit(loadAuditConfig(process.env)));
