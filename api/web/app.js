// The page's flow: intake → upload → live status → result, or failure. The job id lives in
// the URL (#job=…), so a reload, a bookmark or a second tab resumes the same job. It sits in
// the fragment because browsers never send that part: the id, which is the key to the
// photo, stays out of server logs and referrers.

import { deleteJob, getBlob, getJob, inputUrl, resultUrl, serverNow, uploadPhoto } from './api.js';
import { storedKey } from './key.js';
import { createCompare } from './compare.js';
import { checkFile, setupIntake } from './intake.js';
import { OPTION_PROBLEMS, RETRYABLE, humanError } from './messages.js';
import { setupOptions } from './options.js';
import { $, announce, currentScreen, showScreen } from './screens.js';
import * as view from './views.js';
import { watchJob } from './watch.js';

/** Problems with the photo itself: said on the upload screen, where another is chosen. */
const PHOTO_PROBLEMS = new Set([
  'empty-upload', 'missing-image', 'too-large', 'unsupported-format', 'too-many-pixels', 'corrupt-image',
]);
const FINAL = new Set(['succeeded', 'failed', 'deleted', 'expired']);
/** How long before deletion the page warns (once) that time is nearly up. */
const LAST_MINUTE_MS = 60_000;

const page = {
  /** The photo chosen in this tab, kept in memory to send again; its name names the download. */
  file: null,
  previewUrl: null,
  /** The job uploaded from this tab (only its download is named after the person's file). */
  uploadedId: null,
  upload: null,
  /** The job on screen, and what follows it. */
  jobId: null,
  job: null,
  stage: null,
  stopWatch: null,
  stopClock: null,
  resultUrl: null,
  /** The input downloaded with the API key (an <img> cannot send one). */
  inputUrl: null,
  retry: null,
};

const options = setupOptions({
  form: $('options-form'),
  details: $('options'),
  summary: $('options-summary'),
  model: $('opt-model'),
  modelAbout: $('opt-model-about'),
  center: $('opt-center'),
  fidelity: $('opt-fidelity'),
  fidelityField: $('opt-fidelity-field'),
  fidelityValue: $('opt-fidelity-value'),
  format: $('opt-format'),
  bg: $('opt-bg'),
  bgField: $('opt-bg-field'),
  bgAbout: $('opt-bg-about'),
});

const compare = createCompare({
  root: $('compare'),
  divider: $('compare-divider'),
  before: $('compare-before'),
  after: $('compare-after'),
});

// --- where the page is --------------------------------------------------------------

function jobIdFromUrl() {
  const match = /^#job=([0-9a-f-]{36})$/i.exec(location.hash);
  return match ? match[1].toLowerCase() : null;
}

function setUrl(id, { replace = false } = {}) {
  const target = id ? `#job=${id}` : `${location.pathname}${location.search}`;
  if (id ? location.hash === target : location.hash === '') return;
  history[replace ? 'replaceState' : 'pushState'](null, '', target);
}

function stopClock() {
  page.stopClock?.();
  page.stopClock = null;
}

/** Every second, now included. */
function everySecond(tick) {
  stopClock();
  tick();
  const timer = setInterval(tick, 1000);
  page.stopClock = () => clearInterval(timer);
}

/** Stops following the job on screen and lets go of what was loaded for it. */
function leaveJob() {
  page.stopWatch?.();
  page.stopWatch = null;
  stopClock();
  compare.clear();
  if (page.resultUrl) URL.revokeObjectURL(page.resultUrl);
  page.resultUrl = null;
  if (page.inputUrl) URL.revokeObjectURL(page.inputUrl);
  page.inputUrl = null;
  page.jobId = null;
  page.job = null;
  page.stage = null;
}

function goToIntake({ push = true } = {}) {
  page.upload?.abort();
  leaveJob();
  if (push) setUrl(null);
  $('intake-error').hidden = true;
  showScreen('intake');
}

function showIntakeError(message) {
  leaveJob();
  setUrl(null, { replace: true });
  const box = $('intake-error');
  box.textContent = message;
  box.hidden = false;
  // From another screen focus moves to the heading; the alert is read out either way.
  showScreen('intake');
}

function showFailure({ title, code, detail, retryAfter = null, retry = null }) {
  stopClock();
  page.retry = retry;
  announce(view.renderFailure({ title, code, detail, retryAfter, resend: Boolean(retry) }));
  showScreen('message');
}

function showGone(reason) {
  const retention = page.job ? view.retentionWords(page.job) : null;
  leaveJob();
  setUrl(null, { replace: true });
  page.retry = null;
  announce(view.renderGone(reason, retention));
  showScreen('message');
}

// --- a photo goes in ----------------------------------------------------------------

async function onFile(file) {
  $('intake-error').hidden = true;
  const check = await checkFile(file);
  if (!check.ok) {
    showIntakeError(check.message);
    return;
  }
  if (page.previewUrl) URL.revokeObjectURL(page.previewUrl);
  page.file = file;
  page.previewUrl = check.previewUrl;
  send();
}

async function send() {
  leaveJob();
  $('status-preview').src = page.previewUrl;
  view.renderUploadProgress(0, page.file.size);
  showScreen('status');
  announce('Uploading your photo.');
  let said = 0;
  const upload = uploadPhoto(page.file, options.values(), (loaded, total) => {
    const percent = view.renderUploadProgress(loaded, total);
    // Every quarter, not every event: nobody can listen to a hundred numbers.
    if (percent < 100 && percent >= said + 25) {
      said = percent - (percent % 25);
      announce(`Uploaded ${said}%.`);
    }
  });
  page.upload = upload;
  try {
    const job = await upload.done;
    page.uploadedId = job.id;
    setUrl(job.id);
    follow(job);
  } catch (error) {
    uploadFailed(error);
  } finally {
    if (page.upload === upload) page.upload = null;
  }
}

function uploadFailed(error) {
  if (error.code === 'aborted') {
    if (currentScreen() === 'status' && !page.jobId) goToIntake({ push: false });
    return;
  }
  if (PHOTO_PROBLEMS.has(error.code)) return showIntakeError(humanError(error.code));
  if (OPTION_PROBLEMS.has(error.code)) {
    options.open();
    return showIntakeError(humanError(error.code));
  }
  showFailure({
    title: 'Your photo was not sent',
    code: error.code,
    detail: error.message,
    retryAfter: error.retryAfter,
    retry: send,
  });
}

// --- following a job ----------------------------------------------------------------

function follow(job) {
  leaveJob();
  page.jobId = job.id;
  view.renderRetention(job);
  showJob(job);
  if (FINAL.has(job.state)) return;
  page.stopWatch = watchJob(job.id, {
    onJob: (next) => {
      if (next.id === page.jobId) showJob(next);
    },
    onStage: (stage) => {
      page.stage = stage;
      if (page.job?.state === 'processing') view.renderStatus(page.job, stage);
    },
    onGone: (state) => showGone(state),
    onMode: (mode) => view.renderMode(mode),
  });
}

function showJob(job) {
  const previous = page.job?.state;
  page.job = job;
  switch (job.state) {
    case 'queued':
    case 'processing':
      return showStatus(job, previous);
    case 'succeeded':
      return showResult(job);
    case 'failed':
      return showJobFailure(job);
    default:
      return showGone(job.state);
  }
}

async function beforeUrl(job) {
  if (job.id === page.uploadedId && page.previewUrl) return page.previewUrl;
  // A server with API keys answers an <img> (no Authorization header) with 401: fetch the
  // input with the key instead, once per job on screen.
  if (!storedKey()) return inputUrl(job.id);
  if (!page.inputUrl) {
    try {
      page.inputUrl = URL.createObjectURL(await getBlob(inputUrl(job.id)));
    } catch {
      return inputUrl(job.id);
    }
  }
  return page.inputUrl;
}

function showStatus(job, previous) {
  if (job.state !== 'processing') page.stage = null;
  const said = view.renderStatus(job, page.stage);
  if (!page.stopClock) {
    // The card may already show (after the upload) with this photo's preview.
    if (currentScreen() !== 'status') {
      beforeUrl(job).then((url) => {
        if (page.jobId === job.id) $('status-preview').src = url;
      });
    }
    showScreen('status');
    const created = Date.parse(job.created_at);
    everySecond(() => view.renderElapsed(serverNow() - created));
  }
  if (previous !== job.state) announce(said);
}

function downloadName(job) {
  const extension = { png: 'png', jpeg: 'jpg', webp: 'webp' }[job.output?.format] ?? 'png';
  const own = job.id === page.uploadedId && page.file ? fileStem(page.file.name) : '';
  return `${own || `facefix-${job.id.slice(0, 8)}`}-restored.${extension}`;
}

/** The person's file name without its extension, safe on every file system. */
function fileStem(name) {
  return name
    .replace(/\.[^.]*$/, '')
    .replace(/[\\/:*?"<>|\u0000-\u001f]+/g, '_')
    .trim()
    .slice(0, 80);
}

async function showResult(job) {
  // The status screen says "loading the result" while the image downloads.
  showStatus(job, job.state);
  let blob;
  try {
    blob = await getBlob(resultUrl(job.id));
  } catch (error) {
    if (page.jobId !== job.id) return;
    if (error.code === 'not-found') return showGone('gone');
    return showFailure({
      title: 'The result could not be loaded',
      code: error.code,
      detail: error.message,
      retry: () => showResult(job),
    });
  }
  if (page.jobId !== job.id) return;
  page.resultUrl = URL.createObjectURL(blob);
  const said = view.renderResult(job);
  const download = $('result-download');
  download.href = page.resultUrl;
  download.download = downloadName(job);
  const before = await beforeUrl(job);
  if (page.jobId !== job.id) return;
  compare.show({
    beforeUrl: before,
    afterUrl: page.resultUrl,
    width: job.output.width,
    height: job.output.height,
  });
  showScreen('result');
  announce(said);
  startCountdown(job);
}

function startCountdown(job) {
  const expires = Date.parse(job.expires_at);
  let warned = expires - serverNow() <= LAST_MINUTE_MS;
  everySecond(() => {
    const left = expires - serverNow();
    if (left <= 0) return showGone('expired');
    view.renderCountdown(left);
    if (!warned && left <= LAST_MINUTE_MS) {
      warned = true;
      announce('Your photo will be deleted in one minute. Download it now to keep it.');
    }
  });
}

function showJobFailure(job) {
  const code = job.error?.code ?? 'internal';
  const canResend = job.id === page.uploadedId && page.file && RETRYABLE.has(code);
  showFailure({
    title: 'This photo could not be restored',
    code,
    detail: job.error?.message,
    retry: canResend ? send : null,
  });
}

/** Shows what the URL names: a job (resumed where it is) or the upload screen. */
async function route() {
  const id = jobIdFromUrl();
  if (!id) {
    if (currentScreen() === null) showScreen('intake', { focus: false });
    else if (page.jobId) goToIntake({ push: false });
    return;
  }
  if (id === page.jobId) return;
  leaveJob();
  page.jobId = id;
  try {
    const job = await getJob(id);
    if (page.jobId === id) follow(job);
  } catch (error) {
    if (page.jobId !== id) return;
    if (error.code === 'not-found') return showGone('gone');
    showFailure({
      title: 'This photo’s status could not be loaded',
      code: error.code,
      detail: error.message,
      retry: () => {
        page.jobId = null;
        route();
      },
    });
  }
}

// --- buttons ------------------------------------------------------------------------

/** Deletes the job on screen; `done` runs after, a failure is said where `onError` says. */
async function deleteShown(button, done, onError) {
  const id = page.jobId;
  if (!id) return;
  button.disabled = true;
  try {
    await deleteJob(id);
    done();
  } catch (error) {
    onError(error.code);
  } finally {
    button.disabled = false;
  }
}

$('status-cancel').addEventListener('click', (event) => {
  if (page.upload) return page.upload.abort();
  return deleteShown(
    event.currentTarget,
    () => {
      goToIntake();
      announce('Cancelled. Your photo was deleted from the server.');
    },
    (code) => announce(humanError(code)),
  );
});

$('result-delete').addEventListener('click', (event) =>
  deleteShown(event.currentTarget, () => showGone('deleted'), view.renderResultError));

$('result-again').addEventListener('click', () => goToIntake());
$('message-other').addEventListener('click', () => goToIntake());
$('message-primary').addEventListener('click', () => (page.retry ? page.retry() : goToIntake()));

setupIntake({
  input: $('file-input'),
  dropzone: $('dropzone'),
  accepting: () => ['intake', 'message'].includes(currentScreen()),
  onFile,
});

window.addEventListener('popstate', route);
options.load();
route();
