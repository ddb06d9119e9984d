// Words shown to people. Every error code of the API (shared/src/error_code.rs) has a
// message here; a Rust test in api/src/routes/web.rs fails when a code is missing, so a
// new code cannot reach the page as raw kebab-case.

/** What each API error code means to someone who just wants their photo back. */
export const ERROR_MESSAGES = {
  'bad-request': 'The request was not understood. Reload the page and try again.',
  'missing-image': 'No photo arrived with the request. Choose a photo and try again.',
  'empty-upload': 'This file is empty. Choose another photo.',
  'invalid-option': 'One of the options is not valid. Check the options and try again.',
  'too-large': 'This file is too large. Choose a smaller photo.',
  'upload-timeout': 'The photo took too long to arrive. Check your connection and try again.',
  'unsupported-format': 'This file is not a JPEG, PNG or WebP image. Save it in one of these formats and try again.',
  'too-many-pixels': 'This photo has too many pixels. Make it smaller and try again.',
  'corrupt-image': 'This image is damaged or incomplete and cannot be read. Try the original file, or save it again from a photo app.',
  'output-too-large': 'The enlarged photo would be too big. Choose a smaller enlargement in the options and try again.',
  'upsampler-too-large': 'This photo is too large for the chosen background enlargement on this server. Choose "Standard" for the background in the options, or send a smaller photo.',
  'unknown-model': 'The chosen model is not available on this server. Reload the page to see the models it offers.',
  'not-found': 'This photo is no longer here: it was deleted, or its time on the server is up.',
  'not-ready': 'The result is not ready yet. Please wait a moment.',
  'backlog-full': 'The service is busy right now. Please try again in a minute.',
  'busy': 'The service is receiving many photos right now. Nothing was stored. Please try again in a moment.',
  'unauthorized': 'This service needs an access key. Enter the key you were given and try again.',
  'rate-limited': 'You have sent many photos in a short time. Please wait a moment and try again.',
  'quota-exceeded': 'You already have as many photos in progress as your key allows. Please wait until one is done.',
  'origin-not-allowed': 'This page may not send photos to this service. Open the service\'s own page and try again.',
  'queue-unavailable': 'The service cannot take new photos right now. Nothing was stored. Please try again in a moment.',
  'store-unavailable': 'The service is temporarily unavailable. Please try again in a moment.',
  'blob-unavailable': 'The service cannot store photos right now. Please try again in a moment.',
  'model-failed': 'The restoration model failed on this photo. Try again, or try another model or photo.',
  'gave-up': 'The service tried several times and could not finish this photo. Please try again later.',
  'internal': 'Something went wrong on our side. Please try again.',
  // Errors the page finds itself, before or without an answer from the server.
  'network': 'The connection to the service was lost. Check your connection and try again.',
  'unexpected': 'The service gave an unexpected answer. Please try again.',
};

/** Codes worth retrying with the same photo and options, as they are. */
export const RETRYABLE = new Set([
  'backlog-full', 'busy', 'rate-limited', 'quota-exceeded', 'upload-timeout', 'queue-unavailable', 'store-unavailable', 'blob-unavailable',
  'model-failed', 'gave-up', 'internal', 'network', 'unexpected', 'not-ready',
]);

/** Codes fixed by changing the options rather than the photo. */
export const OPTION_PROBLEMS = new Set(['invalid-option', 'output-too-large', 'unknown-model', 'upsampler-too-large']);

/** The human message for an error code; an unknown code still gets a sentence. */
export function humanError(code) {
  return ERROR_MESSAGES[code] ?? ERROR_MESSAGES.unexpected;
}

/** The worker's stages in order, with what a person would call them. */
export const STAGES = [
  ['fetch', 'Reading your photo'],
  ['decode', 'Decoding the image'],
  ['detect', 'Finding faces'],
  ['align', 'Lining up each face'],
  ['restore', 'Restoring faces'],
  ['paste', 'Putting the faces back'],
  ['encode', 'Saving the image'],
  ['store', 'Almost done'],
];

export function stageLabel(stage) {
  return STAGES.find(([name]) => name === stage)?.[1] ?? 'Working on your photo';
}
