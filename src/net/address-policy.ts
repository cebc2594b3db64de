import ipaddr from 'ipaddr.js';

/**
 * Which network addresses the service may connect to on a user's behalf (SSRF defence).
 * Only plainly public unicast passes: an IPv4 address ipaddr.js calls 'unicast', or an IPv6 address in the
 * global unicast block 2000::/3 that ipaddr.js names no special range for. Everything else is refused:
 * loopback, private, CGNAT, link-local (incl. the 169.254.169.254 metadata service), unique-local, multicast,
 * documentation, IPv4-compatible IPv6 (::a.b.c.d, a range ipaddr.js has no name for) and whatever else lies
 * outside 2000::/3. Addresses that carry an IPv4 address (IPv4-mapped and -translated, NAT64, 6to4, Teredo)
 * are judged by the IPv4 address they carry: `[::ffff:127.0.0.1]` and `[2002:7f00:1::]` reach loopback.
 */
export function addressRefusal(address: string): string | undefined {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.parse(canonical(address.replace(/^\[|\]$/g, '')));
  } catch {
    return `"${address}" is not an IP address`;
  }
  if (parsed.kind() === 'ipv4') return ipv4Refusal(address, parsed as ipaddr.IPv4);
  const v6 = parsed as ipaddr.IPv6;
  const range = v6.range();
  if (range === 'ipv4Mapped' || range === 'rfc6145') return ipv4Refusal(address, lastWords(v6));
  const embedded = embeddedIpv4(v6, range);
  if (embedded) {
    const carried = embedded.find((ipv4) => ipv4.range() !== 'unicast');
    return carried ? `${address} is a non-public (${range}) address: it carries ${carried}, ${article(describeRange(carried.range()))}` : undefined;
  }
  if (range !== 'unicast') return `${address} is ${article(describeRange(range))}`;
  if (isIpv4Compatible(v6)) return `${address} is an IPv4-compatible IPv6 address (deprecated ::/96)`;
  if (v6.parts[0]! >> 13 !== 0b001) return `${address} is outside the global unicast range 2000::/3`;
  return undefined;
}

/**
 * IPv6 with a dotted tail in hexadecimal form: ipaddr.js reads "::a.b.c.d" as IPv4-mapped (::ffff:a.b.c.d)
 * although it is IPv4-compatible, and some resolvers print IPv4-compatible addresses that way. The WHATWG URL
 * parser gets it right, so it normalises the form first.
 */
function canonical(address: string): string {
  if (!address.includes(':') || !address.includes('.')) return address;
  const [bare, zone] = address.split('%');
  const hex = new URL(`http://[${bare}]/`).hostname.replace(/^\[|\]$/g, '');
  return zone ? `${hex}%${zone}` : hex;
}

function ipv4Refusal(address: string, ipv4: ipaddr.IPv4): string | undefined {
  const range = ipv4.range();
  return range === 'unicast' ? undefined : `${address} is ${article(describeRange(range))}`;
}

/**
 * The IPv4 addresses a tunnelling or translation prefix carries (RFC 6052 NAT64 well-known prefix, RFC 3056
 * 6to4, RFC 4380 Teredo server and obfuscated client); undefined for other ranges. The local-use NAT64
 * prefix 64:ff9b:1::/48 has no fixed layout, so it is refused by its range name instead.
 */
function embeddedIpv4(v6: ipaddr.IPv6, range: string): ipaddr.IPv4[] | undefined {
  const p = v6.parts;
  if (range === 'rfc6052' && p[1] === 0xff9b && p[2] === 0) return [lastWords(v6)];
  if (range === '6to4') return [fromWords(p[1]!, p[2]!)];
  if (range === 'teredo') return [fromWords(p[2]!, p[3]!), fromWords(p[6]! ^ 0xffff, p[7]! ^ 0xffff)];
  return undefined;
}

function fromWords(high: number, low: number): ipaddr.IPv4 {
  return new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
}

/** The IPv4 address in the last 32 bits (mapped, translated and NAT64 forms put it there). */
function lastWords(v6: ipaddr.IPv6): ipaddr.IPv4 {
  return fromWords(v6.parts[6]!, v6.parts[7]!);
}

/** ::a.b.c.d: the first 96 bits zero (:: and ::1 are named by ipaddr.js and never get here). */
function isIpv4Compatible(v6: ipaddr.IPv6): boolean {
  return v6.parts.slice(0, 6).every((part) => part === 0);
}

function article(name: string): string {
  return `${/^[aeiou]/.test(name) ? 'an' : 'a'} ${name} address`;
}

function describeRange(range: string): string {
  const names: Record<string, string> = {
    loopback: 'loopback',
    private: 'private (RFC 1918)',
    carrierGradeNat: 'carrier-grade NAT (100.64.0.0/10)',
    linkLocal: 'link-local (incl. cloud metadata)',
    uniqueLocal: 'unique-local (fc00::/7)',
    unspecified: 'unspecified',
    multicast: 'multicast',
    broadcast: 'broadcast',
    reserved: 'reserved',
  };
  return names[range] ?? `non-public (${range})`;
}

/** True when the URL's host (or host:port) is on the operator's allowlist, which bypasses address checks. */
export function isAllowlisted(url: URL, allowHosts: readonly string[]): boolean {
  if (allowHosts.length === 0) return false;
  const hostname = url.hostname.toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  const bare = hostname.replace(/^\[|\]$/g, '');
  const candidates = new Set([hostname, bare, `${hostname}:${port}`, `${bare}:${port}`]);
  return allowHosts.some((entry) => candidates.has(entry.trim().toLowerCase()));
}

/** The literal IP in a URL host, or undefined when the host is a DNS name. */
export function literalAddress(url: URL): string | undefined {
  const bare = url.hostname.replace(/^\[|\]$/g, '');
  return ipaddr.isValid(bare) ? bare : undefined;
}
