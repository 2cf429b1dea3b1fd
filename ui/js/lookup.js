// One account: its latest stored score (GET /v1/accounts/{id}/score: probability, decile, run)
// and, given its features, a live score with reason codes (POST /v1/scores with explain).
import { $, api, ApiError, fmt, h, params, replace, setParams, showError, startPage, svg } from './app.js';

if (startPage('lookup.html')) start();

function start() {
  const main = $('#main');
  const account = h('input', { id: 'account', name: 'account', required: true, size: 22, value: params().get('account') || '' });
  const features = h('textarea', { id: 'features', name: 'features', spellcheck: 'false', placeholder: '{"n_mobile_lines": 2, "usage_gb_m1": 31.5}' });
  const form = h('form', { class: 'card', id: 'lookup-form' },
    h('div', { class: 'controls' }, h('label', { for: 'account' }, 'Account id', account)),
    h('label', { for: 'features' }, 'Features (JSON, optional: gives reason codes)'), features,
    h('p', {}, h('button', { type: 'submit', class: 'primary' }, 'Look up')));
  const stored = h('section', { class: 'panel', id: 'stored', 'aria-live': 'polite' });
  const live = h('section', { class: 'panel', id: 'live', 'aria-live': 'polite' });
  replace(main, h('h1', {}, 'Account look-up'), form, h('div', { class: 'grid2' }, stored, live));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    lookUp();
  });

  async function lookUp() {
    const id = account.value.trim();
    setParams({ account: id });
    replace(stored, h('p', { class: 'muted' }, 'Looking up…'));
    try {
      const s = (await api(`/v1/accounts/${encodeURIComponent(id)}/score`)).data;
      replace(stored,
        h('h2', {}, 'Latest stored score'),
        h('p', {}, h('span', { class: 'big-figure', id: 'stored-probability' }, fmt.prob(s.probability)), ' probability'),
        h('p', {}, h('span', { class: 'big-figure', id: 'stored-decile' }, fmt.int(s.decile)), ' decile (1 = highest scores)'),
        h('p', { class: 'muted' }, `Run #${s.run_id}, model #${s.model_id}, scored ${fmt.dateTime(s.scored_at)}.`));
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        replace(stored, h('h2', {}, 'Latest stored score'), h('p', { class: 'muted', id: 'stored-none' }, 'No stored score for this account.'));
      } else showError(stored, error);
    }
    const text = features.value.trim();
    if (!text) {
      replace(live, h('h2', {}, 'Reason codes'), h('p', { class: 'muted' }, 'Give the account’s features to score it now and see why.'));
      return;
    }
    let parsed;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      replace(live, h('p', { class: 'error', role: 'alert' }, `The features are not valid JSON: ${error.message}`));
      return;
    }
    try {
      const reply = (await api('/v1/scores', { method: 'POST', body: { account_id: id, features: parsed, explain: 8 } })).data;
      const score = reply.scores[0];
      const reasons = score.explanation?.reasons || [];
      const max = Math.max(1e-9, ...reasons.map((r) => Math.abs(r.contribution)));
      const rowH = 30;
      replace(live,
        h('h2', {}, 'Score now, with reason codes'),
        h('p', {}, h('span', { class: 'big-figure', id: 'live-probability' }, fmt.prob(score.probability)), ' probability · decile ',
          h('strong', { id: 'live-decile' }, fmt.int(score.decile))),
        h('p', { class: 'muted' }, `Model ${reply.model_name} ${reply.model_version}; ${fmt.int(score.missing_features)} features missing.`),
        svg('svg', { class: 'reasons', id: 'reasons', viewBox: `0 0 820 ${reasons.length * rowH + 10}`, role: 'img', 'aria-label': 'Reason codes' },
          svg('line', { x1: 560, x2: 560, y1: 0, y2: reasons.length * rowH + 10, stroke: '#1a1a1a' }),
          reasons.map((r, i) => {
            const w = (170 * Math.abs(r.contribution)) / max;
            const y = i * rowH + 5;
            return svg('g', {},
              svg('text', { x: 10, y: y + 19, class: 'tick' }, `${r.feature} = ${r.value === null ? 'missing' : fmt.num(r.value, 3)}`),
              svg('rect', { x: r.contribution >= 0 ? 560 : 560 - w, y: y + 4, width: Math.max(1, w), height: rowH - 10, class: r.contribution >= 0 ? 'pos' : 'neg' }),
              svg('text', { x: r.contribution >= 0 ? 565 + w : 555 - w, y: y + 19, 'text-anchor': r.contribution >= 0 ? 'start' : 'end', class: 'tick' },
                `${r.contribution >= 0 ? '+' : ''}${fmt.num(r.contribution, 3)}`));
          })),
        h('p', { class: 'muted' }, 'Contributions to the log-odds: right (+) raises the probability, left (−) lowers it.'),
        h('table', { class: 'data', id: 'reasons-table' },
          h('thead', {}, h('tr', {}, ['Feature', 'Value', 'Contribution'].map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', {}, reasons.map((r) => h('tr', {}, h('td', {}, r.feature), h('td', { class: 'num' }, r.value === null ? 'missing' : fmt.num(r.value, 3)), h('td', { class: 'num' }, fmt.num(r.contribution, 4)))))));
    } catch (error) {
      showError(live, error);
    }
  }

  if (account.value) lookUp();
}
