// The runs list and a run's page: progress, failures by code, retry, and the results gallery.
/* global URLSearchParams, createImageBitmap */
import { api, apiJson, keyPath } from './api.js';
import { $, duration, el, progressBar, rate } from './dom.js';
import { drawFaces } from './draw.js';
import { isCurrent, later, view } from './view.js';

/** What each failure code means, for the failures table. */
const FAILURE_TEXT = {
  E_DECODE: 'damaged image: the bytes cannot be decoded',
  E_UNSUPPORTED_FORMAT: 'not an image, or a format outside the allow-list',
  E_TOO_LARGE: 'over the size or megapixel limit',
  E_NOT_FOUND: 'the source object does not exist or is not a regular file',
  E_BAD_KEY: 'malformed or unsafe key, a location not allowed, or a result name taken by another file',
  E_BAD_JOB: 'the job payload does not match the contract',
  E_STORAGE: 'storage kept failing (retried)',
  E_STORAGE_DENIED: 'storage refused access',
  E_REDIS: 'Redis kept failing while the outcome was counted (retried)',
  E_INFERENCE: 'inference kept failing (retried)',
  E_SHUTDOWN: 'a worker shut down',
  E_POISON: 'quarantined: the image hung the decoder or kept crashing workers',
  E_INTERNAL: 'a bug: an unclassified error (the worker logged its stack)',
};

/** Shows the runs list, refreshed while the view lasts. */
export async function showRuns(token) {
  const status = $('#runs-status');
  try {
    const { runs } = await apiJson('/v1/runs?limit=100');
    if (!isCurrent(token)) return;
    const body = $('#runs-table tbody');
    body.replaceChildren(
      ...runs.map((r) =>
        el(
          'tr',
          { dataset: { runId: r.runId, state: r.state } },
          el('td', {}, el('a', { href: `#/runs/${encodeURIComponent(r.runId)}`, text: r.runId })),
          el('td', {}, el('span', { class: `state ${r.state}`, text: r.state })),
          el('td', {}, progressBar(r)),
          el('td', { class: 'num', text: String(r.done) }),
          el('td', { class: 'num', text: String(r.skipped) }),
          el('td', { class: `num${r.failed ? ' bad' : ''}`, text: String(r.failed) }),
          el('td', { class: 'num', text: String(r.total) }),
          el('td', { class: 'num', text: rate(r.rate) }),
          el('td', { class: 'num', text: r.state === 'finished' ? 'done' : duration(r.etaSeconds) }),
          el('td', { text: new Date(r.createdAt).toLocaleString() }),
        ),
      ),
    );
    status.textContent = runs.length ? '' : 'No runs yet. Enqueue one with `facefleet enqueue` or POST /v1/jobs.';
    status.className = 'status';
    $('#runs-table').dataset.count = String(runs.length);
  } catch (err) {
    status.textContent = `Cannot list runs: ${err.code || ''} ${err.message}`;
    status.className = 'status error';
  }
  if (isCurrent(token)) later(() => showRuns(token));
}

/** Where the next gallery page starts, when there is one. */
export let galleryNext = null;

/** Shows a run, followed until it finishes; `first` also loads the gallery. */
export async function showRun(runId, token, first) {
  const status = $('#run-status');
  let run = null;
  try {
    run = await apiJson(`/v1/runs/${encodeURIComponent(runId)}`);
  } catch (err) {
    if (!isCurrent(token)) return;
    status.textContent = `${err.code || ''} ${err.message}`;
    status.className = 'status error';
  }
  if (!isCurrent(token)) return;
  if (run) {
    status.textContent = run.enqueueError ? `Listing stopped: ${run.enqueueError.code} ${run.enqueueError.message}` : '';
    status.className = run.enqueueError ? 'status error' : 'status';
    const wasFinished = $('#run-progress').dataset.state === 'finished';
    renderRun(run);
    // The gallery loads with the page, and again when a followed run finishes.
    if (first || (!wasFinished && run.state === 'finished')) loadGallery(runId, null, token);
  }
  if (!run || run.state !== 'finished') later(() => showRun(runId, token, false));
}

/** Fills the run's page from its API view. */
function renderRun(run) {
  $('#run-title').textContent = `Run ${run.runId}`;
  const block = $('#run-progress');
  block.replaceChildren(progressBar(run));
  Object.assign(block.dataset, { state: run.state, finished: String(run.finished), total: String(run.total), failed: String(run.failed) });
  const stats = [
    ['State', run.state],
    ['Done', run.done],
    ['Skipped', run.skipped],
    ['Failed', run.failed],
    ['Total', run.total],
    ['Rate', rate(run.rate)],
    ['ETA', run.state === 'finished' ? 'finished' : duration(run.etaSeconds)],
    ['Model', run.model],
    ['Results', run.results],
    ['Created', new Date(run.createdAt).toLocaleString()],
  ];
  $('#run-stats').replaceChildren(...stats.map(([k, v]) => el('div', {}, el('dt', { text: k }), el('dd', { text: String(v) }))));
  const failures = Object.entries(run.failures).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
  const rows = failures.map(([code, n]) => el('tr', { dataset: { code } }, el('td', {}, el('code', { text: code })), el('td', { class: 'num', text: String(n) }), el('td', { text: FAILURE_TEXT[code] || '' })));
  $('#run-failures tbody').replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: '3', class: 'muted', text: 'No failures.' }))]));
  const retry = $('#run-retry');
  retry.hidden = !(run.retryable > 0);
  retry.textContent = `Retry ${run.retryable} failed image${run.retryable === 1 ? '' : 's'} (transient failures)`;
  retry.dataset.runId = run.runId;
}

/** Sends the run's transient failures back to the queue and follows the run again. */
export async function retryRun() {
  const button = $('#run-retry');
  const runId = button.dataset.runId;
  button.disabled = true;
  try {
    const res = await apiJson(`/v1/runs/${encodeURIComponent(runId)}/retry`, { method: 'POST' });
    $('#retry-status').textContent = `${res.retried} image${res.retried === 1 ? '' : 's'} sent back to the queue.`;
    $('#retry-status').dataset.retried = String(res.retried);
    // Follow the run again: it is not finished any more.
    showRun(runId, view.token, false);
  } catch (err) {
    $('#retry-status').textContent = `Retry failed: ${err.code || ''} ${err.message}`;
  } finally {
    button.disabled = false;
  }
}

/** A page of the run's results as cards, after `after` (or from the start). */
export async function loadGallery(runId, after, token) {
  const gallery = $('#gallery');
  const more = $('#gallery-more');
  if (!after) {
    gallery.replaceChildren();
    gallery.dataset.count = '0';
  }
  gallery.dataset.state = 'loading';
  more.hidden = true;
  try {
    const q = new URLSearchParams({ limit: '24' });
    if (after) q.set('after', after);
    const page = await apiJson(`/v1/runs/${encodeURIComponent(runId)}/results?${q}`);
    if (!isCurrent(token)) return;
    const cards = page.items.map((item) => resultCard(runId, item));
    gallery.append(...cards.map((c) => c.node));
    await Promise.all(cards.map((c) => c.ready));
    if (!isCurrent(token)) return;
    gallery.dataset.count = String(gallery.children.length);
    gallery.dataset.state = 'done';
    galleryNext = page.next || null;
    more.hidden = !galleryNext;
    if (!gallery.children.length) gallery.append(el('p', { class: 'muted', text: 'No results yet.' }));
  } catch (err) {
    gallery.dataset.state = 'error';
    gallery.append(el('p', { class: 'status error', text: `Cannot list results: ${err.code || ''} ${err.message}` }));
  }
}

/** A gallery card: the source image (fetched through the API) with the result's faces drawn. */
function resultCard(runId, item) {
  const canvas = el('canvas', { width: '0', height: '0' });
  const caption = el('figcaption', {}, el('span', { class: 'key', text: item.key, title: item.key }));
  const node = el('figure', { class: 'card', dataset: { key: item.key, faceCount: String(item.faces.length), state: 'loading' } }, canvas, caption);
  const ready = (async () => {
    if (item.error) {
      caption.append(el('span', { class: 'bad', text: ` ${item.error.code}` }));
      node.dataset.state = 'error';
      return;
    }
    caption.append(el('span', { class: 'faces', text: ` · ${item.faces.length} face${item.faces.length === 1 ? '' : 's'}` }));
    try {
      const res = await api(`/v1/runs/${encodeURIComponent(runId)}/images/${keyPath(item.key)}?w=480`);
      const bitmap = await createImageBitmap(await res.blob());
      drawFaces(canvas, bitmap, item.faces, item.image.width, 480);
      bitmap.close();
      node.dataset.state = 'done';
    } catch (err) {
      caption.append(el('span', { class: 'bad', text: ` image: ${err.code || err.message}` }));
      node.dataset.state = 'error';
    }
  })();
  return { node, ready };
}
