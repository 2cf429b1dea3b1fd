// Thin wrappers over the vendored uPlot (ui/vendor/uplot, MIT) for the pages' charts.
import uPlot from '../vendor/uplot/uPlot.esm.js';
import { COLORS, h, svg } from './app.js';

const SERIES_COLOURS = [COLORS.blue, COLORS.orange, COLORS.green, COLORS.vermillion, COLORS.purple, COLORS.sky];
// A second cue besides colour: every other series is dashed.
const DASHES = [undefined, [8, 4], undefined, [2, 3], [10, 3, 2, 3], undefined];

function width(container) {
  return Math.max(320, Math.floor(container.getBoundingClientRect().width) - 8);
}

/**
 * A time chart: `x` in unix seconds, `series` [{label, values, format}], times shown in `tz`.
 */
export function timeChart(container, { title, x, series, tz, yFormat, height = 260 }) {
  container.replaceChildren();
  const opts = {
    title,
    width: width(container),
    height,
    tzDate: tz ? (ts) => uPlot.tzDate(new Date(ts * 1e3), tz) : undefined,
    series: [
      {},
      ...series.map((s, i) => ({
        label: s.label,
        stroke: SERIES_COLOURS[i % SERIES_COLOURS.length],
        dash: DASHES[i % DASHES.length],
        width: 2,
        spanGaps: false,
        points: { show: x.length < 60 },
        value: (u, v) => (v === null || v === undefined ? '–' : (s.format || yFormat || String)(v)),
      })),
    ],
    axes: [{}, { values: (u, vals) => vals.map((v) => (yFormat ? yFormat(v) : v)), size: 70 }],
  };
  const plot = new uPlot(opts, [x, ...series.map((s) => s.values)], container);
  return plot;
}

/**
 * Grouped bars over categories (deciles), drawn in SVG: `series` [{label, values}], an
 * optional `line` [{label, values}] on the same axis, and a dashed reference level.
 */
export function barChart(container, { title, labels, series, yFormat = String, line, reference, height = 280 }) {
  const w = width(container);
  const pad = { left: 70, right: 16, top: 34, bottom: 40 };
  const plotW = w - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const all = [...series.flatMap((s) => s.values), ...(line ? line.values : []), reference ?? 0].filter((v) => v !== null && v !== undefined);
  const max = Math.max(...all, 0) * 1.1 || 1;
  const y = (v) => pad.top + plotH - (plotH * v) / max;
  const band = plotW / labels.length;
  const barW = (band * 0.75) / series.length;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => f * max);
  const out = svg('svg', { class: 'barchart', viewBox: `0 0 ${w} ${height}`, width: w, height, role: 'img', 'aria-label': title },
    svg('text', { x: pad.left, y: 20, class: 'chart-title' }, title),
    ticks.map((t) => svg('g', {},
      svg('line', { x1: pad.left, x2: w - pad.right, y1: y(t), y2: y(t), stroke: '#e1e4e8' }),
      svg('text', { x: pad.left - 6, y: y(t) + 4, 'text-anchor': 'end', class: 'tick' }, yFormat(t)))),
    labels.map((label, i) => svg('text', { x: pad.left + band * (i + 0.5), y: height - pad.bottom + 18, 'text-anchor': 'middle', class: 'tick' }, label)),
    series.map((s, k) => s.values.map((v, i) => (v === null || v === undefined ? null
      : svg('rect', {
        x: pad.left + band * i + band * 0.125 + barW * k, y: y(v), width: barW - 2, height: Math.max(0, y(0) - y(v)),
        fill: SERIES_COLOURS[k % SERIES_COLOURS.length],
      }, svg('title', {}, `${s.label}, ${labels[i]}: ${yFormat(v)}`))))),
    reference !== undefined && reference !== null
      ? svg('line', { x1: pad.left, x2: w - pad.right, y1: y(reference), y2: y(reference), stroke: '#1a1a1a', 'stroke-dasharray': '4 4' })
      : null,
    line ? svg('polyline', {
      points: line.values.map((v, i) => (v === null ? null : `${pad.left + band * (i + 0.5)},${y(v)}`)).filter(Boolean).join(' '),
      fill: 'none', stroke: COLORS.vermillion, 'stroke-width': 2.5, 'stroke-dasharray': '7 4',
    }) : null,
    line ? line.values.map((v, i) => (v === null ? null : svg('circle', { cx: pad.left + band * (i + 0.5), cy: y(v), r: 4, fill: COLORS.vermillion },
      svg('title', {}, `${line.label}, ${labels[i]}: ${yFormat(v)}`)))) : null);
  const legend = h('div', { class: 'legend' },
    series.map((s, k) => h('span', {}, h('span', { class: `swatch sw-series${k}` }), s.label)),
    line ? h('span', {}, h('span', { class: 'swatch sw-line' }), `${line.label} (dashed line)`) : null,
    reference !== undefined && reference !== null ? h('span', {}, `dotted line: ${yFormat(reference)}`) : null);
  container.replaceChildren(out, legend);
}

/** A chart's data as a table for screen readers and keyboard users. */
export function dataTable(caption, header, rows) {
  return h('details', { class: 'chart-data' },
    h('summary', {}, `${caption}: data table`),
    h('table', { class: 'data' },
      h('thead', {}, h('tr', {}, header.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c)))))));
}
