// The web page against `facefix serve` in embedded mode with the real face models: the
// paths a person takes, in a real browser.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { jobIdOf, screenshot, statusOf, waitForScreen } from '../lib/browser.mjs';
import { checkDownload, deleteFromResult, restoreAstronaut } from '../lib/flows.mjs';
import { IMAGES } from '../lib/paths.mjs';
import { inPage, suiteSetup } from '../lib/suite.mjs';

const PHONE = { viewport: { width: 390, height: 844 }, hasTouch: true };

/** Presses Tab until the element with this id has the focus. */
async function tabTo(page, id) {
  for (let i = 0; i < 12; i += 1) {
    await page.keyboard.press('Tab');
    if ((await page.evaluate(() => document.activeElement?.id)) === id) return;
  }
  assert.fail(`Tab never reached #${id}`);
}

/** Chooses a file through the file input; resolves with the answer to the upload. */
async function chooseFile(page, file) {
  const [answer] = await Promise.all([
    page.waitForResponse((response) => response.request().method() === 'POST'),
    page.setInputFiles('#file-input', file),
  ]);
  return answer;
}

describe('the web page (embedded mode)', () => {
  const s = suiteSetup({ server: {} });

  test('the upload screen offers the server’s models and the options', () =>
    inPage(s.browser, async (page) => {
      await page.goto(s.server.base);
      await waitForScreen(page, 'intake');
      await screenshot(page, 'intake');
      await page.click('#options summary');
      const models = await page.$$eval('#opt-model option', (options) => options.map((o) => o.value));
      const listed = (await (await fetch(`${s.server.base}/v1/models`)).json()).models.map((m) => m.name);
      assert.deepEqual(models, listed);
      assert.match(await page.textContent('#opt-model-about'), /\. Licence: .+\.$/);
      assert.match(await page.textContent('#options-summary'), / 2× · all faces$/);
      await page.click('label[for="opt-up-3"]');
      await page.check('#opt-center');
      assert.match(await page.textContent('#options-summary'), / 3× · centre face only$/);
      await screenshot(page, 'intake-options');
    }));

  test('a photo goes in by the file picker, is compared, downloaded, resumed and deleted', () =>
    inPage(s.browser, async (page) => {
      const id = await restoreAstronaut(page, s.server.base, { shots: true });
      // A reload resumes the same job from the URL; the person's file name is not kept.
      await page.reload();
      await waitForScreen(page, 'result');
      assert.equal(jobIdOf(page), id);
      await checkDownload(page, `facefix-${id.slice(0, 8)}-restored.png`);
      await deleteFromResult(page, s.server.base, id);
      await screenshot(page, 'deleted');
    }));

  test('a file that is not an image gets a plain message and no upload', () =>
    inPage(s.browser, async (page) => {
      let uploads = 0;
      page.on('request', (request) => {
        if (request.method() === 'POST') uploads += 1;
      });
      await page.goto(s.server.base);
      await waitForScreen(page, 'intake');
      await page.setInputFiles('#file-input', IMAGES.notAnImage);
      await page.waitForSelector('#intake-error:not([hidden])');
      const message = await page.textContent('#intake-error');
      assert.match(message, /not an image facefix can read/);
      assert.match(message, /JPEG, PNG or WebP/);
      assert.equal(await page.getAttribute('#intake-error', 'role'), 'alert');
      assert.equal(uploads, 0);
      await screenshot(page, 'error-not-an-image');
    }));

  test('a damaged photo is refused by the server, and the page says why in plain words', () =>
    inPage(s.browser, async (page) => {
      await page.goto(s.server.base);
      await waitForScreen(page, 'intake');
      const answer = await chooseFile(page, IMAGES.truncated);
      assert.equal(answer.status(), 422);
      await page.waitForSelector('#intake-error:not([hidden])');
      assert.match(await page.textContent('#intake-error'), /damaged or incomplete/);
      assert.equal(jobIdOf(page), null);
      await screenshot(page, 'error-damaged');
    }));

  test('a photo without a face still comes back, enlarged, and says so', () =>
    inPage(s.browser, async (page) => {
      await page.goto(s.server.base);
      await waitForScreen(page, 'intake');
      await chooseFile(page, IMAGES.coffee);
      await waitForScreen(page, 'result');
      assert.equal(await page.textContent('#result-title'), 'No face found');
      assert.match(await page.textContent('#result-noface'), /No face was found .* enlarged 2×/);
      assert.equal(await page.textContent('#result-faces'), 'None (no face found)');
      assert.equal(await page.getAttribute('#result-download', 'download'), 'coffee-restored.png');
      await screenshot(page, 'result-no-face');
    }));

  test('a large photo: the status follows the stages, with the options chosen', () =>
    inPage(s.browser, async (page) => {
      await page.goto(s.server.base);
      await waitForScreen(page, 'intake');
      await page.click('#options summary');
      await page.click('label[for="opt-up-1"]');
      const answer = await chooseFile(page, IMAGES.large);
      assert.equal((await answer.json()).params.upscale, 1, 'the chosen upscale is sent');
      await page.waitForFunction(() => document.getElementById('status-title').textContent === 'Restoring your photo');
      // A stage event names what the worker is doing.
      await page.waitForFunction(() =>
        /^(Reading your photo|Decoding the image|Finding faces|Lining up each face|Restoring faces|Putting the faces back|Saving the image)…$/
          .test(document.getElementById('status-detail').textContent));
      assert.equal(await page.getAttribute('.steps li[data-step="processing"]', 'aria-current'), 'step');
      await screenshot(page, 'status-processing');
      await waitForScreen(page, 'result');
      assert.match(await page.textContent('#result-size'), /^7680 × 4320, [\d.]+ MB$/);
      assert.equal(await page.getAttribute('#result-download', 'download'), 'large_7680x4320-restored.jpg');
    }));

  test('on a phone-sized screen, with the keyboard alone', () =>
    inPage(
      s.browser,
      async (page) => {
        // Waiting for the chooser switches on its interception, which takes a moment:
        // started before the page loads, it is ready by the time Enter is pressed.
        const chooser = page.waitForEvent('filechooser');
        await page.goto(s.server.base);
        await waitForScreen(page, 'intake');
        await tabTo(page, 'file-input');
        await page.keyboard.press('Enter');
        await (await chooser).setFiles(IMAGES.astronaut);
        await waitForScreen(page, 'result');
        const id = jobIdOf(page);
        const focused = await page.evaluate(() => document.activeElement?.id);
        assert.equal(focused, 'result-title', 'focus follows the screen');
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(overflow <= 0, `no sideways scrolling (${overflow} px too wide)`);
        await tabTo(page, 'compare-divider');
        await page.keyboard.press('ArrowLeft');
        assert.equal(await page.getAttribute('#compare-divider', 'aria-valuenow'), '48');
        await screenshot(page, 'phone-result');
        await tabTo(page, 'result-delete');
        await page.keyboard.press('Enter');
        await waitForScreen(page, 'message', 10_000);
        assert.equal(await statusOf(s.server.base, id), 404);
      },
      PHONE,
    ));
});
