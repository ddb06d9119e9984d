// What every browser test suite needs: servers, one browser, and fresh pages whose errors
// fail the test.

import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { launchBrowser, openPage } from './browser.mjs';
import { startServer } from './server.mjs';

/**
 * Starts the named servers (options as for startServer) and a browser before the suite's
 * tests and stops them after. Returns an object that holds them once started:
 * `{ browser, [name]: { base } }`.
 */
export function suiteSetup(servers) {
  const held = {};
  before(async () => {
    const names = Object.keys(servers);
    const started = await Promise.all([launchBrowser(), ...names.map((name) => startServer(servers[name]))]);
    held.browser = started[0];
    names.forEach((name, i) => {
      held[name] = started[i + 1];
    });
  });
  after(async () => {
    await held.browser?.close();
    await Promise.all(Object.keys(servers).map((name) => held[name]?.stop()));
  });
  return held;
}

/** Runs `body(page)` in a fresh page, fails on errors raised inside the page, closes it. */
export async function inPage(browser, body, contextOptions = {}) {
  const { page, problems, close } = await openPage(browser, contextOptions);
  try {
    await body(page);
    assert.deepEqual(problems, [], 'errors inside the page');
  } finally {
    await close();
  }
}
