// Draws a directly-follows graph in SVG: layered layout (back edges found by a depth-first
// walk from the start activities, layers by longest path, order by barycentre sweeps),
// frequency and median time on every edge.
import { fmt, svg } from './app.js';

const NODE_W = 190;
const NODE_H = 44;
const GAP_X = 70;
const GAP_Y = 78;

/**
 * `edges`: [{from, to, frequency, median_s}], `activities`: Map name -> {events, starts, ends}.
 * Returns an <svg>.
 */
export function drawDfg(edges, activities) {
  const names = [...new Set(edges.flatMap((e) => [e.from, e.to]))];
  const out = new Map(names.map((n) => [n, []]));
  for (const e of edges) out.get(e.from).push(e);
  // Depth-first from the busiest starts: edges closing a cycle are drawn as back edges.
  const roots = [...names].sort((a, b) => (activities.get(b)?.starts || 0) - (activities.get(a)?.starts || 0)
    || (activities.get(b)?.events || 0) - (activities.get(a)?.events || 0));
  const state = new Map();
  const back = new Set();
  const visit = (n) => {
    state.set(n, 1);
    for (const e of [...out.get(n)].sort((a, b) => b.frequency - a.frequency)) {
      if (e.from === e.to) continue;
      const s = state.get(e.to);
      if (s === 1) back.add(e);
      else if (!s) visit(e.to);
    }
    state.set(n, 2);
  };
  for (const r of roots) if ((activities.get(r)?.starts || 0) > 0 && !state.get(r)) visit(r);
  for (const r of roots) if (!state.get(r)) visit(r);
  const forward = edges.filter((e) => e.from !== e.to && !back.has(e));
  // Longest-path layers over the forward edges (a DAG now).
  const layer = new Map(names.map((n) => [n, 0]));
  for (let i = 0; i < names.length; i += 1) {
    let changed = false;
    for (const e of forward) {
      if (layer.get(e.to) < layer.get(e.from) + 1) {
        layer.set(e.to, layer.get(e.from) + 1);
        changed = true;
      }
    }
    if (!changed) break;
  }
  const layers = [];
  for (const n of names) (layers[layer.get(n)] ||= []).push(n);
  for (const l of layers) l?.sort((a, b) => (activities.get(b)?.events || 0) - (activities.get(a)?.events || 0));
  const position = new Map();
  const reindex = () => layers.forEach((l) => l?.forEach((n, i) => position.set(n, i)));
  reindex();
  // Barycentre sweeps, down then up, weighted by frequency.
  for (let sweep = 0; sweep < 6; sweep += 1) {
    const down = sweep % 2 === 0;
    for (const l of down ? layers : [...layers].reverse()) {
      if (!l) continue;
      const centre = new Map(l.map((n) => {
        const near = forward.filter((e) => (down ? e.to === n : e.from === n));
        const weight = near.reduce((s, e) => s + e.frequency, 0);
        const c = weight ? near.reduce((s, e) => s + e.frequency * position.get(down ? e.from : e.to), 0) / weight : position.get(n);
        return [n, c];
      }));
      l.sort((a, b) => centre.get(a) - centre.get(b));
      reindex();
    }
  }
  const widest = Math.max(...layers.map((l) => l?.length || 0));
  const margin = 60 + 22 * layers.length;
  const totalW = widest * (NODE_W + GAP_X) + 2 * margin;
  const xy = new Map();
  layers.forEach((l, depth) => {
    if (!l) return;
    const offset = (totalW - 2 * margin - l.length * (NODE_W + GAP_X)) / 2;
    l.forEach((n, i) => xy.set(n, { x: margin + offset + i * (NODE_W + GAP_X) + GAP_X / 2, y: 30 + depth * (NODE_H + GAP_Y) }));
  });
  const totalH = layers.length * (NODE_H + GAP_Y) + 20;
  const maxF = Math.max(1, ...edges.map((e) => e.frequency));
  const stroke = (f) => 1 + 7 * Math.sqrt(f / maxF);

  // Ports: edges between neighbouring layers leave and enter a node spread along its
  // bottom and top edges, ordered by where the other end is, so they do not pile up.
  const port = new Map();
  const spread = (list, key) => {
    list.sort((p, q) => xy.get(key(p)).x - xy.get(key(q)).x);
    return new Map(list.map((e, i) => [e, (i - (list.length - 1) / 2) * Math.min(18, (NODE_W - 30) / Math.max(1, list.length))]));
  };
  for (const n of names) {
    const adjacent = (e) => !back.has(e) && e.from !== e.to && layer.get(e.to) - layer.get(e.from) === 1;
    const outs = spread(edges.filter((e) => e.from === n && adjacent(e)), (e) => e.to);
    const ins = spread(edges.filter((e) => e.to === n && adjacent(e)), (e) => e.from);
    for (const [e, dx] of outs) port.set(e, { ...(port.get(e) || {}), out: dx });
    for (const [e, dx] of ins) port.set(e, { ...(port.get(e) || {}), in: dx });
  }
  const mid = (p0, p1, p2, p3) => (p0 + 3 * p1 + 3 * p2 + p3) / 8;

  const edgeEls = edges.map((e) => {
    const a = xy.get(e.from);
    const b = xy.get(e.to);
    const span = layer.get(e.to) - layer.get(e.from);
    let d;
    let lx;
    let ly;
    if (e.from === e.to) {
      const x = a.x + NODE_W;
      const y = a.y + NODE_H / 2;
      d = `M ${x} ${y - 10} C ${x + 45} ${y - 35}, ${x + 45} ${y + 35}, ${x} ${y + 10}`;
      lx = x + 38;
      ly = y + 4;
    } else if (back.has(e) || span > 1) {
      // Back edges go round the right side, forward edges skipping layers the left side,
      // further out the more layers they span.
      const right = back.has(e);
      const x1 = right ? a.x + NODE_W : a.x;
      const x2 = right ? b.x + NODE_W : b.x;
      const y1 = a.y + NODE_H / 2 + (right ? 6 : 0);
      const y2 = b.y + NODE_H / 2 - (right ? 6 : 0);
      const reach = 40 + 22 * Math.abs(span);
      const bulge = right ? Math.max(x1, x2) + reach : Math.min(x1, x2) - reach;
      d = `M ${x1} ${y1} C ${bulge} ${y1}, ${bulge} ${y2}, ${x2 + (right ? 6 : -6)} ${y2}`;
      lx = mid(x1, bulge, bulge, x2);
      ly = mid(y1, y1, y2, y2);
    } else {
      const ports = port.get(e) || {};
      const x1 = a.x + NODE_W / 2 + (ports.out || 0);
      const y1 = a.y + NODE_H;
      const x2 = b.x + NODE_W / 2 + (ports.in || 0);
      const y2 = b.y;
      const my = (y1 + y2) / 2;
      d = `M ${x1} ${y1} C ${x1} ${my}, ${x2} ${my}, ${x2} ${y2 - 6}`;
      lx = mid(x1, x1, x2, x2);
      ly = my + 4;
    }
    const label = `${fmt.int(e.frequency)} · ${fmt.dur(e.median_s)}`;
    return svg('g', { class: `edge${back.has(e) || e.from === e.to ? ' back' : ''}` },
      svg('title', {}, `${e.from} → ${e.to}: ${fmt.int(e.frequency)} times, median ${fmt.dur(e.median_s)}`),
      svg('path', { d, 'stroke-width': stroke(e.frequency).toFixed(1), 'marker-end': 'url(#arrow)' }),
      svg('text', { x: lx, y: ly, 'text-anchor': 'middle', class: 'edge-label' }, label));
  });
  // Starts and ends worth marking: at least 5 % of all (open cases end anywhere).
  const totalStarts = [...activities.values()].reduce((s, a) => s + a.starts, 0) || 1;
  const totalEnds = [...activities.values()].reduce((s, a) => s + a.ends, 0) || 1;
  const nodeEls = names.map((n) => {
    const { x, y } = xy.get(n);
    const a = activities.get(n) || {};
    const start = (a.starts || 0) / totalStarts >= 0.05;
    const end = !start && (a.ends || 0) / totalEnds >= 0.05;
    const cls = `node${start ? ' start' : ''}${end ? ' end' : ''}`;
    const label = n.length > 26 ? `${n.slice(0, 25)}…` : n;
    return svg('g', { class: cls, transform: `translate(${x},${y})` },
      svg('title', {}, `${n}: ${fmt.int(a.events)} events, starts ${fmt.int(a.starts)}, ends ${fmt.int(a.ends)}`),
      svg('rect', { width: NODE_W, height: NODE_H, rx: 6 }),
      svg('text', { x: NODE_W / 2, y: 18, 'text-anchor': 'middle' }, label),
      svg('text', { x: NODE_W / 2, y: 35, 'text-anchor': 'middle', class: 'count' }, `${fmt.int(a.events)} events`));
  });
  return svg('svg', { class: 'dfg', id: 'dfg-svg', width: totalW, height: totalH, viewBox: `0 0 ${totalW} ${totalH}`, role: 'img', 'aria-label': 'Directly-follows graph' },
    svg('defs', {}, svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 8, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse', markerUnits: 'userSpaceOnUse' },
      svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#52606d' }))),
    edgeEls, nodeEls);
}
