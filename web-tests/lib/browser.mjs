// Debian's Chromium, headless, driven by playwright-core; pages that record what went wrong
// inside them; screenshots; a few API calls made from the test itself.

import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { SCREENSHOTS } from './paths.mjs';

export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.FACEFIX_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-dev-shm-usage'],
  });
}

/**
 * A page in a context of its own. `problems` collects uncaught exceptions and console
 * errors (a CSP refusal shows up there), but not failed loads, which some tests cause.
 */
export async function openPage(browser, contextOptions = {}) {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 860 },
    acceptDownloads: true,
    ...contextOptions,
  });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      problems.push(message.text());
    }
  });
  return { page, problems, close: () => context.close() };
}

export async function screenshot(page, name) {
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

export function waitForScreen(page, name, timeout = 60_000) {
  return page.waitForSelector(`body[data-screen="${name}"]`, { timeout });
}

/** The job id in the page's URL (`#job=…`), or null. */
export function jobIdOf(page) {
  return /#job=([0-9a-f-]{36})$/.exec(page.url())?.[1] ?? null;
}

/** Uploads a file through the API (not the page), as another client would. */
export async function uploadByApi(base, file) {
  const form = new FormData();
  form.append('image', new Blob([await readFile(file)]), 'upload');
  const response = await fetch(`${base}/v1/jobs`, { method: 'POST', body: form });
  if (response.status !== 202) throw new Error(`upload answered ${response.status}`);
  return response.json();
}

export async function statusOf(base, id) {
  const response = await fetch(`${base}/v1/jobs/${id}`);
  await response.arrayBuffer();
  return response.status;
}

/** Width and height from a PNG's IHDR chunk; throws when the bytes are not a PNG. */
export function pngSize(bytes) {
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (!signature.every((byte, i) => bytes[i] === byte)) throw new Error('not a PNG');
  if (bytes.toString('latin1', 12, 16) !== 'IHDR') throw new Error('PNG without IHDR first');
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}
