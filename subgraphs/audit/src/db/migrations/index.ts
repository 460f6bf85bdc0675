import { Initial1732250000000 } from './1732250000000-initial';
import { RequestIdIndex1732260000000 } from './1732260000000-request-id-index';

export const migrations = [Initial1732250000000, RequestIdIndex1732260000000];
