// What every page shares: the signed-in key (session storage of this tab only), API calls
// with conditional polling, role-aware navigation, DOM helpers and locale-aware formatting.
// Plain ES modules, no build step: the files under ui/ are what the browser runs.

const KEY = 'switchboard.key';
const ROLE = 'switchboard.role';
const NAME = 'switchboard.keyName';

export const session = {
  get key() { return sessionStorage.getItem(KEY); },
  get role() { return sessionStorage.getItem(ROLE); },
  get name() { return sessionStorage.getItem(NAME); },
  save(key, role, name) {
    sessionStorage.setItem(KEY, key);
    sessionStorage.setItem(ROLE, role);
    sessionStorage.setItem(NAME, name);
  },
  clear() {
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(ROLE);
    sessionStorage.removeItem(NAME);
  },
};

const KPI_ROLES = ['viewer', 'admin'];
const SCORING_ROLES = ['scorer', 'admin'];

/** The pages, in menu order, and the roles that may open each. */
export const PAGES = [
  { href: 'wallboard.html', label: 'Wallboard', roles: KPI_ROLES },
  { href: 'trends.html', label: 'Trends', roles: KPI_ROLES },
  { href: 'process.html', label: 'Process', roles: KPI_ROLES },
  { href: 'case.html', label: 'Case', roles: KPI_ROLES, hidden: true },
  { href: 'scoring.html', label: 'Scoring', roles: SCORING_ROLES },
  { href: 'lookup.html', label: 'Account look-up', roles: SCORING_ROLES },
];

export function pagesFor(role) {
  return PAGES.filter((p) => p.roles.includes(role));
}

/** Counters the browser tests read: requests made, 304s, bytes of bodies, panel redraws. */
export const stats = { requests: 0, notModified: 0, bodies: 0, bodyBytes: 0, draws: {} };
window.__switchboard = stats;

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

/**
 * Calls the API with the session's key. With `etag`, sends If-None-Match and resolves to
 * `{status: 304}` when nothing changed (the browser hands the 304 through because the
 * request bypasses its cache). Otherwise `{status, etag, data}`; a problem throws ApiError.
 */
export async function api(path, { method = 'GET', body, etag, contentType } = {}) {
  const headers = { Authorization: `Bearer ${session.key}` };
  if (etag) headers['If-None-Match'] = etag;
  let payload = body;
  if (body !== undefined && typeof body !== 'string') {
    payload = JSON.stringify(body);
    headers['Content-Type'] = 'application/json';
  } else if (contentType) {
    headers['Content-Type'] = contentType;
  }
  stats.requests += 1;
  const response = await fetch(path, { method, headers, body: payload, cache: 'no-store' });
  if (response.status === 304) {
    stats.notModified += 1;
    return { status: 304, etag };
  }
  const text = await response.text();
  stats.bodies += 1;
  stats.bodyBytes += text.length;
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  const onSignIn = !/\.html$/.test(location.pathname) || location.pathname.endsWith('/index.html');
  if (response.status === 401 && !onSignIn) {
    // The key was revoked or expired: sign in again, then come back here.
    session.clear();
    location.href = `index.html?next=${encodeURIComponent(location.pathname.split('/').pop() + location.search)}`;
    throw new ApiError(401, data);
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return { status: response.status, etag: response.headers.get('ETag'), data };
}

/**
 * A panel that polls one URL: a 304 neither redraws nor transfers a body; a new URL (filters
 * or day changed) forgets the ETag.
 */
export class Panel {
  constructor(name, render) {
    this.name = name;
    this.render = render;
    this.url = null;
    this.etag = null;
    this.data = null;
    stats.draws[name] = 0;
  }

  async refresh(url) {
    if (url !== this.url) {
      this.url = url;
      this.etag = null;
    }
    const reply = await api(url, { etag: this.etag });
    if (reply.status === 304) return false;
    this.etag = reply.etag;
    this.data = reply.data;
    stats.draws[this.name] += 1;
    this.render(reply.data);
    return true;
  }
}

// ---------------------------------------------------------------------------------------------
// DOM

/** `h('p', {class: 'x'}, 'text', child)`: an element; attributes never carry script or style. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null) continue;
    el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function $(selector) {
  return document.querySelector(selector);
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/** Shows an error where the data would be. */
export function showError(el, error) {
  const text = error instanceof ApiError ? `${error.message} (HTTP ${error.status})` : String(error.message || error);
  replace(el, h('p', { class: 'error', role: 'alert' }, text));
}

// ---------------------------------------------------------------------------------------------
// Pages: sign-in guard and header

/**
 * Checks the session and the role for this page and draws the header. Returns false (and
 * explains why in the main area) when the page must not load.
 */
export function startPage(pageHref) {
  const page = PAGES.find((p) => p.href === pageHref);
  if (!session.key) {
    location.href = `index.html?next=${encodeURIComponent(pageHref + location.search)}`;
    return false;
  }
  drawHeader(pageHref);
  if (page && !page.roles.includes(session.role)) {
    const main = $('#main');
    replace(
      main,
      h('section', { class: 'denied', id: 'denied', role: 'alert' },
        h('h1', {}, `${page.label}: not for this key`),
        h('p', {}, `This page needs a ${page.roles.join(' or ')} key; you are signed in as “${session.name}” with the ${session.role} role.`),
        h('p', {}, h('a', { href: 'index.html' }, 'Back to the pages you can open'))),
    );
    return false;
  }
  return true;
}

function drawHeader(current) {
  const header = $('#top');
  if (!header) return;
  const links = pagesFor(session.role)
    .filter((p) => !p.hidden)
    .map((p) => h('li', {}, h('a', { href: p.href, 'aria-current': p.href === current ? 'page' : null }, p.label)));
  replace(
    header,
    h('a', { class: 'brand', href: 'index.html' }, 'Switchboard'),
    h('nav', { 'aria-label': 'Pages' }, h('ul', {}, links)),
    h('span', { class: 'who' }, `${session.name} · ${session.role}`),
    h('button', { type: 'button', class: 'signout', onclick: () => { session.clear(); location.href = 'index.html'; } }, 'Sign out'),
  );
}

// ---------------------------------------------------------------------------------------------
// URL state: filters live in the query string so a page can be bookmarked.

export function params() {
  return new URLSearchParams(location.search);
}

export function setParams(values) {
  const p = params();
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined || v === null || v === '') p.delete(k);
    else p.set(k, v);
  }
  const query = p.toString();
  history.replaceState(null, '', query ? `?${query}` : location.pathname);
}

/** A query string from an object, dropping empty values. */
export function query(values) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(values)) {
    if (v !== undefined && v !== null && v !== '') p.set(k, v);
  }
  return p.toString();
}

// ---------------------------------------------------------------------------------------------
// Time

export const DAY_MS = 86_400_000;

export function startOfDay(date) {
  const d = new Date(date);
  d.setHours(0, 0, 0, 0);
  return d;
}

export function addDays(date, days) {
  const d = new Date(date);
  d.setDate(d.getDate() + days);
  return d;
}

/** Monday 00:00 of the date's week, local time. */
export function startOfWeek(date) {
  const d = startOfDay(date);
  return addDays(d, -((d.getDay() + 6) % 7));
}

export function iso(date) {
  return new Date(date).toISOString().replace('.000Z', 'Z');
}

/** `YYYY-MM-DD` of a date in local time (for date inputs). */
export function ymd(date) {
  const d = new Date(date);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

export function parseYmd(text) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text || '');
  return m ? new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : null;
}

/**
 * The latest data's instant (`data_as_of`), read from a one-second summary that costs the
 * server next to nothing; null when nothing is stored.
 */
export async function dataAsOf() {
  const now = new Date();
  const reply = await api(`/v1/kpis/summary?${query({ from: iso(new Date(now.getTime() - 1000)), to: iso(now) })}`);
  return reply.data.data_as_of ? new Date(reply.data.data_as_of) : null;
}

/**
 * The day analyst pages look at by default: today, or the data's last day when the data is
 * older (an imported or replayed log).
 */
export async function referenceDay() {
  const latest = await dataAsOf();
  const today = startOfDay(new Date());
  return latest && latest < today ? startOfDay(latest) : today;
}

// ---------------------------------------------------------------------------------------------
// Formatting, in the browser's locale

const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
const percent = new Intl.NumberFormat(undefined, { style: 'percent', maximumFractionDigits: 1 });
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });
const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

export const fmt = {
  int: (v) => (v === null || v === undefined ? '–' : integer.format(v)),
  num: (v, digits = 2) =>
    v === null || v === undefined
      ? '–'
      : new Intl.NumberFormat(undefined, { maximumFractionDigits: digits }).format(v),
  dec: (v) => (v === null || v === undefined ? '–' : decimal.format(v)),
  pct: (v) => (v === null || v === undefined ? '–' : percent.format(v)),
  prob: (v) =>
    v === null || v === undefined
      ? '–'
      : new Intl.NumberFormat(undefined, { style: 'percent', maximumSignificantDigits: 3 }).format(v),
  dateTime: (v) => (v ? dateTime.format(new Date(v)) : '–'),
  date: (v) => (v ? dateOnly.format(new Date(v)) : '–'),
  time: (v) => (v ? timeOnly.format(new Date(v)) : '–'),
  /** A duration in seconds, in the largest unit that keeps it readable. */
  dur(seconds) {
    if (seconds === null || seconds === undefined) return '–';
    const s = Math.abs(seconds);
    const sign = seconds < 0 ? '−' : '';
    if (s < 90) return `${sign}${integer.format(s)} s`;
    if (s < 5400) return `${sign}${decimal.format(s / 60)} min`;
    if (s < 172_800) return `${sign}${decimal.format(s / 3600)} h`;
    return `${sign}${decimal.format(s / 86_400)} d`;
  },
  /** "3 minutes ago" from an instant. */
  ago(v) {
    if (!v) return '–';
    const seconds = (new Date(v).getTime() - Date.now()) / 1000;
    const s = Math.abs(seconds);
    if (s < 60) return relative.format(Math.round(seconds), 'second');
    if (s < 3600) return relative.format(Math.round(seconds / 60), 'minute');
    if (s < 86_400) return relative.format(Math.round(seconds / 3600), 'hour');
    return relative.format(Math.round(seconds / 86_400), 'day');
  },
};

/** Okabe–Ito colours: told apart with every common colour-vision deficiency. */
export const COLORS = {
  blue: '#0072B2',
  orange: '#E69F00',
  sky: '#56B4E9',
  green: '#009E73',
  yellow: '#F0E442',
  vermillion: '#D55E00',
  purple: '#CC79A7',
  grey: '#6B6B6B',
};

/** A rate's value with its numerator and denominator, as the API gives it. */
export function rateText(rate) {
  if (!rate) return '–';
  return `${fmt.int(rate.numerator)} of ${fmt.int(rate.denominator)}`;
}

/** Human names of the KPIs the pages show. */
export function kpiLabel(key) {
  const known = {
    sla_compliance: 'Resolution SLA',
    first_response_sla_compliance: 'First-response SLA',
    fcr_no_reactivation: 'FCR: no reactivation',
    fcr_no_repeat: 'FCR: no repeat contact',
    fcr_single_interaction: 'FCR: single interaction',
  };
  if (known[key]) return known[key];
  const text = key.replace(/_/g, ' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Every SLA compliance rate a KPI object carries (resolution, first response, later more). */
export function slaRates(kpis) {
  const keys = Object.keys(kpis).filter((k) => k.endsWith('sla_compliance') && kpis[k]);
  // Resolution first, then the others in a stable order.
  keys.sort((a, b) => (a === 'sla_compliance' ? -1 : b === 'sla_compliance' ? 1 : a.localeCompare(b)));
  return keys.map((k) => ({ key: k, label: kpiLabel(k), rate: kpis[k] }));
}

// ---------------------------------------------------------------------------------------------
// Sortable tables

/**
 * A table sortable by any column with keyboard-reachable header buttons.
 * `columns`: [{label, value: row => number|string|null, format?: v => string, numeric?}]
 */
export function sortableTable(columns, rows, { caption, sortBy = 0, descending = true, id } = {}) {
  const table = h('table', { class: 'data sortable', id });
  if (caption) table.append(h('caption', {}, caption));
  const thead = h('thead');
  const tbody = h('tbody');
  table.append(thead, tbody);
  let state = { column: sortBy, descending };

  function draw() {
    const col = columns[state.column];
    const sorted = [...rows].sort((a, b) => {
      const x = col.value(a);
      const y = col.value(b);
      if (x === y) return 0;
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      const order = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
      return state.descending ? -order : order;
    });
    replace(
      thead,
      h('tr', {},
        columns.map((c, i) =>
          h('th', {
            scope: 'col',
            class: c.numeric ? 'num' : null,
            'aria-sort': i === state.column ? (state.descending ? 'descending' : 'ascending') : 'none',
          },
          h('button', {
            type: 'button',
            onclick: () => {
              state = { column: i, descending: i === state.column ? !state.descending : Boolean(c.numeric) };
              draw();
              thead.querySelectorAll('button')[i].focus();
            },
          }, c.label, h('span', { class: 'arrow', 'aria-hidden': 'true' }, i === state.column ? (state.descending ? ' ▼' : ' ▲') : ''))))),
    );
    replace(
      tbody,
      sorted.map((row) =>
        h('tr', {},
          columns.map((c) => {
            const v = c.value(row);
            const content = c.render ? c.render(row) : c.format ? c.format(v) : v ?? '–';
            return h('td', { class: c.numeric ? 'num' : null }, content);
          }))),
    );
  }
  draw();
  return table;
}

/** A labelled value for attribute grids. */
export function fact(label, value) {
  return h('div', { class: 'fact' }, h('dt', {}, label), h('dd', {}, value ?? '–'));
}
