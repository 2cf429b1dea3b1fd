// Sign-in with an API key (kept in this tab's session storage only) and the list of pages the
// key's role may open.
import { $, api, ApiError, h, pagesFor, params, replace, session } from './app.js';

const main = $('#main');

function signInForm(message) {
  const input = h('input', { id: 'key', name: 'key', type: 'password', autocomplete: 'off', required: true, spellcheck: 'false', 'aria-describedby': 'key-help' });
  const status = h('p', { id: 'signin-status', role: 'status' }, message || '');
  const form = h('form', { id: 'signin', class: 'card' },
    h('h1', {}, 'Sign in to Switchboard'),
    h('label', { for: 'key' }, 'API key'),
    input,
    h('p', { id: 'key-help', class: 'help' },
      'A key made with ', h('code', {}, 'switchboard keys create'),
      '. It stays in this browser tab only (session storage) and is sent to this server alone.'),
    h('button', { type: 'submit' }, 'Sign in'),
    status);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    status.textContent = 'Checking the key…';
    session.save(input.value.trim(), '', '');
    try {
      const who = (await api('/v1/whoami')).data;
      session.save(input.value.trim(), who.role, who.key_name);
      const next = params().get('next');
      const allowed = pagesFor(who.role);
      const target = next && allowed.some((p) => next.split('?')[0] === p.href) ? next : allowed[0].href;
      location.href = target;
    } catch (error) {
      session.clear();
      status.textContent = error instanceof ApiError && error.status === 401
        ? 'That key was not accepted.'
        : `Sign-in failed: ${error.message}`;
      status.className = 'error';
    }
  });
  replace(main, form);
  input.focus();
}

function pageList() {
  replace($('#top'),
    h('a', { class: 'brand', href: 'index.html' }, 'Switchboard'),
    h('span', { class: 'who' }, `${session.name} · ${session.role}`),
    h('button', { type: 'button', class: 'signout', onclick: () => { session.clear(); signInForm('Signed out.'); } }, 'Sign out'));
  const descriptions = {
    'wallboard.html': 'Today and this week at a glance, refreshed every few seconds.',
    'trends.html': 'KPIs per hour, day or week; agents and teams.',
    'process.html': 'The directly-follows graph, variants and cases.',
    'scoring.html': 'Models, scoring runs, deciles, lift and stability.',
    'lookup.html': 'One account’s probability, decile and reason codes.',
  };
  replace(main,
    h('section', { class: 'card', id: 'pages' },
      h('h1', {}, 'Pages'),
      h('ul', { class: 'pages' },
        pagesFor(session.role).filter((p) => !p.hidden).map((p) =>
          h('li', {}, h('a', { href: p.href }, p.label), ' — ', descriptions[p.href] || '')))));
}

if (session.key && session.role) pageList();
else signInForm();
