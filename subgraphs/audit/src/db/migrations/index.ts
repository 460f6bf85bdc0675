import { Initial1732250000000 } from './1732250000000-initial';

export const migrations = [Initial1732250000000];
