import ipaddr from 'ipaddr.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;

// ipaddr.js names every entry of the IANA IPv4 and IPv6 special-purpose registries except these; everything
// outside 2000::/3 is "reserved by the IETF" in the IANA IPv6 address space registry, so it is refused too.
const UNNAMED_IPV6_RANGES: [name: string, cidr: [Address, number]][] = [
  ['ipv4Compatible', ipaddr.parseCIDR('::/96')], // RFC 4291 §2.5.5.1, deprecated
  ['dummyPrefix', ipaddr.parseCIDR('100:0:0:1::/64')], // RFC 9780
];
const GLOBAL_UNICAST_IPV6 = ipaddr.parseCIDR('2000::/3');
const NAT64_WELL_KNOWN = ipaddr.parseCIDR('64:ff9b::/96');

const ipv4FromParts = (hi: number, lo: number) => new ipaddr.IPv4([hi >> 8, hi & 255, lo >> 8, lo & 255]);

/**
 * The IPv4 address an IPv6 address carries and is delivered to: IPv4-mapped and -translated (`::ffff:a.b.c.d`,
 * `::ffff:0:a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`) and 6to4 (`2002:aabb:ccdd::/48`).
 */
function embeddedIpv4(address: ipaddr.IPv6): ipaddr.IPv4 | undefined {
  const p = address.parts as [number, number, number, number, number, number, number, number];
  const range = address.range();
  if (range === 'ipv4Mapped' || range === 'rfc6145' || address.match(NAT64_WELL_KNOWN)) {
    return ipv4FromParts(p[6], p[7]);
  }
  if (range === '6to4') return ipv4FromParts(p[1], p[2]);
  return undefined;
}

function rangeOf(address: Address): string | undefined {
  if (address.kind() === 'ipv4') {
    const range = address.range();
    return range === 'unicast' ? undefined : range;
  }
  const v6 = address as ipaddr.IPv6;
  const carried = embeddedIpv4(v6);
  if (carried) {
    const inner = rangeOf(carried);
    return inner && `${v6.range()} of ${carried} (${inner})`;
  }
  const range = v6.range();
  if (range !== 'unicast') return range;
  const unnamed = UNNAMED_IPV6_RANGES.find(([, cidr]) => v6.match(cidr));
  if (unnamed) return unnamed[0];
  return v6.match(GLOBAL_UNICAST_IPV6) ? undefined : 'reserved';
}

/**
 * The name of the special-purpose range (loopback, private, linkLocal, carrierGradeNat, reserved, benchmarking,
 * multicast, uniqueLocal, …) that `address` is in, or undefined for a global unicast address. An IPv6 address that
 * carries an IPv4 address is judged by that IPv4 address. Anything that does not parse counts as special.
 */
export function specialPurposeRange(address: string): string | undefined {
  if (!ipaddr.isValid(address)) return 'invalid';
  return rangeOf(ipaddr.parse(address));
}
