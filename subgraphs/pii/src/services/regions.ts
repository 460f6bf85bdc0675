import { badInput, privgraphError } from '../../../../shared/errors';

export const REGION_PATTERN = /^[a-z]{2,8}$/;

const EEA = 'AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE IS LI NO';
/** The built-in country → region table; entries whose region is not configured are dropped. */
export const DEFAULT_COUNTRY_REGIONS: ReadonlyMap<string, string> = new Map([
  ...EEA.split(' ').map((c): [string, string] => [c, 'eu']),
  ['CH', 'eu'],
  ['GB', 'eu'],
  ['US', 'us'],
]);

export interface RegionPolicy {
  regions: readonly string[];
  defaultRegion: string;
  countryRegions: ReadonlyMap<string, string>;
}

/**
 * Where a subject's profile is first stored (architecture invariant 7): an explicit region wins, then
 * the address country through the table, then the default region. Afterwards the region is fixed.
 */
export function chooseRegion(policy: RegionPolicy, input: { region?: string | null; country?: string | null }): string {
  if (input.region != null) return requireRegion(policy, input.region, 'input.region');
  if (input.country) {
    const region = policy.countryRegions.get(input.country) ?? policy.countryRegions.get('*');
    if (!region) {
      throw privgraphError('REGION_UNSUPPORTED', `No region stores data for country ${input.country}; the platform's country table does not list it`, {
        field: 'input.address.country',
      });
    }
    return region;
  }
  return policy.defaultRegion;
}

export function requireRegion(policy: RegionPolicy, region: string, field: string): string {
  if (!REGION_PATTERN.test(region)) throw badInput(field, 'region must be a region code such as eu');
  if (!policy.regions.includes(region)) {
    throw privgraphError('REGION_UNSUPPORTED', `Region ${region} is not configured; configured: ${policy.regions.join(', ')}`, { field });
  }
  return region;
}
