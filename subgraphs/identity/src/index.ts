import { runService } from '../../../shared/server/run';
import { startIdentity } from './app';
import { loadIdentityConfig } from './config';

runService('identity', () => startIdentity(loadIdentityConfig(process.env)));
