// Getting a photo into the page (drop, picker, paste) and checking it before it is sent.
// The checks save a pointless upload and say what is wrong in words; the server checks
// everything again and its answer decides.

import { formatBytes, megapixels } from './format.js';

/** The server's default limits (api/src/upload/limits.rs). */
export const LIMITS = { bytes: 20 * 1024 * 1024, pixels: 40_000_000, side: 12_000 };

/** What the first bytes say the file is: 'jpeg', 'png', 'webp', a known other kind, or null. */
export function sniff(bytes) {
  const ascii = (from, to) => String.fromCharCode(...bytes.slice(from, to));
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (ascii(1, 4) === 'PNG' && bytes[0] === 0x89) return 'png';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  if (ascii(0, 3) === 'GIF') return 'gif';
  if (ascii(4, 8) === 'ftyp') return /avif|avis/.test(ascii(8, 12)) ? 'avif' : 'heic';
  if (ascii(0, 2) === 'II' || ascii(0, 2) === 'MM') return 'tiff';
  return null;
}

const OTHER_KINDS = {
  gif: 'GIF images are not supported.',
  heic: 'HEIC photos (the iPhone default) are not supported yet.',
  avif: 'AVIF images are not supported yet.',
  tiff: 'TIFF images are not supported.',
};

/** Loads the image to learn its size; null when this browser cannot show it (the server may). */
function dimensions(url) {
  return new Promise((resolve) => {
    const img = new Image();
    img.addEventListener('load', () => resolve({ width: img.naturalWidth, height: img.naturalHeight }));
    img.addEventListener('error', () => resolve(null));
    img.src = url;
  });
}

/**
 * Checks a file. Resolves to { ok: true, previewUrl, width, height } or
 * { ok: false, message } with the problem in plain words.
 */
export async function checkFile(file) {
  if (file.size === 0) return { ok: false, message: 'This file is empty. Choose another photo.' };
  if (file.size > LIMITS.bytes) {
    return {
      ok: false,
      message: `This file is ${formatBytes(file.size)}; photos up to ${formatBytes(LIMITS.bytes)} are accepted. Choose a smaller photo.`,
    };
  }
  const kind = sniff(new Uint8Array(await file.slice(0, 16).arrayBuffer()));
  if (!['jpeg', 'png', 'webp'].includes(kind)) {
    const why = OTHER_KINDS[kind] ?? 'This file is not an image facefix can read.';
    return { ok: false, message: `${why} Choose a JPEG, PNG or WebP photo, or save yours in one of these formats.` };
  }
  const previewUrl = URL.createObjectURL(file);
  const size = await dimensions(previewUrl);
  if (size) {
    const mp = megapixels(size.width, size.height);
    const tooBig = size.width > LIMITS.side || size.height > LIMITS.side || mp > LIMITS.pixels / 1e6;
    if (tooBig) {
      URL.revokeObjectURL(previewUrl);
      return {
        ok: false,
        message: `This photo is ${size.width} × ${size.height} pixels (${mp.toFixed(0)} megapixels); the limit is ${LIMITS.pixels / 1e6} megapixels and ${LIMITS.side.toLocaleString('en')} pixels a side. Make it smaller and try again.`,
      };
    }
  }
  return { ok: true, previewUrl, ...size };
}

/** The first image in a paste or drop, or null. */
function imageFrom(dataTransfer) {
  const files = [...(dataTransfer?.files ?? [])];
  return files.find((f) => f.type.startsWith('image/')) ?? files[0] ?? null;
}

/**
 * Wires the three ways in. `accepting()` says whether the upload screen is showing (a drop
 * or paste elsewhere is ignored); `onFile(file)` takes the photo.
 */
export function setupIntake({ input, dropzone, accepting, onFile }) {
  input.addEventListener('change', () => {
    const file = input.files?.[0];
    // Cleared so that choosing the same file again still fires `change`.
    input.value = '';
    if (file) onFile(file);
  });

  // Drops anywhere on the page count, so a near miss does not open the image in the tab.
  let depth = 0;
  const setActive = (on) => dropzone.classList.toggle('is-dragging', on);
  document.addEventListener('dragenter', (event) => {
    if (!accepting()) return;
    event.preventDefault();
    depth += 1;
    setActive(true);
  });
  document.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) setActive(false);
  });
  document.addEventListener('dragover', (event) => {
    event.preventDefault();
    if (event.dataTransfer) event.dataTransfer.dropEffect = accepting() ? 'copy' : 'none';
  });
  document.addEventListener('drop', (event) => {
    event.preventDefault();
    depth = 0;
    setActive(false);
    const file = imageFrom(event.dataTransfer);
    if (file && accepting()) onFile(file);
  });

  document.addEventListener('paste', (event) => {
    const file = imageFrom(event.clipboardData);
    if (!file || !accepting()) return;
    event.preventDefault();
    onFile(file);
  });
}
