// The options panel: models as the server lists them, enlargement, the background's
// enlargement (where the server offers a network for it), centre face, fidelity (for
// models that take it) and the result's file type. Defaults match the API's, so a person
// who never opens the panel gets what the API gives by default.

import { listOffer } from './api.js';

export function setupOptions(els) {
  let models = [];
  let upsamplers = [];

  const selected = () => models.find((m) => m.name === els.model.value);

  const describe = () => {
    const model = selected();
    // Manifest descriptions are single lines, not always ending in a full stop.
    const about = model?.description.replace(/[.\s]*$/, '.');
    els.modelAbout.textContent = model ? `${about} Licence: ${model.licence}.` : '';
    els.fidelityField.hidden = !model?.fidelity;
    els.fidelityValue.textContent = Number(els.fidelity.value).toFixed(2);
    const upscale = els.form.querySelector('input[name="upscale"]:checked')?.value ?? '2';
    const faces = els.center.checked ? 'centre face only' : 'all faces';
    const upsampler = upsamplers.find((u) => u.name === els.bg.value);
    els.bgAbout.textContent = upsampler
      ? `${upsampler.description.replace(/[.\s]*$/, '.')} Photos up to ${(upsampler.max_pixels / 1e6).toFixed(2)} megapixels on this server.`
      : 'Lanczos resampling: sharp and fast, adds no detail.';
    const background = upsampler ? ` · ${upsampler.name} background` : '';
    els.summary.textContent = `${model?.name ?? 'default model'} · ${upscale}×${background} · ${faces}`;
  };

  els.form.addEventListener('input', describe);
  els.form.addEventListener('change', describe);
  // Enter in the panel must not submit anything: there is nothing to submit without a photo.
  els.form.addEventListener('submit', (event) => event.preventDefault());

  const load = async () => {
    try {
      ({ models, upsamplers } = await listOffer());
    } catch {
      // The server still has a default model; the panel just cannot name it.
      models = [];
      upsamplers = [];
    }
    els.bg.replaceChildren(
      els.bg.options[0],
      ...upsamplers.map((u) => new Option(`${u.name} (learned, slow on CPU)`, u.name)),
    );
    els.bgField.hidden = upsamplers.length === 0;
    els.model.replaceChildren(
      ...models.map((m) => {
        const option = new Option(m.default ? `${m.name} (default)` : m.name, m.name);
        option.selected = m.default;
        return option;
      }),
    );
    els.model.disabled = models.length < 2;
    describe();
  };

  return {
    load,
    /** The chosen options as API fields; only what differs from the server's defaults. */
    values() {
      const out = {};
      const model = selected();
      if (model && !model.default) out.model = model.name;
      out.upscale = els.form.querySelector('input[name="upscale"]:checked')?.value ?? '2';
      if (els.center.checked) out.only_center_face = 'true';
      if (model?.fidelity) out.fidelity = els.fidelity.value;
      if (els.bg.value) out.bg_upsampler = els.bg.value;
      if (els.format.value) out.format = els.format.value;
      return out;
    },
    open() {
      els.details.open = true;
    },
  };
}
