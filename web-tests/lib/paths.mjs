// Where things are: the repository, its test pictures, the screenshots.

import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The repository's test data (`testdata/`, unless FACEFIX_TESTDATA says otherwise). */
const TESTDATA = process.env.FACEFIX_TESTDATA ?? path.join(REPO, 'testdata');

export const IMAGES = {
  /** 512 × 512, one face. */
  astronaut: path.join(TESTDATA, 'images', 'astronaut.png'),
  /** 7680 × 4320, one face: seconds of work even at 1×, so the stages can be watched. */
  large: path.join(TESTDATA, 'images', 'large_7680x4320.jpg'),
  /** 128 × 150, one small face: a portrait blurred, shrunk, noisy and JPEG-damaged. */
  degradedPortrait: path.join(TESTDATA, 'images', 'grace_hopper_degraded_x4.png'),
  /** A cup of coffee: no face. */
  coffee: path.join(TESTDATA, 'images', 'coffee.png'),
  /** A JPEG cut short: the browser shows part of it, the server refuses it. */
  truncated: path.join(TESTDATA, 'bad', 'truncated.jpg'),
  /** Text with a .jpg name. */
  notAnImage: path.join(TESTDATA, 'bad', 'not_an_image.jpg'),
};

/** Test artifacts: one picture per screen, to look at. */
export const SCREENSHOTS = path.join(REPO, 'target', 'web-screenshots');
