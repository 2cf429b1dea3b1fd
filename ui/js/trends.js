// Trends: the main KPIs per hour, day or week in a chosen time zone, and the agents and teams
// tables, sortable by any column. Period, bucket, zone and filters live in the URL.
import {
  $, addDays, api, fmt, h, iso, params, parseYmd, query, referenceDay, replace, setParams,
  showError, slaRates, sortableTable, startPage, stats, ymd,
} from './app.js';
import { dataTable, timeChart } from './charts.js';

if (startPage('trends.html')) start();

async function start() {
  const main = $('#main');
  const url = params();
  const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  let to = parseYmd(url.get('to'));
  let from = parseYmd(url.get('from'));
  if (!to || !from) {
    try {
      const day = await referenceDay();
      to = addDays(day, 1);
      from = addDays(to, -28);
    } catch (error) {
      showError(main, error);
      return;
    }
  }
  const state = {
    from: ymd(from),
    to: ymd(addDays(to, -1)),
    bucket: url.get('bucket') || 'day',
    tz: url.get('tz') || browserZone,
    team: url.get('team') || '',
    channel: url.get('channel') || '',
  };

  const input = (id, label, attrs) => h('label', { for: id }, label, h('input', { id, name: id, value: state[id], ...attrs }));
  const bucket = h('select', { id: 'bucket', name: 'bucket' },
    ['hour', 'day', 'week'].map((b) => h('option', { value: b, selected: b === state.bucket }, b)));
  const zones = h('datalist', { id: 'zones' },
    [browserZone, 'UTC', 'Europe/Lisbon', 'Europe/London', 'America/Sao_Paulo', 'America/New_York', 'Asia/Kolkata'].map((z) => h('option', { value: z })));
  const form = h('form', { class: 'controls', id: 'trend-controls' },
    input('from', 'From', { type: 'date' }),
    input('to', 'To (included)', { type: 'date' }),
    h('label', { for: 'bucket' }, 'Bucket', bucket),
    input('tz', 'Time zone', { list: 'zones', size: 18 }), zones,
    input('team', 'Team', { placeholder: 'all', size: 14 }),
    input('channel', 'Channel', { placeholder: 'all', size: 10 }),
    h('button', { type: 'submit', class: 'primary' }, 'Show'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    for (const key of ['from', 'to', 'tz', 'team', 'channel']) state[key] = form.elements[key].value.trim();
    state.bucket = bucket.value;
    load();
  });

  const status = h('p', { id: 'trend-status', class: 'muted', 'aria-live': 'polite' });
  const charts = {
    volume: h('div', { class: 'chart', id: 'chart-volume' }),
    rates: h('div', { class: 'chart', id: 'chart-rates' }),
    durations: h('div', { class: 'chart', id: 'chart-durations' }),
  };
  const tables = { teams: h('div', { class: 'scroll', id: 'teams' }), agents: h('div', { class: 'scroll', id: 'agents' }) };
  replace(main,
    h('h1', {}, 'Trends'),
    form,
    status,
    h('div', { class: 'grid3' },
      h('section', { class: 'panel', 'aria-label': 'Volume' }, charts.volume),
      h('section', { class: 'panel', 'aria-label': 'Rates' }, charts.rates),
      h('section', { class: 'panel', 'aria-label': 'Durations' }, charts.durations)),
    h('div', { class: 'grid2' },
      h('section', { class: 'panel', 'aria-labelledby': 'teams-h' }, h('h2', { id: 'teams-h' }, 'Teams'), tables.teams),
      h('section', { class: 'panel', 'aria-labelledby': 'agents-h' }, h('h2', { id: 'agents-h' }, 'Agents'), tables.agents)));

  async function load() {
    setParams({ from: state.from, to: state.to, bucket: state.bucket, tz: state.tz, team: state.team, channel: state.channel });
    const fromDate = parseYmd(state.from);
    const toDate = parseYmd(state.to);
    if (!fromDate || !toDate) {
      status.textContent = 'Choose a period.';
      return;
    }
    // Whole local days in the chosen zone are cut by the server; the period's ends are the
    // browser's midnights, which is what a person picking dates means.
    const period = { from: iso(fromDate), to: iso(addDays(toDate, 1)) };
    const filters = { owner_team: state.team, channel: state.channel };
    status.textContent = 'Loading…';
    try {
      const [series, teams, agents] = await Promise.all([
        api(`/v1/kpis/timeseries?${query({ ...period, ...filters, bucket: state.bucket, tz: state.tz })}`),
        api(`/v1/kpis/teams?${query({ ...period, ...filters })}`),
        api(`/v1/kpis/agents?${query({ ...period, ...filters })}`),
      ]);
      drawSeries(series.data);
      tables.teams.replaceChildren(kpiTable('Team', teams.data.rows, 'teams-table'));
      tables.agents.replaceChildren(kpiTable('Agent', agents.data.rows, 'agents-table'));
      status.textContent = `${fmt.date(fromDate)} – ${fmt.date(toDate)}, per ${state.bucket} in ${series.data.tz}; data as of ${fmt.dateTime(series.data.data_as_of)}.`;
      stats.trendsLoaded = (stats.trendsLoaded || 0) + 1;
    } catch (error) {
      showError(status, error);
    }
  }

  function drawSeries(data) {
    const points = data.series[0]?.points || [];
    const x = points.map((p) => new Date(p.start).getTime() / 1000);
    const k = (f) => points.map((p) => f(p.kpis));
    timeChart(charts.volume, {
      title: 'Cases created and resolved', x, tz: data.tz, yFormat: fmt.int,
      series: [
        { label: 'Created', values: k((q) => q.volume.value) },
        { label: 'Resolved', values: k((q) => q.resolved.value) },
      ],
    });
    const sample = points.find((p) => p.kpis)?.kpis || {};
    timeChart(charts.rates, {
      title: 'Rates', x, tz: data.tz, yFormat: fmt.pct,
      series: [
        ...slaRates(sample).map(({ key, label }) => ({ label, values: k((q) => q[key]?.value ?? null) })),
        { label: 'FCR (no reactivation)', values: k((q) => q.fcr_no_reactivation.value) },
        { label: 'CSAT satisfied', values: k((q) => q.csat_satisfied.value) },
      ],
    });
    timeChart(charts.durations, {
      title: 'Median durations (hours)', x, tz: data.tz, yFormat: (v) => fmt.num(v, 1),
      series: [
        { label: 'First response', values: k((q) => hours(q.first_response.median_s)) },
        { label: 'Cycle time', values: k((q) => hours(q.cycle_time.median_s)) },
      ],
    });
    charts.volume.append(dataTable('Created and resolved', ['Bucket start', 'Created', 'Resolved'],
      points.map((p) => [fmt.dateTime(p.start), fmt.int(p.kpis.volume.value), fmt.int(p.kpis.resolved.value)])));
  }

  load();
}

function hours(seconds) {
  return seconds === null || seconds === undefined ? null : seconds / 3600;
}

function kpiTable(nameLabel, rows, id) {
  return sortableTable([
    { label: nameLabel, value: (r) => r.name ?? '(none)' },
    { label: 'Created', numeric: true, value: (r) => r.kpis.volume.value, format: fmt.int },
    { label: 'Resolved', numeric: true, value: (r) => r.kpis.resolved.value, format: fmt.int },
    { label: 'SLA met', numeric: true, value: (r) => r.kpis.sla_compliance.value, format: fmt.pct },
    { label: 'FCR', numeric: true, value: (r) => r.kpis.fcr_no_reactivation.value, format: fmt.pct },
    { label: 'Median first response', numeric: true, value: (r) => r.kpis.first_response.median_s, format: fmt.dur },
    { label: 'Median cycle time', numeric: true, value: (r) => r.kpis.cycle_time.median_s, format: fmt.dur },
    { label: 'Escalated', numeric: true, value: (r) => r.kpis.escalation_rate.value, format: fmt.pct },
    { label: 'CSAT', numeric: true, value: (r) => r.kpis.csat.value, format: (v) => fmt.num(v, 2) },
  ], rows, { sortBy: 1, id });
}
