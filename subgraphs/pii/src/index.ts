import { runService } from '../../../shared/server/run';
import { startPii } from './app';
import { loadPiiConfig } from './config';

runService('pii', () => startPii(loadPiiConfig(process.env)));
