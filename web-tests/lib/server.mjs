// Starts `facefix serve` on 127.0.0.1 with port 0 and a temporary data directory, and stops
// it. The address comes from the line the binary prints once the API listens.

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { REPO } from './paths.mjs';

const READY = /facefix is running at (http:\/\/\S+?)\/?$/m;
const START_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 20_000;

/** Service URLs the embedded servers must not inherit from the environment. */
const SERVICE_ENV = ['FACEFIX_QUEUE_URL', 'FACEFIX_STORE_URL', 'FACEFIX_BLOB_URL'];

function binary() {
  return process.env.FACEFIX_BIN ?? path.join(REPO, 'target', 'debug', 'facefix');
}

/**
 * Starts a server. `args`: extra flags (e.g. `--no-worker`); `env`: extra variables (real
 * service URLs). Resolves to { base, stop() }.
 */
export async function startServer({ args = [], env = {} } = {}) {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'facefix-web-'));
  const childEnv = { ...process.env, FACEFIX_LOG: process.env.FACEFIX_LOG ?? 'warn' };
  for (const name of SERVICE_ENV) delete childEnv[name];
  // The page's paths run on the fast built restorer: the learned default costs seconds per
  // face on CPU (minutes on the large photo). Its own test names it in `env`.
  childEnv.FACEFIX_RESTORER = 'facefix-usm-512';
  Object.assign(childEnv, env);
  const child = spawn(
    binary(),
    // Port 0 for the metrics listener too: servers run side by side, and the default 9464
    // is one port for all of them.
    ['serve', '--listen', '127.0.0.1:0', '--metrics-listen', '127.0.0.1:0', '--data-dir', dataDir, ...args],
    { cwd: REPO, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    // Kept short: only the tail is shown if the server fails to start.
    stderr = (stderr + chunk).slice(-4000);
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

  const base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`facefix did not start in ${START_TIMEOUT_MS} ms\n${stderr}`)), START_TIMEOUT_MS);
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      const match = READY.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`facefix exited (${code ?? signal}) before listening\n${stderr}`));
    });
  });

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    await rm(dataDir, { recursive: true, force: true });
  };
  return { base, stop };
}

/**
 * The real services' settings for `facefix serve`, from the variables scripts/test.sh
 * exports, with queue, key and object prefixes of their own; null when they are not running.
 */
export function realServicesEnv() {
  if (process.env.FACEFIX_TEST_SERVICES !== '1') return null;
  const unique = randomUUID().replaceAll('-', '').slice(0, 12);
  const bucket = process.env.FACEFIX_TEST_S3_BUCKET ?? 'facefix-test';
  return {
    FACEFIX_QUEUE_URL: process.env.FACEFIX_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672/%2f',
    FACEFIX_QUEUE_PREFIX: `facefix-web-${unique}`,
    FACEFIX_STORE_URL: process.env.FACEFIX_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0',
    FACEFIX_STORE_PREFIX: `facefix-web-${unique}:`,
    FACEFIX_BLOB_URL: `s3://${bucket}/web-${unique}`,
    FACEFIX_S3_ENDPOINT: process.env.FACEFIX_TEST_S3_ENDPOINT ?? 'http://127.0.0.1:9000',
    FACEFIX_S3_PATH_STYLE: 'true',
    FACEFIX_S3_ACCESS_KEY_ID: process.env.FACEFIX_TEST_S3_ACCESS_KEY ?? 'facefix',
    FACEFIX_S3_SECRET_ACCESS_KEY: process.env.FACEFIX_TEST_S3_SECRET_KEY ?? 'facefix-dev-secret',
    FACEFIX_S3_CREATE_BUCKET: 'true',
  };
}
