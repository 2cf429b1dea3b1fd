// The wallboard: today's and this week's KPIs in large type, polled every few seconds with
// If-None-Match (a 304 neither transfers a body nor redraws). Filters by team and channel and
// the refresh period live in the URL, so a wall screen can be bookmarked.
import {
  $, addDays, api, COLORS, fmt, h, iso, kpiLabel, Panel, params, query, rateText, replace,
  setParams, showError, slaRates, startOfDay, startOfWeek, startPage, stats, svg,
} from './app.js';

if (startPage('wallboard.html')) start();

function start() {
  const url = params();
  const filters = { owner_team: url.get('team') || '', channel: url.get('channel') || '' };
  const every = Math.max(1, Number(url.get('every')) || 5);
  const main = $('#main');

  const el = {
    age: h('span', { id: 'data-age' }, 'waiting for data…'),
    scope: h('span', { id: 'scope' }),
    tiles: h('div', { class: 'tiles', id: 'tiles' }),
    sla: h('section', { class: 'panel', id: 'sla', 'aria-labelledby': 'sla-h' }),
    fcr: h('section', { class: 'panel', id: 'fcr', 'aria-labelledby': 'fcr-h' }),
    csat: h('section', { class: 'panel', id: 'csat', 'aria-labelledby': 'csat-h' }),
    backlog: h('section', { class: 'panel wide', id: 'backlog', 'aria-labelledby': 'backlog-h' }),
    error: h('div', { id: 'wall-error', 'aria-live': 'assertive' }),
  };
  const teamSelect = h('select', { id: 'team', name: 'team' }, h('option', { value: '' }, 'All teams'));
  const channelSelect = h('select', { id: 'channel', name: 'channel' }, h('option', { value: '' }, 'All channels'));
  for (const [select, key, param] of [[teamSelect, 'owner_team', 'team'], [channelSelect, 'channel', 'channel']]) {
    if (filters[key]) select.append(h('option', { value: filters[key], selected: true }, filters[key]));
    select.addEventListener('change', () => {
      filters[key] = select.value;
      setParams({ [param]: select.value });
      cycle();
    });
  }
  replace(main,
    h('div', { class: 'wall-bar' },
      h('h1', {}, 'Wallboard'),
      h('form', { class: 'filters', onsubmit: (e) => e.preventDefault() },
        h('label', { for: 'team' }, 'Team'), teamSelect,
        h('label', { for: 'channel' }, 'Channel'), channelSelect),
      h('p', { class: 'freshness', 'aria-live': 'polite' }, el.scope, ' · data as of ', el.age)),
    el.error,
    el.tiles,
    h('div', { class: 'wall-grid' }, el.sla, el.fcr, el.csat, el.backlog));

  let dataAsOf = null;
  const today = new Panel('today', (d) => { remember(d); drawToday(d); });
  const week = new Panel('week', (d) => { remember(d); drawWeek(d); });
  const backlog = new Panel('backlog', (d) => { remember(d); drawBacklog(d); });
  let todayKpis = null;
  let weekKpis = null;

  function remember(data) {
    if (data.data_as_of) {
      const t = new Date(data.data_as_of);
      if (!dataAsOf || t > dataAsOf) dataAsOf = t;
    }
  }

  /** The wallboard's "now": the clock, or the data's last instant when the data is older than today. */
  function anchor() {
    const now = new Date();
    return dataAsOf && dataAsOf < startOfDay(now) ? dataAsOf : now;
  }

  /** The backlog's instant: the latest data (stable between changes, so polls get 304s). */
  function backlogAt() {
    const now = new Date();
    if (dataAsOf && dataAsOf <= now) return dataAsOf;
    const minute = new Date(now);
    minute.setSeconds(0, 0);
    return minute;
  }

  function summaryUrl(from, to) {
    return `/v1/kpis/summary?${query({ from: iso(from), to: iso(to), ...filters })}`;
  }

  let running = false;
  async function cycle() {
    if (running) return;
    running = true;
    // What this cycle cost, for the tests and the bench: requests, 304s, bodies.
    const before = { requests: stats.requests, notModified: stats.notModified, bodies: stats.bodies };
    try {
      let day = startOfDay(anchor());
      await today.refresh(summaryUrl(day, addDays(day, 1)));
      // The first answer may show that the data ends before today: look at its last day.
      const moved = startOfDay(anchor());
      if (moved.getTime() !== day.getTime()) {
        day = moved;
        await today.refresh(summaryUrl(day, addDays(day, 1)));
      }
      const monday = startOfWeek(day);
      replace(el.scope, day.getTime() === startOfDay(new Date()).getTime()
        ? `Today, ${fmt.date(day)}`
        : h('span', { class: 'note' }, `Latest data: ${fmt.date(day)}`));
      await Promise.all([
        week.refresh(summaryUrl(monday, addDays(monday, 7))),
        backlog.refresh(`/v1/kpis/backlog?${query({ at: iso(backlogAt()), ...filters })}`),
      ]);
      replace(el.error);
      (stats.history ||= []).push({
        requests: stats.requests - before.requests,
        notModified: stats.notModified - before.notModified,
        bodies: stats.bodies - before.bodies,
      });
    } catch (error) {
      showError(el.error, error);
    } finally {
      running = false;
      stats.cycles = (stats.cycles || 0) + 1;
    }
  }

  function drawTiles() {
    const t = todayKpis;
    const w = weekKpis;
    replace(el.tiles,
      tile('volume-today', 'Cases today', fmt.int(t?.volume.value), t ? `${fmt.int(t.resolved.value)} resolved` : ''),
      tile('volume-week', 'This week', fmt.int(w?.volume.value), w ? `${fmt.int(w.resolved.value)} resolved` : ''),
      tile('open-backlog', 'Open backlog', fmt.int(backlogTotal), 'cases open now'),
      tile('breaches', 'SLA breached, open', fmt.int(t?.active_breaches?.value), perTarget(t, 'active_breaches', 'open cases past their resolution target'), (t?.active_breaches?.value || 0) > 0 ? 'alert' : ''),
      tile('nearing', 'Nearing breach', fmt.int(t?.nearing?.value), perTarget(t, 'nearing', 'open cases past the warning share'), (t?.nearing?.value || 0) > 0 ? 'warn' : ''),
    );
  }

  function drawToday(data) {
    todayKpis = data.groups[0]?.kpis || null;
    drawTiles();
    drawRates();
  }

  function drawWeek(data) {
    weekKpis = data.groups[0]?.kpis || null;
    drawTiles();
    drawRates();
  }

  function drawRates() {
    const t = todayKpis;
    const w = weekKpis;
    if (!t) return;
    replace(el.sla,
      h('h2', { id: 'sla-h' }, 'SLA compliance'),
      h('div', { class: 'rates' },
        slaRates(t).map(({ key, label, rate }) => rateBlock(`sla-${key}`, label, rate, w?.[key]))));
    replace(el.fcr,
      h('h2', { id: 'fcr-h' }, 'First-contact resolution'),
      h('div', { class: 'rates' },
        ['fcr_no_reactivation', 'fcr_no_repeat', 'fcr_single_interaction'].map((key) =>
          rateBlock(`fcr-${key}`, kpiLabel(key).replace('FCR: ', ''), t[key], w?.[key]))));
    replace(el.csat,
      h('h2', { id: 'csat-h' }, 'Customer satisfaction'),
      h('div', { class: 'rates' },
        h('div', { class: 'rate', id: 'csat-mean' },
          h('span', { class: 'rate-label' }, 'Mean score'),
          h('span', { class: 'big' }, fmt.num(t.csat.value, 2)),
          h('span', { class: 'sub' }, `${fmt.int(t.csat.count)} answers today · week ${fmt.num(w?.csat.value, 2)}`)),
        rateBlock('csat-satisfied', 'Satisfied', t.csat_satisfied, w?.csat_satisfied)));
  }

  let backlogTotal = null;
  function drawBacklog(data) {
    const group = data.groups[0];
    backlogTotal = data.groups.reduce((sum, g) => sum + g.backlog, 0);
    drawTiles();
    const buckets = group ? group.ageing : [];
    const max = Math.max(1, ...buckets.map((b) => b.cases));
    const width = 900;
    const row = 44;
    const chart = svg('svg', { viewBox: `0 0 ${width} ${buckets.length * row + 10}`, class: 'bars', preserveAspectRatio: 'xMinYMid meet', role: 'img', 'aria-label': 'Open cases by age' },
      buckets.map((b, i) => {
        const w = Math.round(((width - 260) * b.cases) / max);
        const y = i * row + 5;
        // Older buckets darker: order, not colour alone, carries the meaning.
        const colour = [COLORS.sky, COLORS.sky, COLORS.blue, COLORS.blue, COLORS.orange, COLORS.vermillion][i] || COLORS.grey;
        return svg('g', {},
          svg('text', { x: 110, y: y + row / 2 + 4, 'text-anchor': 'end', class: 'bar-label' }, b.age),
          svg('rect', { x: 120, y: y + 4, width: Math.max(w, 1), height: row - 12, fill: colour, rx: 3 }),
          svg('text', { x: 130 + w, y: y + row / 2 + 4, class: 'bar-value' }, fmt.int(b.cases)));
      }));
    replace(el.backlog,
      h('h2', { id: 'backlog-h' }, 'Open backlog by age'),
      chart,
      h('table', { class: 'sr-only' },
        h('caption', {}, 'Open cases by age'),
        h('tbody', {}, buckets.map((b) => h('tr', {}, h('th', { scope: 'row' }, b.age), h('td', {}, fmt.int(b.cases)))))));
  }

  function tick() {
    el.age.textContent = dataAsOf ? `${fmt.dateTime(dataAsOf)} (${fmt.ago(dataAsOf)})` : 'no data yet';
  }

  cycle().then(() => {
    tick();
    // The measure the first-paint bench reads: navigation start to every panel drawn.
    performance.mark('wallboard-painted');
    // After the first paint, so the (heavier) grouped query never delays it.
    loadFilterChoices(teamSelect, channelSelect, filters, anchor());
  });
  setInterval(cycle, every * 1000);
  setInterval(tick, 1000);
}

/** The resolution count's caption, with the first-response count when the summary has one. */
function perTarget(kpis, key, caption) {
  const first = kpis?.[`first_response_${key}`];
  return first ? `resolution target; first response: ${fmt.int(first.value)}` : caption;
}

function tile(id, label, value, sub, tone) {
  return h('div', { class: `tile ${tone || ''}`, id },
    h('span', { class: 'tile-label' }, label),
    h('span', { class: 'big', dataset: { value: value } }, value),
    h('span', { class: 'sub' }, tone === 'alert' ? `⚠ ${sub}` : sub));
}

function rateBlock(id, label, rate, weekRate) {
  return h('div', { class: 'rate', id },
    h('span', { class: 'rate-label' }, label),
    h('span', { class: 'big' }, fmt.pct(rate?.value)),
    h('span', { class: 'sub' }, `${rateText(rate)} today · week ${fmt.pct(weekRate?.value)} (${rateText(weekRate)})`),
    meter(rate?.value));
}

/** A bar 0–100 % under a rate (its text says the same: the bar is not the only cue). */
function meter(value) {
  const v = value === null || value === undefined ? 0 : Math.max(0, Math.min(1, value));
  return svg('svg', { class: 'meter', viewBox: '0 0 100 6', preserveAspectRatio: 'none', 'aria-hidden': 'true' },
    svg('rect', { x: 0, y: 0, width: 100, height: 6, fill: '#d9d9d9' }),
    svg('rect', { x: 0, y: 0, width: 100 * v, height: 6, fill: COLORS.blue }));
}

/** Team and channel choices of the last five weeks, read once (not on every poll). */
async function loadFilterChoices(teamSelect, channelSelect, filters, anchor) {
  try {
    const to = addDays(startOfDay(anchor), 1);
    const from = addDays(to, -35);
    const reply = await api(`/v1/kpis/summary?${query({ from: iso(from), to: iso(to), group_by: 'owner_team,channel' })}`);
    const teams = new Set();
    const channels = new Set();
    for (const g of reply.data.groups) {
      if (g.group.owner_team) teams.add(g.group.owner_team);
      if (g.group.channel) channels.add(g.group.channel);
    }
    for (const [select, values, current] of [[teamSelect, teams, filters.owner_team], [channelSelect, channels, filters.channel]]) {
      for (const v of [...values].sort()) {
        if (v !== current) select.append(h('option', { value: v }, v));
      }
    }
  } catch {
    // The filters still work from the URL; the lists are a convenience.
  } finally {
    stats.filtersLoaded = true;
  }
}
