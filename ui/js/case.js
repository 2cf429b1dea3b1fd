// One case: its attributes, every metric, its events in order, and its SLA timeline when the
// service offers one (GET /v1/cases/{id}/sla answers 200; on 404 the panel stays hidden).
import { $, api, ApiError, COLORS, fact, fmt, h, params, query, replace, showError, startPage, svg } from './app.js';

if (startPage('case.html')) start();

async function start() {
  const main = $('#main');
  const id = params().get('id');
  const form = h('form', { class: 'controls', id: 'case-form' },
    h('label', { for: 'case-id' }, 'Case id', h('input', { id: 'case-id', name: 'id', value: id || '', required: true, size: 20 })),
    h('button', { type: 'submit', class: 'primary' }, 'Open'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    location.href = `case.html?${query({ id: form.elements.id.value.trim() })}`;
  });
  const body = h('div', { id: 'case-body' });
  const slaPanel = h('section', { class: 'panel', id: 'sla-panel', hidden: true, 'aria-labelledby': 'sla-h' });
  const eventsBox = h('div', { id: 'case-events-box' });
  replace(main, h('h1', {}, id ? `Case ${id}` : 'Case'), form, body, slaPanel, eventsBox);
  if (!id) return;
  try {
    const c = (await api(`/v1/cases/${encodeURIComponent(id)}`)).data;
    drawCase(body, eventsBox, c);
  } catch (error) {
    showError(body, error);
    return;
  }
  try {
    const sla = (await api(`/v1/cases/${encodeURIComponent(id)}/sla`)).data;
    drawSla(slaPanel, sla);
    slaPanel.hidden = false;
  } catch (error) {
    // 404: this service (or this case) has no SLA timeline; anything else is shown.
    if (!(error instanceof ApiError && error.status === 404)) {
      slaPanel.hidden = false;
      replace(slaPanel, h('h2', { id: 'sla-h' }, 'SLA timeline'));
      slaPanel.append(h('p', { class: 'error' }, error.message));
    }
  }
}

const fcr = (v) => (v === null || v === undefined ? '–' : v === 'pending' ? 'pending' : v === 'true' ? 'yes' : 'no');
const yesNo = (v) => (v === null || v === undefined ? '–' : v ? 'yes' : 'no');

function drawCase(el, eventsBox, c) {
  const slaBadge = c.sla_status
    ? h('span', { class: `badge ${c.sla_status === 'noncompliant' ? 'bad' : c.sla_status === 'succeeded' ? 'good' : ''}` }, c.sla_status.replace('_', ' '))
    : '–';
  replace(el,
    h('div', { class: 'grid2' },
      h('section', { class: 'panel', 'aria-labelledby': 'attrs-h' },
        h('h2', { id: 'attrs-h' }, 'Case'),
        h('dl', { class: 'facts', id: 'case-attributes' },
          fact('State', c.state), fact('Status reason', c.status_reason), fact('Channel', c.channel),
          fact('Priority', c.priority), fact('Request type', c.request_type), fact('Product', c.product),
          fact('Team', c.owner_team), fact('Agent', c.agent), fact('Resolved by', c.resolving_agent),
          fact('Customer', c.customer), fact('Created', fmt.dateTime(c.created_at)),
          fact('Resolved', fmt.dateTime(c.resolved_at)), fact('Closed', fmt.dateTime(c.closed_at)),
          fact('Source', c.source_system))),
      h('section', { class: 'panel', 'aria-labelledby': 'metrics-h' },
        h('h2', { id: 'metrics-h' }, 'Metrics'),
        h('dl', { class: 'facts', id: 'case-metrics' },
          fact('Cycle time', fmt.dur(c.cycle_time_s)), fact('First response', fmt.dur(c.first_response_s)),
          fact('First pick-up', fmt.dur(c.first_pickup_s)), fact('Queue wait', fmt.dur(c.queue_wait_s)),
          fact('On hold', fmt.dur(c.on_hold_s)), fact('SLA', slaBadge),
          fact('SLA target', fmt.dur(c.sla_target_s)), fact('SLA elapsed', fmt.dur(c.sla_elapsed_s)),
          fact('SLA margin', fmt.dur(c.sla_margin_s)), fact('FCR: no reactivation', fcr(c.fcr_no_reactivation)),
          fact('FCR: no repeat', fcr(c.fcr_no_repeat)), fact('FCR: single interaction', fcr(c.fcr_single_interaction)),
          fact('Reactivations', fmt.int(c.reactivations)), fact('Rework', yesNo(c.is_rework)),
          fact('Escalated', yesNo(c.escalated)), fact('Handoffs', fmt.int(c.handoffs)),
          fact('CSAT', c.csat ?? '–'), fact('Events', fmt.int(c.event_count)),
          fact('Metrics as of', fmt.dateTime(c.metrics_as_of))))));
  replace(eventsBox,
    h('section', { class: 'panel', 'aria-labelledby': 'events-h' },
      h('h2', { id: 'events-h' }, 'Events'),
      h('table', { class: 'data', id: 'case-events' },
        h('thead', {}, h('tr', {}, ['#', 'Time', 'Activity', 'Role', 'Agent', 'Status reason', 'Team'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, c.events.map((e, i) => h('tr', {},
          h('td', { class: 'num' }, i + 1), h('td', {}, fmt.dateTime(e.event_time)), h('td', {}, e.activity),
          h('td', {}, e.activity_code ?? '–'), h('td', {}, e.agent ?? '–'), h('td', {}, e.status_reason ?? '–'),
          h('td', {}, e.owner_team ?? '–')))))));
}

const KIND_COLOURS = {
  counted: COLORS.blue,
  paused: COLORS.orange,
  closed_hours: '#9aa5b1',
  holiday: COLORS.purple,
  resolved: COLORS.green,
};

function drawSla(el, sla) {
  const targets = sla.targets || [];
  replace(el,
    h('h2', { id: 'sla-h' }, 'SLA timeline'),
    h('p', { class: 'muted' },
      sla.policy ? `Policy ${sla.policy.name ?? sla.policy.id} (version ${sla.policy.version})` : 'No policy: the case’s own target, around the clock',
      sla.calendar ? ` · calendar ${sla.calendar.name ?? sla.calendar.id}${sla.calendar.version ? ` (version ${sla.calendar.version})` : ''}` : ''),
    h('div', { class: 'legend' }, Object.keys(KIND_COLOURS).map((k) =>
      h('span', {}, h('span', { class: `swatch sw-${k}` }), k.replace('_', ' ')))),
    targets.map((t) => drawTarget(t)));
}

function drawTarget(t) {
  const segments = t.timeline || [];
  const start = segments.length ? new Date(segments[0].start).getTime() : 0;
  const ends = segments.map((s) => new Date(s.end).getTime());
  const instants = [t.warning_at, t.due_at, t.breached_at].filter(Boolean).map((v) => new Date(v).getTime());
  const end = Math.max(start + 1, ...ends, ...instants);
  const W = 1000;
  const x = (ms) => 10 + ((W - 20) * (ms - start)) / (end - start);
  // Warning, due and breach marks; marks at one instant share a line and a label.
  const marks = new Map();
  for (const [at, label, colour] of [[t.warning_at, 'warning', COLORS.orange], [t.due_at, 'due', '#1a1a1a'], [t.breached_at, 'breached', COLORS.vermillion]]) {
    if (!at) continue;
    const ms = new Date(at).getTime();
    const mark = marks.get(ms) || { labels: [], colour };
    mark.labels.push(label);
    mark.colour = colour;
    marks.set(ms, mark);
  }
  let lastX = -Infinity;
  let row = 0;
  const markEls = [...marks].sort((p, q) => p[0] - q[0]).map(([ms, mark]) => {
    const mx = x(ms);
    const right = mx > W * 0.8;
    // Labels of close marks go on alternate lines.
    row = mx - lastX < 160 ? 1 - row : 0;
    lastX = mx;
    return svg('g', {},
      svg('line', { x1: mx, x2: mx, y1: 2, y2: 40, stroke: mark.colour, 'stroke-width': 3, 'stroke-dasharray': '4 2' }),
      svg('text', { x: right ? mx - 4 : mx + 4, y: 54 + 14 * row, 'text-anchor': right ? 'end' : 'start', class: 'tick' }, mark.labels.join(' · ')));
  });
  const status = t.status || '–';
  return h('div', { class: 'sla-target', id: `sla-${t.target}` },
    h('h3', {}, t.target === 'first_response' ? 'First response' : t.target === 'resolution' ? 'Resolution' : t.target,
      ' ', h('span', { class: `badge ${status === 'noncompliant' || t.breached_at ? 'bad' : status === 'succeeded' ? 'good' : ''}` }, status.replace('_', ' '))),
    h('p', { class: 'muted' },
      `Target ${fmt.dur(t.target_s)} (warning at ${fmt.dur(t.warning_s)}) · counted ${fmt.dur(t.elapsed_s)} · paused ${fmt.dur(t.paused_s)} · wall-clock ${fmt.dur(t.calendar_s)} · margin ${fmt.dur(t.margin_s)}`,
      t.due_at ? ` · due ${fmt.dateTime(t.due_at)}` : '',
      t.breached_at ? ` · breached ${fmt.dateTime(t.breached_at)}` : ''),
    svg('svg', { viewBox: `0 0 ${W} 72`, role: 'img', 'aria-label': `${t.target} timeline` },
      segments.map((s) => svg('rect', {
        x: x(new Date(s.start).getTime()), y: 8,
        width: Math.max(1, x(new Date(s.end).getTime()) - x(new Date(s.start).getTime())), height: 26,
        fill: KIND_COLOURS[s.kind] || '#6b6b6b', stroke: '#fff', 'stroke-width': 1,
      }, svg('title', {}, `${s.kind}${s.reason ? ` (${s.reason})` : ''}: ${fmt.dateTime(s.start)} – ${fmt.dateTime(s.end)}, ${fmt.dur(s.seconds)}`))),
      markEls),
    h('details', {}, h('summary', {}, 'Segments'),
      h('table', { class: 'data' },
        h('thead', {}, h('tr', {}, ['Kind', 'Reason', 'Start', 'End', 'Duration'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, segments.map((s) => h('tr', {},
          h('td', {}, s.kind), h('td', {}, s.reason ?? '–'), h('td', {}, fmt.dateTime(s.start)),
          h('td', {}, fmt.dateTime(s.end)), h('td', { class: 'num' }, fmt.dur(s.seconds))))))));
}
