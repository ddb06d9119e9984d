// The main path, shared by the embedded and the real-services runs: a photo goes in through
// the file input, the result is compared, downloaded and deleted.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { jobIdOf, pngSize, screenshot, statusOf, waitForScreen } from './browser.mjs';
import { IMAGES } from './paths.mjs';

/** astronaut.png: 512 × 512; the default upscale doubles it. */
const INPUT_SIDE = 512;
const OUTPUT_SIDE = 1024;

async function imageSizes(page) {
  await page.waitForFunction(() =>
    ['compare-before', 'compare-after'].every((id) => {
      const image = document.getElementById(id);
      return image.complete && image.naturalWidth > 0;
    }));
  return page.evaluate(() => {
    const measure = (id) => {
      const image = document.getElementById(id);
      const box = image.getBoundingClientRect();
      return {
        natural: [image.naturalWidth, image.naturalHeight],
        shown: [Math.round(box.width), Math.round(box.height)],
      };
    };
    return { before: measure('compare-before'), after: measure('compare-after') };
  });
}

const sliderValue = async (page) => Number(await page.getAttribute('#compare-divider', 'aria-valuenow'));

/** Moves the before/after divider by keyboard, by a click and by a drag. */
export async function checkSlider(page) {
  assert.equal(await sliderValue(page), 50, 'the divider starts in the middle');
  await page.focus('#compare-divider');
  for (let i = 0; i < 3; i += 1) await page.keyboard.press('ArrowRight');
  assert.equal(await sliderValue(page), 56, 'three arrow presses, 2% each');
  await page.keyboard.press('Home');
  assert.equal(await sliderValue(page), 0, 'Home: all "after"');
  const box = await page.locator('#compare').boundingBox();
  const at = (fraction) => [box.x + box.width * fraction, box.y + box.height / 2];
  await page.mouse.click(...at(0.25));
  assert.ok(Math.abs((await sliderValue(page)) - 25) <= 1, 'a click moves the divider there');
  await page.mouse.move(...at(0.25));
  await page.mouse.down();
  await page.mouse.move(...at(0.75), { steps: 8 });
  await page.mouse.up();
  assert.ok(Math.abs((await sliderValue(page)) - 75) <= 1, 'a drag moves the divider along');
  const position = await page.$eval('#compare', (root) => root.style.getPropertyValue('--position'));
  assert.match(position, /^7[45](\.\d+)?%$/, 'the picture follows the divider');
}

/** Clicks Download; checks the file name and that the bytes are a PNG of `side` pixels. */
export async function checkDownload(page, expectedName, side = OUTPUT_SIDE) {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#result-download')]);
  assert.equal(download.suggestedFilename(), expectedName);
  const bytes = await readFile(await download.path());
  assert.deepEqual(pngSize(bytes), { width: side, height: side });
}

/** Uploads astronaut.png through the file input and checks the result screen. Returns the id. */
export async function restoreAstronaut(page, base, { shots = false } = {}) {
  await page.goto(base);
  await waitForScreen(page, 'intake');
  await page.setInputFiles('#file-input', IMAGES.astronaut);
  await waitForScreen(page, 'result');
  const id = jobIdOf(page);
  assert.ok(id, 'the job id is in the URL');

  const sizes = await imageSizes(page);
  assert.deepEqual(sizes.before.natural, [INPUT_SIDE, INPUT_SIDE]);
  assert.deepEqual(sizes.after.natural, [OUTPUT_SIDE, OUTPUT_SIDE], 'the result is twice the size');
  assert.deepEqual(sizes.before.shown, sizes.after.shown, 'the upload is shown at the result’s size');

  assert.ok(Number(await page.textContent('#result-faces')) >= 1, 'at least one face restored');
  assert.match(await page.textContent('#result-time'), /\d s/);
  assert.match(await page.textContent('#result-countdown'), /^1[45]:[0-5]\d$/, 'deleted in about 15 minutes');
  assert.equal(await page.isVisible('#result-noface'), false);
  if (shots) await screenshot(page, 'result');

  await checkSlider(page);
  await checkDownload(page, 'astronaut-restored.png');
  return id;
}

/** "Delete now": the page says so and the API no longer knows the job. */
export async function deleteFromResult(page, base, id) {
  await page.click('#result-delete');
  await waitForScreen(page, 'message', 10_000);
  assert.equal(await page.textContent('#message-title'), 'Deleted');
  assert.equal(await statusOf(base, id), 404, 'GET /v1/jobs/{id} after delete');
  assert.equal(jobIdOf(page), null, 'the id leaves the URL');
}
