import { badRequest } from '../errors.js';

/**
 * Public S3 buckets whose objects are readable anonymously over HTTPS, with their region. s3:// hrefs to them
 * are rewritten to virtual-hosted HTTPS so the guarded fetcher can range-read them.
 */
const PUBLIC_BUCKETS: Readonly<Record<string, string>> = {
  'sentinel-cogs': 'us-west-2', // Earth Search Sentinel-2 L2A COGs
  'e84-earth-search-sentinel-data': 'us-west-2', // Earth Search Collection-1 COGs
  'copernicus-dem-30m': 'eu-central-1',
  'copernicus-dem-90m': 'eu-central-1',
  'sentinel-s1-rtc-indigo': 'us-west-2',
};

/** Buckets that need a paying AWS account; anonymous reads get 403, so say so up front. */
const REQUESTER_PAYS = new Set(['sentinel-s2-l1c', 'sentinel-s2-l2a', 'sentinel-s1-l1c']);

/**
 * Absolute URL of an asset href: relative hrefs resolve against the item's URL, s3:// of known public buckets
 * becomes https. file:// is kept only for items that were themselves read from file:// (operator config).
 */
export function resolveHref(href: string, itemUrl: string, assetKey = 'asset'): string {
  const base = URL.canParse(itemUrl) ? new URL(itemUrl) : undefined;
  let url: URL;
  try {
    url = base ? new URL(href, base) : new URL(href);
  } catch {
    throw badRequest(`Asset "${assetKey}": href "${href}" is relative but the item URL "${itemUrl}" is not absolute`);
  }
  switch (url.protocol) {
    case 'http:':
    case 'https:':
      return url.href;
    case 's3:':
      return s3ToHttps(url, assetKey);
    case 'file:':
      if (base?.protocol === 'file:') return url.href;
      throw badRequest(`Asset "${assetKey}": file:// hrefs are only allowed in items read from local files`);
    default:
      throw badRequest(`Asset "${assetKey}": href scheme "${url.protocol.replace(/:$/, '')}" is not supported (http, https, s3)`);
  }
}

function s3ToHttps(url: URL, assetKey: string): string {
  const bucket = url.hostname;
  if (REQUESTER_PAYS.has(bucket)) {
    throw badRequest(
      `Asset "${assetKey}": s3://${bucket} is a requester-pays bucket that cannot be read anonymously; use an item whose assets are public COGs (e.g. Earth Search sentinel-2-l2a COG assets)`,
    );
  }
  const region = PUBLIC_BUCKETS[bucket];
  if (!region) {
    throw badRequest(
      `Asset "${assetKey}": s3://${bucket} is not a known public bucket (${Object.keys(PUBLIC_BUCKETS).join(', ')}); give an https URL instead`,
    );
  }
  return `https://${bucket}.s3.${region}.amazonaws.com${url.pathname}`;
}
