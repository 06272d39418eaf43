// DOM and formatting helpers of the console.
/* global document */

/** The first element matching `sel`. */
export const $ = (sel) => document.querySelector(sel);

/** An element with attributes (`dataset`, `text` are special) and children. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

/** Seconds as a short duration, `—` when unknown. */
export function duration(s) {
  if (s === null || s === undefined) return '—';
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

/** Images per second, `—` when unknown. */
export function rate(r) {
  return r === null || r === undefined ? '—' : `${r.toFixed(r < 10 ? 1 : 0)}/s`;
}

/** A stacked bar: done, skipped and failed as shares of the total. */
export function progressBar(run) {
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
export function pretty(value) {
  const flat = (text) => text.replace(/\[\s+([^[\]{}]*?)\s+\]/g, (_m, inner) => `[${inner.replace(/\s*\n\s*/g, ' ')}]`);
  return flat(JSON.stringify(value, null, 2));
}
