// The learned default (Real-ESRGAN x4plus, installed by scripts/setup-models.sh) through
// the page: the options name it and offer the background upsampler, and a degraded
// portrait comes back restored. Its screenshot is the README's before/after.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { jobIdOf, screenshot, waitForScreen } from '../lib/browser.mjs';
import { IMAGES } from '../lib/paths.mjs';
import { inPage, suiteSetup } from '../lib/suite.mjs';

const LEARNED = 'realesrgan-x4plus';

describe('the learned restorer (embedded mode)', () => {
  const s = suiteSetup({ server: { env: { FACEFIX_RESTORER: LEARNED } } });

  test('a degraded portrait comes back restored by the learned default, shown before and after', () =>
    inPage(s.browser, async (page) => {
      await page.goto(s.server.base);
      await waitForScreen(page, 'intake');
      await page.click('#options summary');
      assert.equal(await page.$eval('#opt-model', (select) => select.value), LEARNED);
      assert.match(await page.textContent('#opt-model-about'), /Learned network .*slow on CPU/);
      assert.equal(await page.isVisible('#opt-bg-field'), true, 'the server offers a background upsampler');
      const backgrounds = await page.$$eval('#opt-bg option', (options) => options.map((o) => o.value));
      assert.deepEqual(backgrounds, ['', 'realesrgan']);
      await page.selectOption('#opt-bg', 'realesrgan');
      assert.match(await page.textContent('#opt-bg-about'), /megapixels on this server\.$/);
      assert.match(await page.textContent('#options-summary'), / 2× · realesrgan background · all faces$/);
      await page.click('label[for="opt-up-4"]');
      const [answer] = await Promise.all([
        page.waitForResponse((response) => response.request().method() === 'POST'),
        page.setInputFiles('#file-input', IMAGES.degradedPortrait),
      ]);
      assert.equal(answer.status(), 202);
      // Seconds per small face and per background tile on two cores.
      await waitForScreen(page, 'result', 300_000);
      const job = await (await fetch(`${s.server.base}/v1/jobs/${jobIdOf(page)}`)).json();
      assert.equal(job.params.bg_upsampler, 'realesrgan');
      assert.deepEqual([job.output.width, job.output.height], [512, 600], '4× the 128 × 150 upload');
      assert.equal(await page.textContent('#result-faces'), '1');
      await page.setViewportSize({ width: 900, height: 900 });
      await screenshot(page, 'learned-before-after');
    }));

  test('the API lists the upsampler with its limit and refuses a larger photo up front', async () => {
    const offer = await (await fetch(`${s.server.base}/v1/models`)).json();
    assert.equal(offer.models[0].name, LEARNED);
    assert.ok(offer.models[0].default);
    const [upsampler] = offer.bg_upsamplers;
    assert.equal(upsampler.name, 'realesrgan');
    assert.equal(upsampler.max_pixels, 102_400, 'the CPU default');
    const form = new FormData();
    form.append('bg_upsampler', 'realesrgan');
    form.append('image', new Blob([await readFile(IMAGES.coffee)]), 'coffee.png');
    const answer = await fetch(`${s.server.base}/v1/jobs`, { method: 'POST', body: form });
    assert.equal(answer.status, 422, '600 × 400 is over 0.1 MP');
    assert.equal((await answer.json()).error.code, 'upsampler-too-large');
  });
});
