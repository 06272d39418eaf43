import sharp from 'sharp';
import { interpolatedPrecision } from './score';

/** One named precision/recall curve to draw. */
export interface PrPlotCurve {
  /** Legend name, e.g. `blazeface 1.2.0`. */
  name: string;
  /** Curve points ordered by falling score (as {@link scoreDetections} returns them). */
  points: ReadonlyArray<{ recall: number; precision: number }>;
  /** Average precision shown in the legend, or null when unknown. */
  ap: number | null;
  /** Where the operating threshold sits on the curve; drawn as a marker. */
  operating?: { recall: number | null; precision: number | null; scoreThreshold: number };
}

/** Options of {@link renderPrPlotSvg} and {@link renderPrPlotPng}. */
export interface PrPlotOptions {
  /** Image width, px. @defaultValue 800 */
  width?: number;
  /** Image height, px. @defaultValue 600 */
  height?: number;
  /** Heading above the plot. @defaultValue `Precision / recall` */
  title?: string;
  /** Smaller line under the heading (for example the set and the IoU threshold). */
  subtitle?: string;
}

const COLORS = ['#2563eb', '#dc2626', '#059669', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563'];
const FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif';

/**
 * Draws precision/recall curves as an SVG document: axes from 0 to 1 with a grid every 0.1, each
 * curve as its interpolated precision (the envelope that AP integrates) in steps, a marker at each
 * curve's operating threshold, and a legend with names and APs. Pure; text is XML-escaped.
 */
export function renderPrPlotSvg(curves: readonly PrPlotCurve[], options: PrPlotOptions = {}): string {
  const width = options.width ?? 800;
  const height = options.height ?? 600;
  const m = { left: 72, right: 28, top: options.subtitle ? 64 : 44, bottom: 58 };
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  // Data 0–1 sits a few pixels inside the frame, so a curve at precision 1 or recall 1 stays visible.
  const inset = 8;
  const x = (r: number) => m.left + inset + clamp01(r) * (pw - 2 * inset);
  const y = (p: number) => m.top + inset + (1 - clamp01(p)) * (ph - 2 * inset);
  const parts: string[] = [];

  parts.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  parts.push(`<text x="${m.left}" y="28" font-size="18" font-weight="bold" fill="#111827">${esc(options.title ?? 'Precision / recall')}</text>`);
  if (options.subtitle) parts.push(`<text x="${m.left}" y="48" font-size="13" fill="#4b5563">${esc(options.subtitle)}</text>`);

  for (let i = 0; i <= 10; i++) {
    const v = i / 10;
    const major = i % 5 === 0;
    const stroke = major ? '#d1d5db' : '#eceef1';
    parts.push(`<line x1="${f(x(v))}" y1="${m.top}" x2="${f(x(v))}" y2="${m.top + ph}" stroke="${stroke}" stroke-width="1"/>`);
    parts.push(`<line x1="${m.left}" y1="${f(y(v))}" x2="${m.left + pw}" y2="${f(y(v))}" stroke="${stroke}" stroke-width="1"/>`);
    parts.push(`<text x="${f(x(v))}" y="${m.top + ph + 18}" font-size="12" fill="#374151" text-anchor="middle">${v.toFixed(1)}</text>`);
    parts.push(`<text x="${m.left - 8}" y="${f(y(v) + 4)}" font-size="12" fill="#374151" text-anchor="end">${v.toFixed(1)}</text>`);
  }
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#6b7280" stroke-width="1"/>`);
  parts.push(`<text x="${m.left + pw / 2}" y="${height - 14}" font-size="14" fill="#111827" text-anchor="middle">Recall</text>`);
  const yLabelX = 22;
  const yLabelY = m.top + ph / 2;
  parts.push(`<text x="${yLabelX}" y="${yLabelY}" font-size="14" fill="#111827" text-anchor="middle" transform="rotate(-90 ${yLabelX} ${yLabelY})">Precision</text>`);

  parts.push(`<clipPath id="plot-area"><rect x="${m.left - 3}" y="${m.top - 3}" width="${pw + 6}" height="${ph + 6}"/></clipPath>`);
  const markers: string[] = [];
  curves.forEach((curve, i) => {
    const color = COLORS[i % COLORS.length];
    const raw = rawPath(curve.points, x, y);
    if (raw) parts.push(`<path d="${raw}" fill="none" stroke="${color}" stroke-opacity="0.35" stroke-width="1.25" stroke-linejoin="round" clip-path="url(#plot-area)"/>`);
    const path = stepPath(curve.points, x, y);
    if (path) parts.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="2.5" stroke-linejoin="round" clip-path="url(#plot-area)"/>`);
    const op = curve.operating;
    if (op && op.recall !== null && op.precision !== null) {
      const cx = x(op.recall);
      const cy = y(op.precision);
      markers.push(`<circle cx="${f(cx)}" cy="${f(cy)}" r="6" fill="${color}" stroke="#ffffff" stroke-width="2"/>`);
      const label = `t = ${fmt(op.scoreThreshold, 2)}`;
      const right = cx + 12 + textWidth(label, 12) < m.left + pw;
      const ly = cy + 18 > m.top + ph ? cy - 10 : cy + 18;
      markers.push(`<text x="${f(right ? cx + 10 : cx - 10)}" y="${f(ly)}" font-size="12" fill="${color}" text-anchor="${right ? 'start' : 'end'}" stroke="#ffffff" stroke-width="3" paint-order="stroke">${esc(label)}</text>`);
    }
  });
  parts.push(...markers);
  parts.push(legend(curves, m.left + 14, m.top + ph - 14));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}">${parts.join('')}</svg>`;
}

/** {@link renderPrPlotSvg} rasterised to PNG bytes with sharp. */
export async function renderPrPlotPng(curves: readonly PrPlotCurve[], options: PrPlotOptions = {}): Promise<Buffer> {
  return sharp(Buffer.from(renderPrPlotSvg(curves, options))).png().toBuffer();
}

/** The legend box, anchored at its bottom-left corner (the plot's empty low-recall, low-precision corner). */
function legend(curves: readonly PrPlotCurve[], left: number, bottom: number): string {
  if (curves.length === 0) return '';
  const rows = curves.map((c, i) => {
    const op = c.operating;
    const detail =
      op && op.recall !== null
        ? `at t = ${fmt(op.scoreThreshold, 2)}: recall ${fmt(op.recall, 3)}, precision ${op.precision === null ? 'n/a' : fmt(op.precision, 3)}`
        : undefined;
    return { color: COLORS[i % COLORS.length], name: c.name, ap: `AP ${c.ap === null ? 'n/a' : fmt(c.ap, 3)}`, detail };
  });
  const rowHeight = (r: (typeof rows)[number]) => (r.detail ? 38 : 22);
  const rowsW = 16 + 34 + Math.max(...rows.map((r) => Math.max(textWidth(`${r.name} · ${r.ap}`, 13), r.detail ? textWidth(r.detail, 11) : 0)));
  const note = 'thick: interpolated precision (AP is its area) · thin: at each threshold';
  const boxW = Math.max(rowsW, 20 + textWidth(note, 10));
  const boxH = 12 + rows.reduce((h, r) => h + rowHeight(r), 0) + 16;
  const top = bottom - boxH;
  const out = [`<rect x="${f(left)}" y="${f(top)}" width="${f(boxW)}" height="${f(boxH)}" rx="4" fill="#ffffff" fill-opacity="0.92" stroke="#d1d5db"/>`];
  let cy = top + 6;
  for (const r of rows) {
    const mid = cy + 11;
    out.push(`<line x1="${f(left + 10)}" y1="${f(mid)}" x2="${f(left + 36)}" y2="${f(mid)}" stroke="${r.color}" stroke-width="3"/>`);
    out.push(`<circle cx="${f(left + 23)}" cy="${f(mid)}" r="4" fill="${r.color}" stroke="#ffffff" stroke-width="1.5"/>`);
    out.push(`<text x="${f(left + 44)}" y="${f(mid + 4.5)}" font-size="13" fill="#111827">${esc(r.name)} · <tspan font-weight="bold">${esc(r.ap)}</tspan></text>`);
    if (r.detail) out.push(`<text x="${f(left + 44)}" y="${f(mid + 21)}" font-size="11" fill="#4b5563">${esc(r.detail)}</text>`);
    cy += rowHeight(r);
  }
  out.push(`<text x="${f(left + 10)}" y="${f(cy + 12)}" font-size="10" fill="#6b7280">${esc(note)}</text>`);
  return out.join('');
}

/**
 * The interpolated precision as a step path in pixels: at recall in (r_{i-1}, r_i] it is the envelope
 * at the first point reaching r_i (later points at the same recall only add false positives).
 */
function stepPath(points: PrPlotCurve['points'], x: (r: number) => number, y: (p: number) => number): string {
  if (points.length === 0) return '';
  const envelope = interpolatedPrecision(points);
  const steps: Array<[number, number]> = [];
  points.forEach((p, i) => {
    if (steps.length === 0 || p.recall > steps[steps.length - 1][0]) steps.push([p.recall, envelope[i]]);
  });
  const path = new PathBuilder();
  path.add(x(0), y(steps[0][1]));
  steps.forEach(([r, e], i) => {
    path.add(x(r), y(e));
    if (i + 1 < steps.length) path.add(x(r), y(steps[i + 1][1]));
  });
  return path.toString();
}

/** The raw precision at every threshold, as a polyline in pixels. */
function rawPath(points: PrPlotCurve['points'], x: (r: number) => number, y: (p: number) => number): string {
  const path = new PathBuilder();
  for (const p of points) path.add(x(p.recall), y(p.precision));
  return path.toString();
}

/**
 * Path vertices rounded to half pixels; repeated vertices are merged and straight horizontal or
 * vertical runs shortened, so a curve of 10⁵ points stays a path of a few thousand vertices.
 */
class PathBuilder {
  private readonly vertices: Array<[number, number]> = [];

  add(px: number, py: number): void {
    const v: [number, number] = [Math.round(px * 2) / 2, Math.round(py * 2) / 2];
    const n = this.vertices.length;
    const last = this.vertices[n - 1];
    if (last && last[0] === v[0] && last[1] === v[1]) return;
    const prev = this.vertices[n - 2];
    const sameWay = (a: number, b: number, c: number) => Math.sign(b - a) === Math.sign(c - b);
    const straight =
      last && prev && ((prev[0] === last[0] && last[0] === v[0] && sameWay(prev[1], last[1], v[1])) || (prev[1] === last[1] && last[1] === v[1] && sameWay(prev[0], last[0], v[0])));
    if (straight) this.vertices[n - 1] = v;
    else this.vertices.push(v);
  }

  toString(): string {
    return this.vertices.map(([px, py], i) => `${i === 0 ? 'M' : 'L'}${px} ${py}`).join('');
  }
}

/** A rough width of DejaVu Sans text, px (used only to size the legend box). */
function textWidth(text: string, size: number): number {
  return text.length * size * 0.58;
}

function clamp01(v: number): number {
  return Math.min(1, Math.max(0, v));
}

function f(v: number): string {
  return String(Math.round(v * 10) / 10);
}

function fmt(v: number, digits: number): string {
  return v.toFixed(digits);
}

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
