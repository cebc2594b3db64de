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
