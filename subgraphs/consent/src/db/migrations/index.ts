import { Initial1732250000000 } from './1732250000000-initial';
import { PoliciesReceipts1764000000000 } from './1764000000000-policies-receipts';
import { Outbox1764300000000 } from './1764300000000-outbox';

export const migrations = [Initial1732250000000, PoliciesReceipts1764000000000, Outbox1764300000000];
