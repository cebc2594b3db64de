import { describe, expect, it } from 'vitest';
import { addressRefusal, isAllowlisted, literalAddress } from '../src/net/address-policy.js';

/**
 * The SSRF address policy as a pure function (no network): which literal addresses the service may connect to,
 * which hosts the operator's allowlist lets through, and how a URL's host is read. The behaviour asserted here is
 * the one the guarded fetch relies on (issue 9 widens what is refused; nothing refused here may pass).
 */
describe('addressRefusal', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.0.1', 'private'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
    ['fd00::1', 'unique-local'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['224.0.0.251', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['192.0.2.1', 'reserved'],
    ['240.0.0.1', 'reserved'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:192.168.1.1', 'private'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['[::ffff:10.0.0.1]', 'private'],
  ])('refuses %s (%s)', (address, kind) => {
    const refusal = addressRefusal(address);
    expect(refusal).toBeDefined();
    expect(refusal).toContain(kind);
  });

  it('uses the right article', () => {
    expect(addressRefusal('127.0.0.1')).toBe('127.0.0.1 is a loopback address');
    expect(addressRefusal('0.0.0.0')).toMatch(/^0\.0\.0\.0 is an unspecified /);
    expect(addressRefusal('10.0.0.1')).toMatch(/^10\.0\.0\.1 is a private /);
  });

  it('lets plainly public unicast addresses through, bracketed or not', () => {
    for (const address of ['8.8.8.8', '1.1.1.1', '93.184.216.34', '2001:4860:4860::8888', '[2001:4860:4860::8888]', '2606:4700:4700::1111']) {
      expect(addressRefusal(address), address).toBeUndefined();
    }
  });

  it('refuses what is not an IP address, and strips only one pair of enclosing brackets', () => {
    expect(addressRefusal('example.com')).toBe('"example.com" is not an IP address');
    expect(addressRefusal('')).toBe('"" is not an IP address');
    // Stray brackets are not part of an address: each of these stays unparseable (not 8.8.8.8 or 2001:...).
    for (const address of ['8.8.[8.8', '[8.8.8.8]]', '[[2001:4860:4860::8888]', '8.8]8.8']) {
      expect(addressRefusal(address), address).toBe(`"${address}" is not an IP address`);
    }
  });
});

describe('addressRefusal: addresses that carry or imitate another address', () => {
  // Each message in full: the message names what the address is, so a check that fails open into a later,
  // vaguer branch (say "non-public (ipv4Mapped)" instead of "loopback") shows here.
  it.each([
    // IPv4-compatible (::/96, deprecated): refused whatever IPv4 address it holds, dotted or hex.
    ['::7f00:1', '::7f00:1 is an IPv4-compatible IPv6 address (deprecated ::/96)'],
    ['::a00:1', '::a00:1 is an IPv4-compatible IPv6 address (deprecated ::/96)'],
    ['::8.8.8.8', '::8.8.8.8 is an IPv4-compatible IPv6 address (deprecated ::/96)'],
    ['::127.0.0.1', '::127.0.0.1 is an IPv4-compatible IPv6 address (deprecated ::/96)'],
    // IPv4-mapped (::ffff:0:0/96) and IPv4-translated (::ffff:0:0:0/96): judged by the IPv4 address.
    ['::ffff:127.0.0.1', '::ffff:127.0.0.1 is a loopback address'],
    ['::ffff:7f00:1', '::ffff:7f00:1 is a loopback address'],
    ['::ffff:0:a00:1', '::ffff:0:a00:1 is a private (RFC 1918) address'],
    ['::ffff:0:7f00:1', '::ffff:0:7f00:1 is a loopback address'],
    // NAT64 well-known prefix (RFC 6052): the IPv4 address in the last 32 bits.
    ['64:ff9b::7f00:1', '64:ff9b::7f00:1 is a non-public (rfc6052) address: it carries 127.0.0.1, a loopback address'],
    ['64:ff9b::a9fe:a9fe', '64:ff9b::a9fe:a9fe is a non-public (rfc6052) address: it carries 169.254.169.254, a link-local (incl. cloud metadata) address'],
    // The local-use NAT64 prefix has no fixed layout: refused by its name.
    ['64:ff9b:1::a00:1', '64:ff9b:1::a00:1 is a non-public (rfc6052) address'],
    // 6to4 (RFC 3056): the IPv4 address in bits 16-47.
    ['2002:c0a8:101::1', '2002:c0a8:101::1 is a non-public (6to4) address: it carries 192.168.1.1, a private (RFC 1918) address'],
    ['2002:7f00:1::', '2002:7f00:1:: is a non-public (6to4) address: it carries 127.0.0.1, a loopback address'],
    // Teredo (RFC 4380): the server in bits 32-63, the client inverted in the last 32 bits; either refuses.
    ['2001:0:4136:e378:8000:63bf:80ff:fffe', '2001:0:4136:e378:8000:63bf:80ff:fffe is a non-public (teredo) address: it carries 127.0.0.1, a loopback address'],
    ['2001:0:a00:1:8000:63bf:f7f7:f7f7', '2001:0:a00:1:8000:63bf:f7f7:f7f7 is a non-public (teredo) address: it carries 10.0.0.1, a private (RFC 1918) address'],
  ])('refuses %s', (address, refusal) => {
    expect(addressRefusal(address)).toBe(refusal);
  });

  it.each(['::ffff:8.8.8.8', '::ffff:0:808:808', '64:ff9b::808:808', '2002:808:808::1', '2001:0:4136:e378:8000:63bf:f7f7:f7f7'])(
    'lets %s through: the IPv4 address it carries is public',
    (address) => {
      expect(addressRefusal(address)).toBeUndefined();
    },
  );

  it('keeps the zone of a dotted form: the zone does not change what the address carries', () => {
    expect(addressRefusal('::ffff:127.0.0.1%eth0')).toBe('::ffff:127.0.0.1%eth0 is a loopback address');
    expect(addressRefusal('::127.0.0.1%eth0')).toBe('::127.0.0.1%eth0 is an IPv4-compatible IPv6 address (deprecated ::/96)');
  });

  it('reads the NAT64 layout only in the NAT64 prefix: ff9b as the second word elsewhere is plain unicast', () => {
    expect(addressRefusal('2600:ff9b::7f00:1')).toBeUndefined();
    // Inside 64:ff9b::/48 but outside the well-known /96: no embedded address, and outside 2000::/3.
    expect(addressRefusal('64:ff9b:0:1::7f00:1')).toBe('64:ff9b:0:1::7f00:1 is outside the global unicast range 2000::/3');
  });

  it('reads the Teredo client from the last 32 bits inverted, not as stored', () => {
    // Stored 7f00:0001 inverts to 128.255.255.254 (public); the server 8.8.8.8 is public too.
    expect(addressRefusal('2001:0:808:808:8000:63bf:7f00:1')).toBeUndefined();
    // The same client stored inverted is loopback.
    expect(addressRefusal('2001:0:808:808:8000:63bf:80ff:fffe')).toBe(
      '2001:0:808:808:8000:63bf:80ff:fffe is a non-public (teredo) address: it carries 127.0.0.1, a loopback address',
    );
  });
});

describe('addressRefusal: IPv6 outside plainly public unicast', () => {
  it.each([
    // Outside 2000::/3, on both sides of it and at its edges.
    ['1::1', '1::1 is outside the global unicast range 2000::/3'],
    ['1fff:ffff::1', '1fff:ffff::1 is outside the global unicast range 2000::/3'],
    ['4000::1', '4000::1 is outside the global unicast range 2000::/3'],
    ['e000::1', 'e000::1 is outside the global unicast range 2000::/3'],
    // Not IPv4-compatible: a nonzero word in the first 96 bits.
    ['::1:0:0:1', '::1:0:0:1 is outside the global unicast range 2000::/3'],
    ['::1:7f00:1', '::1:7f00:1 is outside the global unicast range 2000::/3'],
    ['1::7f00:1', '1::7f00:1 is outside the global unicast range 2000::/3'],
    // Special ranges ipaddr.js names: a known name is described, an unknown one is quoted.
    ['fe80::1%eth0', 'fe80::1%eth0 is a link-local (incl. cloud metadata) address'],
    ['fec0::1', 'fec0::1 is a non-public (deprecatedSiteLocal) address'],
    ['100::1', '100::1 is a non-public (discard) address'],
    ['2001:db8::1', '2001:db8::1 is a reserved address'],
    ['3fff::1', '3fff::1 is a reserved address'],
    ['2001:2::1', '2001:2::1 is a non-public (benchmarking) address'],
    ['198.18.0.1', '198.18.0.1 is a reserved address'],
    ['192.0.0.8', '192.0.0.8 is a reserved address'],
  ])('refuses %s', (address, refusal) => {
    expect(addressRefusal(address)).toBe(refusal);
  });

  it.each(['2000::1', '3fff:ffff::1', '2a00:1450:4001:80b::200e'])('lets %s through: global unicast, no special range', (address) => {
    expect(addressRefusal(address)).toBeUndefined();
  });
});

describe('isAllowlisted', () => {
  const url = (href: string) => new URL(href);

  it('matches a bare host on any port, and host:port only on that port', () => {
    expect(isAllowlisted(url('http://example.com:8080/a'), ['example.com'])).toBe(true);
    expect(isAllowlisted(url('http://example.com:8080/a'), ['example.com:8080'])).toBe(true);
    expect(isAllowlisted(url('http://example.com:8081/a'), ['example.com:8080'])).toBe(false);
    expect(isAllowlisted(url('http://other.example.com/a'), ['example.com'])).toBe(false);
    expect(isAllowlisted(url('http://example.com/a'), [])).toBe(false);
  });

  it('fills in the default port of the scheme: 80 for http, 443 for https', () => {
    expect(isAllowlisted(url('http://example.com/a'), ['example.com:80'])).toBe(true);
    expect(isAllowlisted(url('http://example.com/a'), ['example.com:443'])).toBe(false);
    expect(isAllowlisted(url('https://example.com/a'), ['example.com:443'])).toBe(true);
    expect(isAllowlisted(url('https://example.com/a'), ['example.com:80'])).toBe(false);
    expect(isAllowlisted(url('https://example.com/a'), ['example.com:'])).toBe(false);
  });

  it('takes IPv6 hosts with or without brackets, with or without a port', () => {
    const v6 = url('http://[::1]:8080/a');
    expect(isAllowlisted(v6, ['::1'])).toBe(true);
    expect(isAllowlisted(v6, ['[::1]'])).toBe(true);
    expect(isAllowlisted(v6, ['[::1]:8080'])).toBe(true);
    expect(isAllowlisted(v6, ['::1:8080'])).toBe(true);
    expect(isAllowlisted(v6, ['[::1]:8081'])).toBe(false);
    expect(isAllowlisted(v6, ['::2'])).toBe(false);
  });

  it('compares case-insensitively, ignores spaces around entries, and needs only one entry to match', () => {
    expect(isAllowlisted(url('http://Example.COM/a'), ['example.com'])).toBe(true);
    expect(isAllowlisted(url('http://example.com/a'), ['EXAMPLE.com'])).toBe(true);
    expect(isAllowlisted(url('http://example.com:9000/a'), [' example.com:9000 '])).toBe(true);
    expect(isAllowlisted(url('http://127.0.0.1:9000/a'), ['10.0.0.1', '127.0.0.1:9000'])).toBe(true);
    expect(isAllowlisted(url('http://127.0.0.1:9000/a'), ['127.0.0.1:9000', '10.0.0.1'])).toBe(true);
  });
});

describe('literalAddress', () => {
  it('returns the bare IP of an IP host and nothing for a DNS name', () => {
    expect(literalAddress(new URL('http://127.0.0.1:8080/a'))).toBe('127.0.0.1');
    expect(literalAddress(new URL('http://[::ffff:7f00:1]/a'))).toBe('::ffff:7f00:1');
    expect(literalAddress(new URL('http://[2001:db8::1]:443/a'))).toBe('2001:db8::1');
    expect(literalAddress(new URL('http://example.com/a'))).toBeUndefined();
    expect(literalAddress(new URL('http://localhost/a'))).toBeUndefined();
    // WHATWG URL parsing already turned these IPv4 spellings into dotted quads.
    expect(literalAddress(new URL('http://2130706433/'))).toBe('127.0.0.1');
    expect(literalAddress(new URL('http://0x7f.1/'))).toBe('127.0.0.1');
  });
});
