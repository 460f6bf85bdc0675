import { runService } from '../../../shared/server/run';
import { startConsent } from './app';
import { loadConsentConfig } from './config';

runService('consent', () => startConsent(loadConsentConfig(process.env)));
