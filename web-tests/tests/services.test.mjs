// The main path again, on real services (RabbitMQ, Redis, S3) when scripts/test.sh has
// started them (FACEFIX_TEST_SERVICES=1); skipped otherwise.

import { describe, test } from 'node:test';
import { deleteFromResult, restoreAstronaut } from '../lib/flows.mjs';
import { realServicesEnv } from '../lib/server.mjs';
import { inPage, suiteSetup } from '../lib/suite.mjs';

const env = realServicesEnv();

describe('the web page on real services', { skip: env ? false : 'FACEFIX_TEST_SERVICES is not 1' }, () => {
  const s = suiteSetup({ server: { env } });

  test('upload, compare, download and delete through facefix serve on the services', () =>
    inPage(s.browser, async (page) => {
      const id = await restoreAstronaut(page, s.server.base);
      await deleteFromResult(page, s.server.base, id);
    }));
});
