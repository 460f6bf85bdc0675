import { Initial1732250000000 } from './1732250000000-initial';
import { WriteOnce1763900000000 } from './1763900000000-write-once';
import { QueryIndexes1763900000001 } from './1763900000001-query-indexes';

export const migrations = [Initial1732250000000, WriteOnce1763900000000, QueryIndexes1763900000001];

/** What the audit service's application role may do: append and read, never change or remove. */
export const APP_PRIVILEGES = 'SELECT, INSERT';
