// Process: the directly-follows graph (frequency and median time on the edges, filterable to
// the most frequent paths), the variants, and recent cases leading to the case page.
import {
  $, addDays, api, fmt, h, iso, params, parseYmd, query, referenceDay, replace, setParams,
  showError, sortableTable, startPage, stats, ymd,
} from './app.js';
import { drawDfg } from './dfg.js';

if (startPage('process.html')) start();

async function start() {
  const main = $('#main');
  const url = params();
  let to = parseYmd(url.get('to'));
  let from = parseYmd(url.get('from'));
  if (!to || !from) {
    try {
      const day = await referenceDay();
      to = day;
      from = addDays(day, -27);
    } catch (error) {
      showError(main, error);
      return;
    }
  }
  const state = { from: ymd(from), to: ymd(to), team: url.get('team') || '', channel: url.get('channel') || '', paths: Number(url.get('paths')) || 0 };

  const input = (id, label, attrs) => h('label', { for: id }, label, h('input', { id, name: id, value: state[id], ...attrs }));
  const form = h('form', { class: 'controls', id: 'process-controls' },
    input('from', 'Cases created from', { type: 'date' }),
    input('to', 'to (included)', { type: 'date' }),
    input('team', 'Team', { placeholder: 'all', size: 14 }),
    input('channel', 'Channel', { placeholder: 'all', size: 10 }),
    h('button', { type: 'submit', class: 'primary' }, 'Show'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    for (const key of ['from', 'to', 'team', 'channel']) state[key] = form.elements[key].value.trim();
    load();
  });
  const caseForm = h('form', { class: 'controls', id: 'case-search' },
    h('label', { for: 'case-id' }, 'Open a case by id', h('input', { id: 'case-id', name: 'case', required: true, size: 18 })),
    h('button', { type: 'submit' }, 'Open'));
  caseForm.addEventListener('submit', (event) => {
    event.preventDefault();
    location.href = `case.html?${query({ id: caseForm.elements.case.value.trim() })}`;
  });

  const status = h('p', { id: 'process-status', class: 'muted', 'aria-live': 'polite' });
  const slider = h('input', { type: 'range', id: 'paths', name: 'paths', min: 1, max: 1, value: 1 });
  const sliderText = h('output', { for: 'paths', id: 'paths-text' });
  const graph = h('div', { class: 'dfg-wrap', id: 'dfg', tabindex: 0, 'aria-label': 'Process map, scrollable' });
  const edgeTable = h('div', { id: 'dfg-edges' });
  const variants = h('div', { class: 'scroll', id: 'variants' });
  const cases = h('div', { class: 'scroll', id: 'cases' });
  replace(main,
    h('h1', {}, 'Process'),
    form,
    status,
    h('section', { class: 'panel', 'aria-labelledby': 'dfg-h' },
      h('h2', { id: 'dfg-h' }, 'Directly-follows graph'),
      h('div', { class: 'controls' },
        h('label', { for: 'paths' }, 'Most frequent transitions shown', slider), sliderText),
      h('div', { class: 'legend' },
        h('span', {}, 'Edge label: times followed · median time between'),
        h('span', {}, 'Thicker: more frequent'),
        h('span', {}, 'Dashed: back to an earlier step (rework)'),
        h('span', {}, 'Green border: a start; red border: an end')),
      graph, edgeTable),
    h('div', { class: 'grid2' },
      h('section', { class: 'panel', 'aria-labelledby': 'variants-h' }, h('h2', { id: 'variants-h' }, 'Variants'), variants),
      h('section', { class: 'panel', 'aria-labelledby': 'cases-h' }, h('h2', { id: 'cases-h' }, 'Recent cases'), caseForm, cases)));

  let edges = [];
  let activities = new Map();
  function drawGraph() {
    const n = Math.min(Number(slider.value), edges.length);
    state.paths = n;
    setParams({ paths: n });
    const shown = edges.slice(0, n);
    const share = edges.length ? shown.reduce((s, e) => s + e.frequency, 0) / edges.reduce((s, e) => s + e.frequency, 0) : 0;
    sliderText.textContent = `${fmt.int(n)} of ${fmt.int(edges.length)} transitions (${fmt.pct(share)} of all)`;
    if (!shown.length) {
      replace(graph, h('p', { class: 'muted' }, 'No events in this period.'));
      return;
    }
    replace(graph, drawDfg(shown, activities));
    replace(edgeTable, h('details', {}, h('summary', {}, 'Transitions as a table'),
      sortableTable([
        { label: 'From', value: (e) => e.from },
        { label: 'To', value: (e) => e.to },
        { label: 'Times', numeric: true, value: (e) => e.frequency, format: fmt.int },
        { label: 'Median time', numeric: true, value: (e) => e.median_s, format: fmt.dur },
        { label: 'Mean time', numeric: true, value: (e) => e.mean_s, format: fmt.dur },
      ], shown, { sortBy: 2 })));
    stats.dfgDraws = (stats.dfgDraws || 0) + 1;
  }
  slider.addEventListener('input', drawGraph);

  async function load() {
    setParams({ from: state.from, to: state.to, team: state.team, channel: state.channel });
    const fromDate = parseYmd(state.from);
    const toDate = parseYmd(state.to);
    const period = { from: fromDate ? iso(fromDate) : '', to: toDate ? iso(addDays(toDate, 1)) : '' };
    const filters = { owner_team: state.team, channel: state.channel };
    status.textContent = 'Loading…';
    try {
      const [dfg, acts, vars, list] = await Promise.all([
        api(`/v1/process/dfg?${query({ ...period, ...filters })}`),
        api(`/v1/process/activities?${query({ ...period, ...filters })}`),
        api(`/v1/process/variants?${query({ ...period, ...filters, limit: 25 })}`),
        api(`/v1/cases?${query({ created_from: period.from, created_to: period.to, ...filters, sort: 'created', order: 'desc', limit: 25 })}`),
      ]);
      edges = dfg.data.edges;
      activities = new Map(acts.data.activities.map((a) => [a.activity, a]));
      slider.max = Math.max(1, edges.length);
      slider.value = state.paths || Math.min(edges.length, 24);
      drawGraph();
      drawVariants(vars.data);
      drawCases(list.data.cases);
      status.textContent = `Cases created ${fmt.date(fromDate)} – ${fmt.date(toDate)}; data as of ${fmt.dateTime(dfg.data.data_as_of)}.`;
    } catch (error) {
      showError(status, error);
    }
  }

  function drawVariants(data) {
    const total = data.cases || 1;
    replace(variants,
      h('p', { class: 'muted' }, `${fmt.int(data.variant_count)} variants over ${fmt.int(data.cases)} cases; the ${fmt.int(data.variants.length)} most frequent:`),
      sortableTable([
        { label: 'Cases', numeric: true, value: (v) => v.cases, format: fmt.int },
        { label: 'Share', numeric: true, value: (v) => v.cases / total, format: fmt.pct },
        { label: 'Median cycle time', numeric: true, value: (v) => v.median_cycle_time_s, format: fmt.dur },
        { label: 'Path', value: (v) => v.activities.join(' → '), render: (v) => h('span', { class: 'path' }, v.activities.map((a, i) => [i ? ' → ' : '', h('span', { class: 'step' }, a)])) },
      ], data.variants, { sortBy: 0, id: 'variants-table' }));
  }

  function drawCases(rows) {
    replace(cases, rows.length
      ? sortableTable([
        { label: 'Case', value: (c) => c.case_id, render: (c) => h('a', { href: `case.html?${query({ id: c.case_id })}` }, c.case_id) },
        { label: 'Created', value: (c) => c.created_at, format: fmt.dateTime },
        { label: 'State', value: (c) => c.state },
        { label: 'Channel', value: (c) => c.channel },
        { label: 'SLA', value: (c) => c.sla_status },
      ], rows, { sortBy: 1, id: 'cases-table' })
      : h('p', { class: 'muted' }, 'No cases created in this period.'));
  }

  load();
}
