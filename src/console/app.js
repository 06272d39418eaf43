// The facefleet console: "Try it" (upload a photo, see the faces), the runs list and a run's page.
// Plain browser script served as is; talks only to this server's /v1 API.
/* global window, document, fetch, Headers, URLSearchParams, sessionStorage, location, performance, createImageBitmap */
'use strict';

(function () {
  const { drawFaces } = window.facefleetDraw;
  const $ = (sel) => document.querySelector(sel);
  const TOKEN_KEY = 'facefleet.token';
  const POLL_MS = 2000;
  const FAILURE_TEXT = {
    E_DECODE: 'damaged image: the bytes cannot be decoded',
    E_UNSUPPORTED_FORMAT: 'not an image, or a format outside the allow-list',
    E_TOO_LARGE: 'over the size or megapixel limit',
    E_NOT_FOUND: 'the source object does not exist',
    E_BAD_KEY: 'malformed or unsafe key',
    E_BAD_JOB: 'the job payload does not match the contract',
    E_STORAGE: 'storage kept failing (retried)',
    E_STORAGE_DENIED: 'storage refused access',
    E_INFERENCE: 'inference kept failing (retried)',
    E_SHUTDOWN: 'a worker shut down',
  };

  let pollTimer = 0;
  let viewToken = 0;

  // ---------- API access ----------

  class HttpError extends Error {
    constructor(status, body) {
      super((body && body.message) || `HTTP ${status}`);
      this.status = status;
      this.code = (body && body.code) || `HTTP_${status}`;
    }
  }

  /** fetch with the bearer token; on 401 asks for a token once and retries. */
  async function api(path, init = {}, retried = false) {
    const headers = new Headers(init.headers || {});
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.set('authorization', `Bearer ${token}`);
    const res = await fetch(path, { ...init, headers });
    if (res.status === 401 && !retried) {
      await res.text().catch(() => '');
      $('#token-button').hidden = false;
      if (await askToken()) return api(path, init, true);
    }
    if (!res.ok) {
      const body = await res.json().catch(() => null);
      throw new HttpError(res.status, body);
    }
    return res;
  }

  async function apiJson(path, init) {
    return (await api(path, init)).json();
  }

  function askToken() {
    const dialog = $('#token-dialog');
    $('#token-input').value = '';
    return new Promise((resolve) => {
      dialog.addEventListener(
        'close',
        () => {
          const value = $('#token-input').value.trim();
          if (dialog.returnValue === 'ok' && value) {
            sessionStorage.setItem(TOKEN_KEY, value);
            resolve(true);
          } else resolve(false);
        },
        { once: true },
      );
      dialog.showModal();
    });
  }

  /** A key as a URL path: every segment encoded, the slashes kept. */
  function keyPath(key) {
    return key.split('/').map(encodeURIComponent).join('/');
  }

  // ---------- formatting ----------

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === 'dataset') Object.assign(node.dataset, v);
      else if (k === 'text') node.textContent = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c);
    return node;
  }

  function duration(s) {
    if (s === null || s === undefined) return '—';
    if (s < 60) return `${Math.round(s)} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
    return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
  }

  function rate(r) {
    return r === null || r === undefined ? '—' : `${r.toFixed(r < 10 ? 1 : 0)}/s`;
  }

  /** A stacked bar: done, skipped and failed as shares of the total. */
  function progressBar(run) {
    const bar = el('div', {
      class: 'bar',
      role: 'progressbar',
      'aria-valuemin': '0',
      'aria-valuemax': String(run.total),
      'aria-valuenow': String(run.finished),
      title: `${run.finished} of ${run.total} (${Math.floor(run.progress * 100)}%)`,
    });
    for (const part of ['done', 'skipped', 'failed']) {
      const seg = el('span', { class: `seg ${part}` });
      seg.style.width = `${run.total > 0 ? (100 * Math.min(run[part], run.total)) / run.total : 0}%`;
      bar.append(seg);
    }
    return el('div', { class: 'bar-wrap' }, bar, el('span', { class: 'pct', text: `${Math.floor(run.progress * 100)}%` }));
  }

  /** Indented JSON with arrays of numbers (a box, a landmark point) kept on one line. */
  function pretty(value) {
    const flat = (text) => text.replace(/\[\s+([^[\]{}]*?)\s+\]/g, (_m, inner) => `[${inner.replace(/\s*\n\s*/g, ' ')}]`);
    return flat(JSON.stringify(value, null, 2));
  }

  // ---------- Try it ----------

  function setupTry() {
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

  // ---------- Runs ----------

  async function showRuns(token) {
    const status = $('#runs-status');
    try {
      const { runs } = await apiJson('/v1/runs?limit=100');
      if (token !== viewToken) return;
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
    if (token === viewToken) pollTimer = setTimeout(() => showRuns(token), POLL_MS);
  }

  // ---------- One run ----------

  let galleryNext = null;

  async function showRun(runId, token, first) {
    const status = $('#run-status');
    let run = null;
    try {
      run = await apiJson(`/v1/runs/${encodeURIComponent(runId)}`);
    } catch (err) {
      if (token !== viewToken) return;
      status.textContent = `${err.code || ''} ${err.message}`;
      status.className = 'status error';
    }
    if (token !== viewToken) return;
    if (run) {
      status.textContent = run.enqueueError ? `Listing stopped: ${run.enqueueError.code} ${run.enqueueError.message}` : '';
      status.className = run.enqueueError ? 'status error' : 'status';
      const wasFinished = $('#run-progress').dataset.state === 'finished';
      renderRun(run);
      // The gallery loads with the page, and again when a followed run finishes.
      if (first || (!wasFinished && run.state === 'finished')) loadGallery(runId, null, token);
    }
    if (!run || run.state !== 'finished') pollTimer = setTimeout(() => showRun(runId, token, false), POLL_MS);
  }

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

  async function retryRun() {
    const button = $('#run-retry');
    const runId = button.dataset.runId;
    button.disabled = true;
    try {
      const res = await apiJson(`/v1/runs/${encodeURIComponent(runId)}/retry`, { method: 'POST' });
      $('#retry-status').textContent = `${res.retried} image${res.retried === 1 ? '' : 's'} sent back to the queue.`;
      $('#retry-status').dataset.retried = String(res.retried);
      // Follow the run again: it is not finished any more.
      clearTimeout(pollTimer);
      showRun(runId, viewToken, false);
    } catch (err) {
      $('#retry-status').textContent = `Retry failed: ${err.code || ''} ${err.message}`;
    } finally {
      button.disabled = false;
    }
  }

  async function loadGallery(runId, after, token) {
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
      if (token !== viewToken) return;
      const cards = page.items.map((item) => resultCard(runId, item));
      gallery.append(...cards.map((c) => c.node));
      await Promise.all(cards.map((c) => c.ready));
      if (token !== viewToken) return;
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

  // ---------- routing ----------

  function route() {
    clearTimeout(pollTimer);
    const token = ++viewToken;
    const hash = location.hash || '#/try';
    const runMatch = /^#\/runs\/(.+)$/.exec(hash);
    const name = runMatch ? 'run' : hash.startsWith('#/runs') ? 'runs' : 'try';
    for (const v of document.querySelectorAll('.view')) v.hidden = v.id !== `view-${name}`;
    for (const a of document.querySelectorAll('[data-nav]')) a.classList.toggle('active', a.dataset.nav === (name === 'run' ? 'runs' : name));
    if (name === 'runs') showRuns(token);
    if (name === 'run') {
      const runId = decodeURIComponent(runMatch[1]);
      $('#run-title').textContent = `Run ${runId}`;
      $('#run-progress').replaceChildren();
      delete $('#run-progress').dataset.state;
      $('#gallery').replaceChildren();
      $('#run-retry').hidden = true;
      $('#retry-status').textContent = '';
      showRun(runId, token, true);
    }
  }

  $('#gallery-more').addEventListener('click', () => {
    const m = /^#\/runs\/(.+)$/.exec(location.hash);
    if (m && galleryNext) loadGallery(decodeURIComponent(m[1]), galleryNext, viewToken);
  });
  $('#gallery-refresh').addEventListener('click', () => {
    const m = /^#\/runs\/(.+)$/.exec(location.hash);
    if (m) loadGallery(decodeURIComponent(m[1]), null, viewToken);
  });
  $('#run-retry').addEventListener('click', retryRun);
  $('#token-button').addEventListener('click', () => askToken());
  // The board is a separate page: with auth on, the server first grants this browser a cookie for it.
  $('#queues-link').addEventListener('click', async (e) => {
    e.preventDefault();
    try {
      await api('/v1/session', { method: 'POST' });
      location.href = '/queues/';
    } catch (err) {
      window.alert(`Cannot open the queue board: ${err.code || ''} ${err.message}`);
    }
  });
  if (sessionStorage.getItem(TOKEN_KEY)) $('#token-button').hidden = false;
  setupTry();
  window.addEventListener('hashchange', route);
  route();
})();
