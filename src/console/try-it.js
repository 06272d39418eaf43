// "Try it": a photo dropped or chosen is sent to POST /v1/detect and drawn with its faces.
/* global URLSearchParams, performance, createImageBitmap */
import { api } from './api.js';
import { $, pretty } from './dom.js';
import { drawFaces } from './draw.js';

/** Wires the file input and the drop zone. */
export function setupTry() {
  const input = $('#file');
  const drop = $('#drop');
  input.addEventListener('change', () => input.files[0] && detect(input.files[0]));
  for (const ev of ['dragenter', 'dragover']) {
    drop.addEventListener(ev, (e) => {
      e.preventDefault();
      drop.classList.add('over');
    });
  }
  for (const ev of ['dragleave', 'drop']) drop.addEventListener(ev, () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    const file = e.dataTransfer.files[0];
    if (file) detect(file);
  });
}

async function detect(file) {
  const canvas = $('#try-canvas');
  const status = $('#try-status');
  canvas.dataset.state = 'busy';
  delete canvas.dataset.faceCount;
  status.textContent = `Detecting faces in ${file.name}…`;
  status.className = 'status';
  const q = new URLSearchParams({ name: file.name });
  if ($('#score').value !== '') q.set('scoreThreshold', $('#score').value);
  if ($('#max-faces').value !== '') q.set('maxFaces', $('#max-faces').value);
  const t0 = performance.now();
  try {
    const res = await api(`/v1/detect?${q}`, { method: 'POST', headers: { 'content-type': file.type || 'application/octet-stream' }, body: file });
    const result = await res.json();
    const ms = Math.round(performance.now() - t0);
    $('#try-json').textContent = pretty(result);
    // Formats the browser cannot decode (TIFF, HEIF) still get their JSON, just no picture.
    const bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' }).catch(() => null);
    if (bitmap) {
      drawFaces(canvas, bitmap, result.faces, result.image.width, 1000);
      bitmap.close();
    } else {
      canvas.width = 0;
      canvas.height = 0;
      canvas.dataset.faceCount = String(result.faces.length);
    }
    const n = result.faces.length;
    $('#try-caption').textContent = `${n} face${n === 1 ? '' : 's'} · ${result.image.width}×${result.image.height} ${result.image.format} · batch of ${result.timings.batchSize}`;
    status.textContent = `${file.name}: ${n} face${n === 1 ? '' : 's'} in ${ms} ms${bitmap ? '' : ' (this browser cannot show this format; the JSON is complete)'}`;
    canvas.dataset.state = 'done';
  } catch (err) {
    status.textContent = `${file.name}: ${err.code || 'error'} — ${err.message}`;
    status.className = 'status error';
    $('#try-json').textContent = JSON.stringify({ code: err.code, message: err.message }, null, 2);
    canvas.dataset.state = 'error';
    canvas.dataset.errorCode = err.code || '';
  }
}
