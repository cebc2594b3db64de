import ipaddr from 'ipaddr.js';

/**
 * Which network addresses the service may connect to on a user's behalf (SSRF defence).
 * Only globally routable unicast addresses pass; everything ipaddr.js classifies otherwise (loopback,
 * private, CGNAT, link-local incl. the 169.254.169.254 metadata service, unique-local, multicast,
 * broadcast, unspecified, documentation, 6to4/Teredo/NAT64 tunnels that may embed a private IPv4...)
 * is refused. IPv4-mapped IPv6 (::ffff:10.0.0.1) is judged as the IPv4 it carries.
 */
export function addressRefusal(address: string): string | undefined {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.parse(address.replace(/^\[|\]$/g, ''));
  } catch {
    return `"${address}" is not an IP address`;
  }
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
    parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  }
  const range = parsed.range();
  if (range === 'unicast') return undefined;
  const name = describeRange(range);
  return `${address} is ${/^[aeiou]/.test(name) ? 'an' : 'a'} ${name} address`;
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
