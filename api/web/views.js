// What each screen says about a job. DOM writing only: no requests and no timers (app.js
// owns those). Each render returns the sentence worth announcing, if any.

import { formatBytes, formatClock, formatDuration, plural } from './format.js';
import { humanError, stageLabel } from './messages.js';
import { $ } from './screens.js';

/** The retention as words ("15 minutes"), from a job's own dates. */
export function retentionWords(job) {
  const ms = Date.parse(job.expires_at) - Date.parse(job.created_at);
  if (!(ms > 0)) return null;
  const minutes = Math.round(ms / 60_000);
  if (minutes >= 120 && minutes % 60 === 0) return plural(minutes / 60, 'hour');
  return minutes >= 1 ? plural(minutes, 'minute') : plural(Math.round(ms / 1000), 'second');
}

/** The page says "15 minutes" until a job tells the server's real retention. */
export function renderRetention(job) {
  const words = retentionWords(job);
  if (!words) return;
  for (const element of document.querySelectorAll('.retention')) element.textContent = words;
}

/** Switches the status card between the upload (a progress bar) and the job (clocks). */
function showUploadPart(uploading) {
  $('upload-progress').hidden = !uploading;
  $('status-facts').hidden = uploading;
  $('status-cancel').textContent = uploading ? 'Cancel' : 'Cancel and delete';
}

export function renderUploadProgress(loaded, total) {
  const percent = total > 0 ? Math.min(100, Math.floor((loaded / total) * 100)) : 0;
  showUploadPart(true);
  markSteps('upload');
  $('status-title').textContent = 'Uploading your photo';
  $('upload-progress').value = percent;
  $('status-detail').textContent =
    loaded >= total && total > 0
      ? 'Sent. The server is checking the photo…'
      : `${percent}% · ${formatBytes(loaded)} of ${formatBytes(total)}`;
  return percent;
}

function queuedDetail(job) {
  if (job.backlog > 1) return `${plural(job.backlog, 'photo')} waiting, yours included.`;
  if (job.backlog === 1) return 'Yours is next.';
  return 'Waiting for a free restorer.';
}

function describeStatus(job, stage) {
  switch (job.state) {
    case 'queued':
      return { title: 'Waiting in line', detail: queuedDetail(job), step: 'queued' };
    case 'processing': {
      const again = job.attempts > 1 ? ' (trying again after an interruption)' : '';
      return { title: 'Restoring your photo', detail: `${stageLabel(stage)}…${again}`, step: 'processing' };
    }
    default:
      return { title: 'Done', detail: 'Loading the result…', step: 'done' };
  }
}

const STEPS = ['upload', 'queued', 'processing', 'done'];

function markSteps(current) {
  const at = STEPS.indexOf(current);
  for (const item of document.querySelectorAll('.steps li')) {
    const index = STEPS.indexOf(item.dataset.step);
    item.classList.toggle('is-done', index < at);
    item.classList.toggle('is-current', index === at);
    if (index === at) item.setAttribute('aria-current', 'step');
    else item.removeAttribute('aria-current');
  }
}

/** Queued, processing (with the stage), or done while the result loads. */
export function renderStatus(job, stage) {
  const { title, detail, step } = describeStatus(job, stage);
  showUploadPart(false);
  $('status-title').textContent = title;
  $('status-detail').textContent = detail;
  markSteps(step);
  return `${title}. ${detail}`;
}

export function renderElapsed(ms) {
  $('status-elapsed').textContent = formatClock(ms);
}

export function renderMode(mode) {
  $('status-mode').textContent = mode === 'live' ? 'Live' : 'Checking every second';
}

function facesText(job) {
  const found = job.faces_found ?? 0;
  const restored = job.faces_restored ?? 0;
  if (found === 0) return 'None (no face found)';
  return restored === found ? String(restored) : `${restored} of ${found} found`;
}

function timeText(job) {
  const total = Date.parse(job.finished_at) - Date.parse(job.created_at);
  const working = job.timings_ms?.total;
  if (!(total >= 0)) return working ? formatDuration(working) : '—';
  // Waiting in line is part of the time a person waited; say so when it was a real share.
  if (working && total - working > 1000) {
    return `${formatDuration(total)} (${formatDuration(working)} restoring)`;
  }
  return formatDuration(total);
}

function sizeText(job) {
  const { input, output } = job;
  const size = `${output.width} × ${output.height}, ${formatBytes(output.bytes)}`;
  return output.width === input.width ? size : `${size} (from ${input.width} × ${input.height})`;
}

/** The facts beside the comparison. */
export function renderResult(job) {
  const noFace = (job.faces_found ?? 0) === 0;
  $('result-title').textContent = noFace ? 'No face found' : 'Your photo is ready';
  const notice = $('result-noface');
  notice.hidden = !noFace;
  notice.textContent = noFace
    ? `No face was found in this photo, so nothing was restored. It was still enlarged ${job.params.upscale}×: you can compare and download it below.`
    : '';
  $('result-faces').textContent = facesText(job);
  $('result-time').textContent = timeText(job);
  $('result-size').textContent = sizeText(job);
  const notes = $('result-notes');
  notes.replaceChildren(
    ...(job.notes ?? []).map((note) => {
      const item = document.createElement('li');
      item.textContent = note;
      return item;
    }),
  );
  notes.hidden = notes.childElementCount === 0;
  $('result-countdown').dateTime = job.expires_at;
  $('result-error').hidden = true;
  return noFace
    ? 'No face was found. The enlarged photo is ready to download.'
    : `Your photo is ready. ${plural(job.faces_restored ?? 0, 'face')} restored.`;
}

export function renderCountdown(ms) {
  $('result-countdown').textContent = formatClock(ms);
}

export function renderResultError(code) {
  const box = $('result-error');
  box.textContent = humanError(code);
  box.hidden = false;
}

/** The message screen: a title, a sentence, the details for support if any, the buttons. */
function renderMessage({ title, message, code = null, detail = '', primary, other }) {
  $('message-title').textContent = title;
  $('message-text').textContent = message;
  $('message-details').hidden = !code;
  $('message-code').textContent = code ?? '';
  $('message-server').textContent = detail ?? '';
  $('message-primary').textContent = primary;
  $('message-other').hidden = !other;
  return `${title}. ${message}`;
}

/**
 * A failure: the code's human message, the server's own words under "details", and a
 * button that sends the same photo again (`resend`) or goes back to choose another.
 */
export function renderFailure({ title, code, detail, retryAfter, resend }) {
  const wait = retryAfter > 0 ? ` Wait about ${plural(retryAfter, 'second')} first.` : '';
  return renderMessage({
    title,
    message: `${humanError(code)}${wait}`,
    code,
    detail,
    primary: resend ? 'Try again' : 'Try another photo',
    other: resend,
  });
}

const GONE = {
  deleted: ['Deleted', () => 'Your photo and its restored copy have been deleted from the server.'],
  expired: [
    'Deleted automatically',
    (words) => `Your photo and its restored copy were deleted ${words ?? '15 minutes'} after the upload, as promised.`,
  ],
  gone: ['This photo is no longer here', () => humanError('not-found')],
};

export function renderGone(reason, retention) {
  const [title, message] = GONE[reason] ?? GONE.gone;
  return renderMessage({ title, message: message(retention), primary: 'Restore a photo', other: false });
}
