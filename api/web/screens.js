// Which screen shows, where keyboard focus goes, and what screen readers hear.

/**
 * The status screen covers the upload too: one card from the first byte to the result.
 * The message screen says why there is no result: a failure, or the photo is gone.
 */
const SCREENS = ['intake', 'status', 'result', 'message'];

let current = null;
let announceTimer = null;

export const $ = (id) => document.getElementById(id);

export function currentScreen() {
  return current;
}

/**
 * Shows one screen and hides the others. Focus moves to the new screen's heading, so a
 * keyboard or screen-reader user lands where the page changed (not on the first load).
 */
export function showScreen(name, { focus = true } = {}) {
  if (name === current) return;
  for (const screen of SCREENS) $(`screen-${screen}`).hidden = screen !== name;
  current = name;
  // For styles and tests: the screen showing, readable from outside.
  document.body.dataset.screen = name;
  if (focus) {
    window.scrollTo(0, 0);
    $(`screen-${name}`).querySelector('h1')?.focus();
  }
}

/** Says something through the polite live region. */
export function announce(text) {
  const region = $('announcer');
  region.textContent = '';
  clearTimeout(announceTimer);
  // Emptied first and filled a moment later, so a repeated message is read again.
  announceTimer = setTimeout(() => {
    region.textContent = text;
  }, 60);
}
