// Scoring: the models and which is active, the runs, a run's deciles, its lift chart and AUC
// once outcomes are in, and its stability (PSI) against a baseline run. Run and baseline live
// in the URL.
import { $, api, ApiError, fmt, h, params, replace, setParams, showError, sortableTable, startPage } from './app.js';
import { barChart } from './charts.js';

if (startPage('scoring.html')) start();

async function start() {
  const main = $('#main');
  const models = h('div', { id: 'models' });
  const runs = h('div', { id: 'runs', class: 'scroll' });
  const runSelect = h('select', { id: 'run', name: 'run' });
  const baselineSelect = h('select', { id: 'baseline', name: 'baseline' });
  const deciles = h('section', { class: 'panel', id: 'deciles', 'aria-labelledby': 'deciles-h' });
  const lift = h('section', { class: 'panel', id: 'lift', 'aria-labelledby': 'lift-h' });
  const stability = h('section', { class: 'panel', id: 'stability', 'aria-labelledby': 'stability-h' });
  replace(main,
    h('h1', {}, 'Scoring'),
    h('div', { class: 'grid2' },
      h('section', { class: 'panel', 'aria-labelledby': 'models-h' }, h('h2', { id: 'models-h' }, 'Models'), models),
      h('section', { class: 'panel', 'aria-labelledby': 'runs-h' }, h('h2', { id: 'runs-h' }, 'Scoring runs'), runs)),
    h('form', { class: 'controls', onsubmit: (e) => e.preventDefault() },
      h('label', { for: 'run' }, 'Run', runSelect),
      h('label', { for: 'baseline' }, 'Stability baseline', baselineSelect)),
    h('div', { class: 'grid3' }, deciles, lift, stability));

  let runList = [];
  try {
    const [m, r] = await Promise.all([api('/v1/models'), api('/v1/scoring-runs')]);
    drawModels(models, m.data);
    runList = r.data;
    drawRuns(runs, runList);
  } catch (error) {
    showError(models, error);
    return;
  }
  const succeeded = runList.filter((r) => r.status === 'succeeded');
  if (!succeeded.length) {
    replace(deciles, h('p', { class: 'muted' }, 'No finished scoring run yet: start one with POST /v1/scoring-runs or switchboard score-batch.'));
    return;
  }
  const url = params();
  const runId = Number(url.get('run')) || succeeded[0].id;
  for (const r of succeeded) {
    runSelect.append(h('option', { value: r.id, selected: r.id === runId }, `#${r.id} · ${fmt.date(r.started_at)} · ${fmt.int(r.accounts_scored)} accounts`));
  }
  function fillBaselines(current) {
    const chosen = Number(params().get('baseline'));
    const options = succeeded.filter((r) => r.id !== current);
    const fallback = options.find((r) => r.make_reference) || options.find((r) => r.id < current) || options[0];
    baselineSelect.replaceChildren(...options.map((r) =>
      h('option', { value: r.id, selected: r.id === (chosen || fallback?.id) }, `#${r.id}${r.make_reference ? ' (reference)' : ''}`)));
    baselineSelect.disabled = !options.length;
  }
  async function load() {
    const run = Number(runSelect.value);
    const baseline = Number(baselineSelect.value) || null;
    setParams({ run, baseline });
    await Promise.all([loadDeciles(run), loadLift(run), loadStability(run, baseline)]);
  }
  runSelect.addEventListener('change', () => { setParams({ baseline: '' }); fillBaselines(Number(runSelect.value)); load(); });
  baselineSelect.addEventListener('change', load);
  fillBaselines(runId);
  load();

  async function loadDeciles(run) {
    try {
      const d = (await api(`/v1/scoring-runs/${run}/deciles`)).data;
      replace(deciles, h('h2', { id: 'deciles-h' }, `Deciles of run #${run}`), h('div', { class: 'chart', id: 'deciles-chart' }),
        sortableTable([
          { label: 'Decile', numeric: true, value: (r) => r.decile, format: fmt.int },
          { label: 'Accounts', numeric: true, value: (r) => r.accounts, format: fmt.int },
          { label: 'Mean probability', numeric: true, value: (r) => r.mean_probability, format: fmt.prob },
        ], d.deciles, { sortBy: 0, descending: false, id: 'deciles-table' }));
      barChart(deciles.querySelector('.chart'), {
        title: 'Mean probability per decile (1 = highest scores)',
        labels: d.deciles.map((r) => String(r.decile)),
        series: [{ label: 'Mean probability', values: d.deciles.map((r) => r.mean_probability) }],
        yFormat: fmt.prob,
      });
    } catch (error) {
      showError(deciles, error);
    }
  }

  async function loadLift(run) {
    try {
      const l = (await api(`/v1/scoring-runs/${run}/lift`)).data;
      replace(lift,
        h('h2', { id: 'lift-h' }, 'Lift'),
        h('p', {}, h('span', { class: 'big-figure', id: 'auc' }, l.roc_auc === null ? '–' : fmt.num(l.roc_auc, 3)), ' ROC AUC'),
        h('p', { class: 'muted' }, `${fmt.int(l.labelled)} accounts with outcomes, ${fmt.int(l.positives)} positive (base rate ${fmt.prob(l.base_rate)}).`),
        h('div', { class: 'chart', id: 'lift-chart' }),
        sortableTable([
          { label: 'Decile', numeric: true, value: (r) => r.decile, format: fmt.int },
          { label: 'Accounts', numeric: true, value: (r) => r.accounts, format: fmt.int },
          { label: 'Positives', numeric: true, value: (r) => r.positives, format: fmt.int },
          { label: 'Rate', numeric: true, value: (r) => r.actual_rate, format: fmt.prob },
          { label: 'Lift', numeric: true, value: (r) => r.lift, format: (v) => fmt.num(v, 2) },
          { label: 'Cum. captured', numeric: true, value: (r) => r.cumulative_captured, format: fmt.pct },
          { label: 'Cum. lift', numeric: true, value: (r) => r.cumulative_lift, format: (v) => fmt.num(v, 2) },
        ], l.deciles, { sortBy: 0, descending: false, id: 'lift-table' }));
      barChart(lift.querySelector('.chart'), {
        title: 'Lift per decile; 1 = no better than random',
        labels: l.deciles.map((r) => String(r.decile)),
        series: [{ label: 'Lift', values: l.deciles.map((r) => r.lift) }],
        line: { label: 'Cumulative lift', values: l.deciles.map((r) => r.cumulative_lift) },
        reference: 1,
        yFormat: (v) => fmt.num(v, 1),
      });
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) {
        replace(lift, h('h2', { id: 'lift-h' }, 'Lift'), h('p', { class: 'muted', id: 'lift-none' }, 'No outcomes for this run yet: lift and AUC appear once outcomes are posted.'));
      } else showError(lift, error);
    }
  }

  async function loadStability(run, baseline) {
    if (!baseline) {
      replace(stability, h('h2', { id: 'stability-h' }, 'Stability'), h('p', { class: 'muted' }, 'A second finished run is needed to compare populations.'));
      return;
    }
    try {
      const s = (await api(`/v1/scoring-runs/${run}/stability?baseline=${baseline}`)).data;
      const verdict = s.psi < 0.1 ? 'stable' : s.psi < 0.25 ? 'some shift' : 'shifted population';
      replace(stability,
        h('h2', { id: 'stability-h' }, `Stability against run #${s.baseline_run_id}`),
        h('p', {}, h('span', { class: 'big-figure', id: 'psi' }, fmt.num(s.psi, 4)), ` PSI: ${verdict}`),
        h('p', { class: 'muted' }, 'Below 0.1 is usually read as stable, above 0.25 as a shifted population.'),
        h('div', { class: 'chart', id: 'psi-chart' }));
      barChart(stability.querySelector('.chart'), {
        title: 'Share of accounts per baseline decile',
        labels: s.deciles.map((r) => String(r.decile)),
        series: [
          { label: `Baseline #${s.baseline_run_id}`, values: s.deciles.map((r) => r.reference_share) },
          { label: `Run #${s.run_id}`, values: s.deciles.map((r) => r.share) },
        ],
        yFormat: fmt.pct,
      });
    } catch (error) {
      showError(stability, error);
    }
  }
}

function drawModels(el, models) {
  replace(el, models.length
    ? sortableTable([
      { label: 'Id', numeric: true, value: (m) => m.id, format: fmt.int },
      { label: 'Name', value: (m) => m.name },
      { label: 'Version', value: (m) => m.version_label },
      { label: 'Library', value: (m) => m.library },
      { label: 'Trees', numeric: true, value: (m) => m.trees, format: fmt.int },
      { label: 'Registered', value: (m) => m.created_at, format: fmt.dateTime },
      { label: 'Active', value: (m) => (m.active ? 1 : 0), render: (m) => (m.active ? h('span', { class: 'badge active' }, 'active') : '') },
    ], models, { sortBy: 0, id: 'models-table' })
    : h('p', { class: 'muted' }, 'No model registered.'));
}

function drawRuns(el, runs) {
  replace(el, runs.length
    ? sortableTable([
      { label: 'Run', numeric: true, value: (r) => r.id, format: fmt.int },
      { label: 'Model', numeric: true, value: (r) => r.model_id, format: fmt.int },
      { label: 'Status', value: (r) => r.status, render: (r) => h('span', { class: `badge ${r.status === 'succeeded' ? 'good' : r.status === 'failed' ? 'bad' : ''}` }, r.status) },
      { label: 'Accounts', numeric: true, value: (r) => r.accounts_scored, format: fmt.int },
      { label: 'Started', value: (r) => r.started_at, format: fmt.dateTime },
      { label: 'Reference', value: (r) => (r.make_reference ? 'yes' : '') },
    ], runs, { sortBy: 0, id: 'runs-table' })
    : h('p', { class: 'muted' }, 'No scoring run yet.'));
}
