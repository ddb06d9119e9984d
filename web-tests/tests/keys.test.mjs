// A server with API keys (`--api-keys-file`): the page asks for the key when the API
// answers 401, says when a key is refused, keeps the key in the tab's session storage and
// sends it with every call, the upload and the live status included.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { jobIdOf, launchBrowser, waitForScreen } from '../lib/browser.mjs';
import { IMAGES } from '../lib/paths.mjs';
import { startServer } from '../lib/server.mjs';
import { inPage } from '../lib/suite.mjs';

const KEY = 'web-test-key-0123456789';

function sha256(text) {
  return createHash('sha256').update(text).digest('hex');
}

async function enterKey(page, key) {
  await page.waitForSelector('#key-dialog[open]');
  await page.fill('#key-input', key);
  await page.press('#key-input', 'Enter');
}

describe('a server with API keys', () => {
  const held = {};
  before(async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'facefix-keys-'));
    const file = path.join(dir, 'api-keys');
    await writeFile(file, `web ${sha256(KEY)} 60 5\n`);
    [held.browser, held.server] = await Promise.all([
      launchBrowser(),
      startServer({ args: ['--no-worker', '--api-keys-file', file] }),
    ]);
  });
  after(async () => {
    await held.browser?.close();
    await held.server?.stop();
  });

  test('asks for the key, refuses a wrong one, then uploads and watches with it', () =>
    inPage(held.browser, async (page) => {
      await page.goto(held.server.base);
      // The page itself needs no key; its first API call (the model list) does.
      await enterKey(page, 'not-the-key');
      await page.waitForSelector('#key-rejected:not([hidden])');
      await enterKey(page, KEY);
      await page.waitForSelector('#key-dialog', { state: 'hidden' });
      await waitForScreen(page, 'intake');
      assert.equal(await page.evaluate(() => sessionStorage.getItem('facefix-api-key')), KEY);

      await page.setInputFiles('#file-input', IMAGES.astronaut);
      await page.waitForFunction(() => document.getElementById('status-title').textContent === 'Waiting in line');
      const id = jobIdOf(page);
      assert.ok(id, 'the job id is in the URL');
      const job = await fetch(`${held.server.base}/v1/jobs/${id}`, { headers: { Authorization: `Bearer ${KEY}` } });
      assert.equal(job.status, 200);
      assert.equal((await job.json()).owner, 'web');
      // Without the key, the job is not there for anyone.
      assert.equal((await fetch(`${held.server.base}/v1/jobs/${id}`)).status, 401);

      // A reload in the same tab keeps the key: no dialog, the same job, live.
      await page.reload();
      await page.waitForFunction(() => document.getElementById('status-title').textContent === 'Waiting in line');
      assert.equal(await page.isVisible('#key-dialog'), false);
      // The uploaded photo comes from the server now, and an <img> cannot send the key: the
      // page downloads it with the key and shows it from memory.
      await page.waitForFunction(() => document.getElementById('status-preview').src.startsWith('blob:'));
    }));
});
