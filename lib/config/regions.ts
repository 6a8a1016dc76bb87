import { RegionInfo } from 'aws-cdk-lib/region-info';

/**
 * AWS regions as aws-cdk-lib's region-info knows them (the partition and region data that ships with the
 * pinned aws-cdk-lib, updated with every release). A region missing here is one the CDK cannot synthesize
 * region-specific facts for either.
 */
export const KNOWN_REGIONS: readonly string[] = RegionInfo.regions.map((r) => r.name).sort();

export function isKnownRegion(name: string): boolean {
  return KNOWN_REGIONS.includes(name);
}

/** The partition of a known region (`aws`, `aws-cn`, `aws-us-gov`, ...). */
export function partitionOf(region: string): string | undefined {
  return isKnownRegion(region) ? RegionInfo.get(region).partition : undefined;
}
