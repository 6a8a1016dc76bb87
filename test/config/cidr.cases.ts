import { contains, formatAddress, isPrivateRange, overlaps, packSubnets, parseCidr, Ipv4Cidr } from '../../lib/config/cidr';

const cidr = (text: string) => parseCidr(text) as Ipv4Cidr;

describe('cidr', () => {
  test('parses and formats', () => {
    expect(cidr('10.40.0.0/16')).toEqual({ network: 10 * 2 ** 24 + 40 * 2 ** 16, prefixLength: 16 });
    expect(formatAddress(cidr('192.168.10.0/24').network)).toBe('192.168.10.0');
    expect(parseCidr('10.0.0.0/33')).toMatch(/prefix length above 32/);
    expect(parseCidr('banana')).toMatch(/not an IPv4 CIDR/);
  });

  test('containment, overlap and private ranges', () => {
    expect(contains(cidr('10.0.0.0/16'), cidr('10.0.255.0/24'))).toBe(true);
    expect(contains(cidr('10.0.0.0/16'), cidr('10.1.0.0/24'))).toBe(false);
    expect(overlaps(cidr('10.0.0.0/23'), cidr('10.0.1.0/24'))).toBe(true);
    expect(overlaps(cidr('10.0.0.0/24'), cidr('10.0.1.0/24'))).toBe(false);
    expect(isPrivateRange(cidr('172.31.0.0/16'))).toBe(true);
    expect(isPrivateRange(cidr('172.32.0.0/16'))).toBe(false);
  });

  test('packs subnets aligned to their own size, as the CDK Vpc allocates them', () => {
    const { subnets, end } = packSubnets(cidr('10.0.0.0/16'), [26, 26, 22, 22, 24]);
    expect(subnets.map((s) => `${formatAddress(s.network)}/${s.prefixLength}`)).toEqual([
      '10.0.0.0/26',
      '10.0.0.64/26',
      '10.0.4.0/22',
      '10.0.8.0/22',
      '10.0.12.0/24',
    ]);
    expect(formatAddress(end)).toBe('10.0.13.0');
    for (let i = 0; i < subnets.length; i++) {
      for (let j = i + 1; j < subnets.length; j++) expect(overlaps(subnets[i], subnets[j])).toBe(false);
    }
  });
});
