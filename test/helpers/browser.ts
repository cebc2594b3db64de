import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page, type Response } from 'playwright-core';
import sharp from 'sharp';

/**
 * Debian's Chromium driven by playwright-core (no browser download), headless, with a fresh profile per run.
 * Every page records its console errors, page errors and responses so tests assert "no errors" and inspect tiles.
 * Screenshots go to test-artifacts/ (git-ignored) for a person to look at.
 */
export const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));

/** Page condition (evaluated in the browser): the viewer has loaded tiles and none is pending. */
export const TILES_SETTLED = "document.body.dataset.tilesPending === '0' && Number(document.body.dataset.tilesLoaded) > 0";

export interface WatchedPage {
  page: Page;
  errors: string[];
  responses: Response[];
}

export interface Browser {
  open(url: string): Promise<WatchedPage>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'tmogc-chromium-'));
  const context: BrowserContext = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1200, height: 800 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  return {
    async open(url) {
      const page = await context.newPage();
      const errors: string[] = [];
      const responses: Response[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') errors.push(message.text());
      });
      page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
      page.on('response', (response) => responses.push(response));
      await page.goto(url);
      return { page, errors, responses };
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export async function screenshot(page: Page, name: string): Promise<Buffer> {
  mkdirSync(ARTIFACTS, { recursive: true });
  return page.screenshot({ path: join(ARTIFACTS, name) });
}

/** Tile responses (…/{tileMatrix}/{tileRow}/{tileCol}) among those a page received. */
export function tileResponses(responses: Response[]): Response[] {
  return responses.filter((response) => /\/map\/tiles\/[^/]+\/\d+\/\d+\/\d+(\?|$)/.test(response.url()));
}

/** Counts of fully transparent and fully opaque pixels in a PNG. */
export async function alphaCounts(png: Buffer): Promise<{ transparent: number; opaque: number }> {
  const { data } = await sharp(png).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  let transparent = 0;
  let opaque = 0;
  for (let i = 3; i < data.length; i += 4) {
    if (data[i] === 0) transparent += 1;
    else if (data[i] === 255) opaque += 1;
  }
  return { transparent, opaque };
}

/** Share of the pixels in a screenshot region that differ from a background colour (the map drew something). */
export async function paintedShare(png: Buffer, region: { left: number; top: number; width: number; height: number }, background: [number, number, number]): Promise<number> {
  const { data, info } = await sharp(png).extract(region).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let painted = 0;
  for (let i = 0; i < data.length; i += info.channels) {
    const distance = Math.abs(data[i] - background[0]) + Math.abs(data[i + 1] - background[1]) + Math.abs(data[i + 2] - background[2]);
    if (distance > 30) painted += 1;
  }
  return painted / (info.width * info.height);
}
