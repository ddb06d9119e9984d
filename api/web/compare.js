// The before/after slider. Both images fill the same box, so the upload is shown at the
// result's size and every face lines up; the "before" layer is clipped at the divider.
// The divider is an ARIA slider: arrows move it, Shift or Page keys move it faster,
// Home/End go to the ends. A drag or a click anywhere on the picture moves it too.

const STEP = 2;
const BIG_STEP = 10;

export function createCompare({ root, divider, before, after }) {
  let position = 50;

  const render = () => {
    // CSSOM, not a style attribute: the page's CSP forbids inline styles, not this.
    root.style.setProperty('--position', `${position}%`);
    divider.setAttribute('aria-valuenow', String(Math.round(position)));
    divider.setAttribute('aria-valuetext', `${Math.round(position)}% before, ${Math.round(100 - position)}% after`);
  };

  const moveTo = (value) => {
    position = Math.min(100, Math.max(0, value));
    render();
  };

  const fromPointer = (event) => {
    const box = root.getBoundingClientRect();
    moveTo(((event.clientX - box.left) / box.width) * 100);
  };

  root.addEventListener('pointerdown', (event) => {
    if (event.button !== 0) return;
    root.setPointerCapture(event.pointerId);
    root.classList.add('is-dragging');
    fromPointer(event);
    divider.focus({ preventScroll: true });
    event.preventDefault();
  });
  root.addEventListener('pointermove', (event) => {
    if (root.hasPointerCapture(event.pointerId)) fromPointer(event);
  });
  const release = (event) => {
    if (root.hasPointerCapture(event.pointerId)) root.releasePointerCapture(event.pointerId);
    root.classList.remove('is-dragging');
  };
  root.addEventListener('pointerup', release);
  root.addEventListener('pointercancel', release);

  divider.addEventListener('keydown', (event) => {
    const step = event.shiftKey ? BIG_STEP : STEP;
    const moves = {
      ArrowLeft: -step,
      ArrowDown: -step,
      ArrowRight: step,
      ArrowUp: step,
      PageDown: -BIG_STEP,
      PageUp: BIG_STEP,
    };
    if (event.key in moves) moveTo(position + moves[event.key]);
    else if (event.key === 'Home') moveTo(0);
    else if (event.key === 'End') moveTo(100);
    else return;
    event.preventDefault();
  });

  return {
    /** Shows a pair of images in a box with the result's proportions. */
    show({ beforeUrl, afterUrl, width, height }) {
      root.style.setProperty('--ratio', `${width} / ${height}`);
      root.style.setProperty('--ratio-number', String(width / height));
      after.src = afterUrl;
      before.src = beforeUrl;
      moveTo(50);
    },
    clear() {
      after.removeAttribute('src');
      before.removeAttribute('src');
    },
    get position() {
      return position;
    },
  };
}
