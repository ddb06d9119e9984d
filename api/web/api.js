// The REST API as the page uses it. Every failure becomes an ApiError with a code from
// the API's list (or 'network' / 'unexpected'), so the screens switch on codes only.
// A 401 (a server with API keys) asks for the key once and tries again.

import { askForKey, authHeaders, storedKey, withKeyParam } from './key.js';

export class ApiError extends Error {
  constructor(code, message, { status = 0, retryAfter = null } = {}) {
    super(message);
    this.code = code;
    this.status = status;
    /** Seconds, from Retry-After (429, 503). */
    this.retryAfter = retryAfter;
  }
}

// The server's clock decides when a job expires; the visitor's may be minutes off. The
// offset comes from the Date header of each answer (1 s resolution, good enough for a
// countdown in seconds).
let clockOffset = 0;

function noteServerDate(dateHeader) {
  const server = Date.parse(dateHeader ?? '');
  // +500 ms: the header is truncated to the second, so on average it is half a second behind.
  if (!Number.isNaN(server)) clockOffset = server + 500 - Date.now();
}

/** Now, by the server's clock. */
export function serverNow() {
  return Date.now() + clockOffset;
}

function errorFrom(status, text, retryAfterHeader) {
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    // A proxy's HTML error page, for example: no code to show.
  }
  const retryAfter = Number.parseInt(retryAfterHeader ?? '', 10);
  const options = { status, retryAfter: Number.isNaN(retryAfter) ? null : retryAfter };
  if (body?.error?.code) return new ApiError(body.error.code, body.error.message ?? '', options);
  if (status === 413) return new ApiError('too-large', `HTTP ${status}`, options);
  return new ApiError('unexpected', `HTTP ${status}`, options);
}

/** A fetch whose failures are ApiErrors: no answer is 'network', a non-2xx its code. */
async function call(method, url, accept) {
  let response;
  for (;;) {
    const hadKey = storedKey() !== null;
    try {
      const headers = { Accept: accept, ...authHeaders() };
      response = await fetch(url, { method, cache: 'no-store', headers });
    } catch (error) {
      throw new ApiError('network', error.message);
    }
    if (response.status !== 401 || !(await askForKey(hadKey))) break;
  }
  noteServerDate(response.headers.get('Date'));
  if (!response.ok) {
    throw errorFrom(response.status, await response.text(), response.headers.get('Retry-After'));
  }
  return response;
}

async function request(method, url) {
  const response = await call(method, url, 'application/json');
  return response.status === 204 ? null : response.json();
}

/** An image (the result) as a Blob, for showing and saving without a second download. */
export async function getBlob(url) {
  const response = await call('GET', url, 'image/*');
  return response.blob();
}

export function getJob(id) {
  return request('GET', `/v1/jobs/${encodeURIComponent(id)}`);
}

/** Purges the job now. Already gone counts as done: the result the person wanted is the same. */
export async function deleteJob(id) {
  try {
    await request('DELETE', `/v1/jobs/${encodeURIComponent(id)}`);
  } catch (error) {
    if (error.code !== 'not-found') throw error;
  }
}

/** The restorers and background upsamplers the server offers. */
export async function listOffer() {
  const body = await request('GET', '/v1/models');
  return { models: body.models ?? [], upsamplers: body.bg_upsamplers ?? [] };
}

export function inputUrl(id) {
  return `/v1/jobs/${encodeURIComponent(id)}/input`;
}

export function resultUrl(id) {
  return `/v1/jobs/${encodeURIComponent(id)}/result`;
}

export function eventsUrl(id) {
  return withKeyParam(`/v1/jobs/${encodeURIComponent(id)}/events`);
}

/**
 * Uploads a photo with its options. XMLHttpRequest rather than fetch: only it reports
 * upload progress. Returns { done: Promise<job>, abort() }.
 */
export function uploadPhoto(file, options, onProgress) {
  let current = sendPhoto(file, options, onProgress);
  const done = (async () => {
    for (;;) {
      const hadKey = storedKey() !== null;
      try {
        return await current.done;
      } catch (error) {
        if (error.code !== 'unauthorized' || !(await askForKey(hadKey))) throw error;
        current = sendPhoto(file, options, onProgress);
      }
    }
  })();
  return { done, abort: () => current.abort() };
}

function sendPhoto(file, options, onProgress) {
  const form = new FormData();
  // Options first: the server reads the fields in order and the image is the big one.
  for (const [name, value] of Object.entries(options)) form.append(name, String(value));
  // A neutral name: the person's file name never leaves the browser.
  form.append('image', file, 'upload');
  const xhr = new XMLHttpRequest();
  const done = new Promise((resolve, reject) => {
    xhr.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable) onProgress(event.loaded, event.total);
    });
    xhr.addEventListener('load', () => {
      noteServerDate(xhr.getResponseHeader('Date'));
      if (xhr.status === 202 || xhr.status === 200) {
        try {
          resolve(JSON.parse(xhr.responseText));
        } catch {
          reject(new ApiError('unexpected', 'the answer was not JSON', { status: xhr.status }));
        }
      } else {
        reject(errorFrom(xhr.status, xhr.responseText, xhr.getResponseHeader('Retry-After')));
      }
    });
    xhr.addEventListener('error', () => reject(new ApiError('network', 'upload failed')));
    xhr.addEventListener('abort', () => reject(new ApiError('aborted', 'upload cancelled')));
  });
  xhr.open('POST', '/v1/jobs');
  xhr.setRequestHeader('Accept', 'application/json');
  for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value);
  xhr.send(form);
  return { done, abort: () => xhr.abort() };
}
