import { Initial1732250000000 } from './1732250000000-initial';
import { WriteOnce1763900000000 } from './1763900000000-write-once';
import { QueryIndexes1763900000001 } from './1763900000001-query-indexes';
import { TimePartitions1764100000000 } from './1764100000000-time-partitions';
import { OutcomeAndUniqueSeq1765000000000 } from './1765000000000-outcome-and-unique-seq';
import { RequestOrigin1765100000000 } from './1765100000000-request-origin';
import { SeqRangesAndPartitionGrants1765200000000 } from './1765200000000-seq-ranges-and-partition-grants';

export const migrations = [Initial1732250000000, WriteOnce1763900000000, QueryIndexes1763900000001, TimePartitions1764100000000, OutcomeAndUniqueSeq1765000000000, RequestOrigin1765100000000, SeqRangesAndPartitionGrants1765200000000];

/** What the audit service's application role may do: append and read, never change or remove. */
export const APP_PRIVILEGES = 'SELECT, INSERT';
