// Live job status: Server-Sent Events first, polling when SSE breaks (a proxy that buffers
// or cuts streams, a network change). The caller sees the same callbacks either way.

import { eventsUrl, getJob } from './api.js';

const JOB_EVENTS = ['queued', 'processing', 'succeeded', 'failed'];
const GONE_EVENTS = ['deleted', 'expired'];
const FINAL = new Set(['succeeded', 'failed', 'deleted', 'expired']);
const POLL_MS = 1000;
const POLL_MAX_MS = 5000;

/**
 * Follows a job until it reaches a final state.
 * handlers: onJob(job), onStage(stage), onGone(state), onMode('live' | 'polling').
 * Returns a function that stops following.
 */
export function watchJob(id, handlers, { sse = typeof EventSource === 'function' } = {}) {
  let stopped = false;
  let source = null;
  let timer = null;

  const stop = () => {
    stopped = true;
    source?.close();
    clearTimeout(timer);
  };

  const deliver = (job) => {
    if (stopped) return;
    if (FINAL.has(job.state)) stop();
    handlers.onJob(job);
  };

  const gone = (state) => {
    if (stopped) return;
    stop();
    handlers.onGone(state);
  };

  const poll = async (delay) => {
    if (stopped) return;
    try {
      deliver(await getJob(id));
      delay = POLL_MS;
    } catch (error) {
      if (error.code === 'not-found') return gone('gone');
      // Keep trying, more slowly: the page should outlive a short outage.
      delay = Math.min(delay * 2, POLL_MAX_MS);
    }
    if (!stopped) timer = setTimeout(() => poll(delay), delay);
  };

  const startPolling = () => {
    if (stopped) return;
    source?.close();
    source = null;
    handlers.onMode?.('polling');
    poll(POLL_MS);
  };

  if (!sse) {
    startPolling();
    return stop;
  }

  source = new EventSource(eventsUrl(id));
  handlers.onMode?.('live');
  for (const name of JOB_EVENTS) {
    source.addEventListener(name, (event) => deliver(JSON.parse(event.data)));
  }
  for (const name of GONE_EVENTS) {
    source.addEventListener(name, () => gone(name));
  }
  source.addEventListener('stage', (event) => {
    if (!stopped) handlers.onStage(JSON.parse(event.data).stage);
  });
  // The stream closes by itself only after a final state, which stop() has already
  // handled; any other error means SSE does not work here, so poll instead of letting
  // EventSource retry a path that may never work.
  source.addEventListener('error', startPolling);
  return stop;
}
