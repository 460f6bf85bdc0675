import { Initial1732250000000 } from './control/1732250000000-initial';
import { Regions1763800000000 } from './control/1763800000000-regions';
import { KeyStore1763800000000 } from './keys/1763800000000-key-store';
import { RegionStore1763800000000 } from './region/1763800000000-region-store';

/** The pii service's own schema: placement of subjects in regions, key-rotation jobs. */
export const migrations = [Initial1732250000000, Regions1763800000000];
/** Each region's data store (ciphertexts, blind index). */
export const regionMigrations = [RegionStore1763800000000];
/** Each region's key store (wrapped data keys). */
export const keyStoreMigrations = [KeyStore1763800000000];
