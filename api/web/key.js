// The API key, for a server started with --api-keys-file. The page asks for it only when
// the server answers 401, and keeps it in session storage: gone when the tab closes, never
// in local storage or a cookie.

const STORAGE = 'facefix-api-key';

export function storedKey() {
  try {
    return sessionStorage.getItem(STORAGE);
  } catch {
    return null;
  }
}

/** Headers that carry the key, when there is one. */
export function authHeaders() {
  const key = storedKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

/**
 * The events stream's URL with the key as `?key=`: EventSource cannot send headers, and
 * the server takes a key in the URL on that route only.
 */
export function withKeyParam(url) {
  const key = storedKey();
  return key ? `${url}?key=${encodeURIComponent(key)}` : url;
}

/**
 * Shows the key dialog. Resolves true once a key is entered (and stored), false when the
 * person cancels. `rejected`: the stored key was refused, so say so.
 */
export function askForKey(rejected) {
  const dialog = document.getElementById('key-dialog');
  const form = document.getElementById('key-form');
  const input = document.getElementById('key-input');
  if (!dialog || !form || !input || typeof dialog.showModal !== 'function') {
    return Promise.resolve(false);
  }
  document.getElementById('key-rejected').hidden = !rejected;
  input.value = '';
  return new Promise((resolve) => {
    dialog.addEventListener(
      'close',
      () => {
        const key = input.value.trim();
        if (dialog.returnValue !== 'use' || !key) {
          resolve(false);
          return;
        }
        try {
          sessionStorage.setItem(STORAGE, key);
        } catch {
          resolve(false);
          return;
        }
        resolve(true);
      },
      { once: true },
    );
    dialog.showModal();
    input.focus();
  });
}
