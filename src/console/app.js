// The facefleet console: routes between "Try it", the runs list and a run's page, and wires the
// header. Plain ES modules served as they are; the console talks only to this server's /v1 API.
/* global window, document, location */
import { api, askToken, hasToken } from './api.js';
import { $ } from './dom.js';
import { galleryNext, loadGallery, retryRun, showRun, showRuns } from './runs.js';
import { setupTry } from './try-it.js';
import { nextView, view } from './view.js';

/** Shows the view the location's hash names. */
function route() {
  const token = nextView();
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
  if (m && galleryNext) loadGallery(decodeURIComponent(m[1]), galleryNext, view.token);
});
$('#gallery-refresh').addEventListener('click', () => {
  const m = /^#\/runs\/(.+)$/.exec(location.hash);
  if (m) loadGallery(decodeURIComponent(m[1]), null, view.token);
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
if (hasToken()) $('#token-button').hidden = false;
setupTry();
window.addEventListener('hashchange', route);
route();
