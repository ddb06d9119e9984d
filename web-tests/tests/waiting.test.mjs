// Jobs that wait: `facefix serve --no-worker` accepts uploads but nothing processes them,
// so the status screen, a reload in the middle of a job, the polling fallback and a full
// backlog can be seen for as long as a test needs.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { jobIdOf, screenshot, statusOf, uploadByApi, waitForScreen } from '../lib/browser.mjs';
import { IMAGES } from '../lib/paths.mjs';
import { inPage, suiteSetup } from '../lib/suite.mjs';

/** Upload speed while the progress bar is watched: astronaut.png then takes about 2 s. */
const SLOW_UPLOAD_BYTES_PER_S = 200 * 1024;

/** Sets Chromium's upload speed (-1: unlimited). */
async function throttleUploads(cdp, bytesPerSecond) {
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: bytesPerSecond,
  });
}

/**
 * Hands a photo to the page the way a drop or a paste does: an event carrying a
 * DataTransfer with the file, sent to the document, where the page listens.
 */
async function dropOrPaste(page, how, file) {
  const base64 = (await readFile(file)).toString('base64');
  await page.evaluate(([kind, data]) => {
    const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([bytes], 'dropped.png', { type: 'image/png' }));
    const event = kind === 'drop'
      ? new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true })
      : new ClipboardEvent('paste', { clipboardData: transfer, bubbles: true, cancelable: true });
    document.body.dispatchEvent(event);
  }, [how, base64]);
}

describe('jobs that wait (a server without a worker)', () => {
  const s = suiteSetup({
    server: { args: ['--no-worker'] },
    // Every upload finds the backlog full.
    busy: { args: ['--no-worker', '--max-backlog', '0', '--backlog-retry-after', '30s'] },
  });

  test('upload progress, then the live status; a reload mid-job resumes the same job', () =>
    inPage(s.browser, async (page) => {
      await page.goto(s.server.base);
      await waitForScreen(page, 'intake');
      const cdp = await page.context().newCDPSession(page);
      await throttleUploads(cdp, SLOW_UPLOAD_BYTES_PER_S);
      await page.setInputFiles('#file-input', IMAGES.astronaut);
      await waitForScreen(page, 'status');
      await page.waitForFunction(() => {
        const bar = document.getElementById('upload-progress');
        return !bar.hidden && bar.value > 0 && bar.value < 100;
      });
      assert.equal(await page.textContent('#status-title'), 'Uploading your photo');
      assert.match(await page.textContent('#status-detail'), /^\d+% · \d+ KB of 415 KB$/);
      assert.equal(await page.getAttribute('.steps li[data-step="upload"]', 'aria-current'), 'step');
      await screenshot(page, 'upload');

      await page.waitForFunction(() => document.getElementById('status-title').textContent === 'Waiting in line');
      await throttleUploads(cdp, -1);
      const id = jobIdOf(page);
      assert.ok(id, 'the job id is in the URL');
      assert.equal(await page.isVisible('#upload-progress'), false);
      assert.notEqual(await page.textContent('#status-detail'), '');
      assert.equal(await page.getAttribute('.steps li[data-step="queued"]', 'aria-current'), 'step');
      assert.equal(await page.textContent('#status-mode'), 'Live');
      await page.waitForFunction(() => document.getElementById('status-elapsed').textContent >= '0:02');
      assert.match(await page.textContent('#announcer'), /Waiting in line/);
      await screenshot(page, 'status-queued');

      await page.reload();
      await waitForScreen(page, 'status');
      assert.equal(jobIdOf(page), id, 'the same job after the reload');
      assert.equal(await page.textContent('#status-title'), 'Waiting in line');
      // The clock counts from the upload, not from the reload.
      assert.ok((await page.textContent('#status-elapsed')) >= '0:02');

      await page.click('#status-cancel');
      await waitForScreen(page, 'intake', 10_000);
      assert.equal(await statusOf(s.server.base, id), 404, 'cancelling deletes the job');
    }));

  test('a photo can also be dropped or pasted', () =>
    inPage(s.browser, async (page) => {
      await page.goto(s.server.base);
      for (const how of ['drop', 'paste']) {
        await waitForScreen(page, 'intake');
        await dropOrPaste(page, how, IMAGES.astronaut);
        await page.waitForFunction(() =>
          document.body.dataset.screen === 'status'
          && document.getElementById('status-title').textContent === 'Waiting in line');
        const id = jobIdOf(page);
        assert.ok(id, `${how}: a job`);
        await page.click('#status-cancel');
        await waitForScreen(page, 'intake', 10_000);
        assert.equal(await statusOf(s.server.base, id), 404, `${how}: cancelled`);
      }
    }));

  test('when the event stream breaks, the page polls and still sees the job go', () =>
    inPage(s.browser, async (page) => {
      const job = await uploadByApi(s.server.base, IMAGES.astronaut);
      await page.route('**/v1/jobs/*/events', (route) => route.abort());
      await page.goto(`${s.server.base}/#job=${job.id}`);
      await waitForScreen(page, 'status');
      await page.waitForFunction(() => document.getElementById('status-mode').textContent === 'Checking every second');
      await fetch(`${s.server.base}/v1/jobs/${job.id}`, { method: 'DELETE' });
      await waitForScreen(page, 'message', 10_000);
      assert.equal(await page.textContent('#message-title'), 'This photo is no longer here');
      await screenshot(page, 'gone');
    }));

  test('an unknown job in the URL says the photo is gone', () =>
    inPage(s.browser, async (page) => {
      await page.goto(`${s.server.base}/#job=${randomUUID()}`);
      await waitForScreen(page, 'message');
      assert.match(await page.textContent('#message-text'), /no longer here/);
    }));

  test('a full backlog: the reason in plain words and a way to try again', () =>
    inPage(s.browser, async (page) => {
      await page.goto(s.busy.base);
      await waitForScreen(page, 'intake');
      await page.setInputFiles('#file-input', IMAGES.astronaut);
      await waitForScreen(page, 'message');
      assert.equal(await page.textContent('#message-title'), 'Your photo was not sent');
      assert.match(await page.textContent('#message-text'), /busy .* Wait about 30 seconds first\.$/);
      assert.equal(await page.textContent('#message-code'), 'backlog-full');
      assert.equal(await page.textContent('#message-primary'), 'Try again');
      await screenshot(page, 'failure-busy');
      // Trying again sends the same photo again (and meets the same full backlog).
      const [answer] = await Promise.all([
        page.waitForResponse((response) => response.request().method() === 'POST'),
        page.click('#message-primary'),
      ]);
      assert.equal(answer.status(), 429);
      await page.waitForFunction(() =>
        document.body.dataset.screen === 'message' && document.activeElement?.id === 'message-title');
      await page.click('#message-other');
      await waitForScreen(page, 'intake');
    }));
});
