/** Minimal IPv4 CIDR arithmetic for synth-time validation of network config. */

export interface Ipv4Cidr {
  /** First address as an unsigned 32-bit integer. */
  readonly network: number;
  readonly prefixLength: number;
}

const CIDR_PATTERN = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/** Parses `a.b.c.d/n`; returns an error message instead of throwing so callers can collect problems. */
export function parseCidr(text: string): Ipv4Cidr | string {
  const match = CIDR_PATTERN.exec(text);
  if (!match) return 'is not an IPv4 CIDR of the form a.b.c.d/n';
  const octets = match.slice(1, 5).map(Number);
  const prefixLength = Number(match[5]);
  if (octets.some((o) => o > 255)) return 'has an octet above 255';
  if (prefixLength > 32) return 'has a prefix length above 32';
  const address = octets.reduce((acc, o) => acc * 256 + o, 0);
  const size = 2 ** (32 - prefixLength);
  if (address % size !== 0) {
    return `has host bits set (the network address for /${prefixLength} is ${formatAddress(address - (address % size))})`;
  }
  return { network: address, prefixLength };
}

export function formatAddress(address: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(address / 2 ** shift) % 256).join('.');
}

export function cidrSize(cidr: Ipv4Cidr): number {
  return 2 ** (32 - cidr.prefixLength);
}

/** True when the whole of `inner` lies in one of the RFC 1918 private ranges. */
export function isPrivateRange(cidr: Ipv4Cidr): boolean {
  const ranges = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'].map((r) => parseCidr(r) as Ipv4Cidr);
  return ranges.some((r) => contains(r, cidr));
}

export function contains(outer: Ipv4Cidr, inner: Ipv4Cidr): boolean {
  return (
    inner.prefixLength >= outer.prefixLength &&
    inner.network >= outer.network &&
    inner.network + cidrSize(inner) <= outer.network + cidrSize(outer)
  );
}

export function overlaps(a: Ipv4Cidr, b: Ipv4Cidr): boolean {
  return a.network < b.network + cidrSize(b) && b.network < a.network + cidrSize(a);
}

/**
 * Lays subnets out the way the CDK `Vpc` does (in order, each aligned to its own size) and returns the
 * address just past the last one, so the caller can check that all of them fit in the VPC range.
 */
export function packSubnets(vpc: Ipv4Cidr, prefixLengths: number[]): { end: number; subnets: Ipv4Cidr[] } {
  let cursor = vpc.network;
  const subnets: Ipv4Cidr[] = [];
  for (const prefixLength of prefixLengths) {
    const size = 2 ** (32 - prefixLength);
    cursor = Math.ceil(cursor / size) * size;
    subnets.push({ network: cursor, prefixLength });
    cursor += size;
  }
  return { end: cursor, subnets };
}
