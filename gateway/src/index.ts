import { runService } from '../../shared/server/run';
import { startGateway } from './app';
import { loadGatewayConfig } from './config';

runService('gateway', () => startGateway(loadGatewayConfig(process.env)));
