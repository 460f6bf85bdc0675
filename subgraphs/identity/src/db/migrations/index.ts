import { Initial1732250000000 } from './1732250000000-initial';
import { IdpEvents1764400000000 } from './1764400000000-idp-events';

export const migrations = [Initial1732250000000, IdpEvents1764400000000];
