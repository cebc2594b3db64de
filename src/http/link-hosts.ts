import ipaddr from 'ipaddr.js';
import type { Context, MiddlewareHandler } from 'hono';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { isAllowlisted } from '../net/address-policy.js';

/**
 * Which host absolute links are built on. With PUBLIC_URL set, always that. Without it the request's Host
 * header is used only when it names loopback or a host on LINK_HOSTS; any other Host (a shared cache in
 * front could be made to store links to an attacker's host) gets the fallback http://localhost:<PORT>, and a
 * warning to set PUBLIC_URL is logged once.
 */
export interface LinkPolicy {
  publicUrl?: string;
  hosts: readonly string[];
  fallback: string;
  warnFallback: () => void;
}

declare module 'hono' {
  interface ContextVariableMap {
    linkPolicy: LinkPolicy;
  }
}

export function linkPolicy(config: Pick<Config, 'PUBLIC_URL' | 'LINK_HOSTS' | 'PORT'>, logger?: Logger): MiddlewareHandler {
  let warned = false;
  const policy: LinkPolicy = {
    publicUrl: config.PUBLIC_URL,
    hosts: config.LINK_HOSTS,
    fallback: `http://localhost:${config.PORT}`,
    warnFallback: () => {
      if (warned) return;
      warned = true;
      logger?.warn({ fallback: policy.fallback }, 'a request named a Host that is not loopback or on LINK_HOSTS; links use the fallback (set PUBLIC_URL)');
    },
  };
  return (c, next) => {
    c.set('linkPolicy', policy);
    return next();
  };
}

/** The origin links are built on, for a request (PUBLIC_URL wins when given). */
export function linkOrigin(c: Context, publicUrl: string | undefined): string {
  if (publicUrl) return publicUrl;
  const policy = c.get('linkPolicy') as LinkPolicy | undefined;
  const url = new URL(c.req.url);
  if (isLoopbackHost(url.hostname) || isAllowlisted(url, policy?.hosts ?? [])) return url.origin;
  policy?.warnFallback();
  return policy?.fallback ?? 'http://localhost';
}

/** True when links of this response depend on the request's Host header (no PUBLIC_URL). */
export function linksFollowHost(c: Context, publicUrl: string | undefined): boolean {
  return !(publicUrl ?? (c.get('linkPolicy') as LinkPolicy | undefined)?.publicUrl);
}

function isLoopbackHost(hostname: string): boolean {
  const bare = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost' || bare.endsWith('.localhost')) return true;
  if (!ipaddr.isValid(bare)) return false;
  const parsed = ipaddr.process(bare);
  return parsed.range() === 'loopback';
}
