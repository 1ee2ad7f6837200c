// The session-host dashboard: renders each message of GET /events (one a second).
// Plain DOM and SVG, no library; every text from the server goes through textContent.
'use strict';
const csrf = document.querySelector('meta[name="csrf-token"]').content;
const view = { offset: 0, limit: 20, pool: null };
const samples = [];
let source = null;

function $(id) { return document.getElementById(id); }
function fmt(x, digits = 0) { return x === null || x === undefined ? '–' : Number(x).toFixed(digits); }
function pct(x) { return x === null || x === undefined ? '–' : (100 * x).toFixed(1) + ' %'; }
function cell(tr, text) { const td = document.createElement('td'); td.textContent = text; tr.appendChild(td); return td; }

function connect() {
  if (source) source.close();
  const q = new URLSearchParams({ offset: view.offset, limit: view.limit });
  if (view.pool) q.set('pool', view.pool);
  source = new EventSource('/events?' + q);
  source.addEventListener('tick', (e) => render(JSON.parse(e.data)));
  source.onopen = () => { $('connection').textContent = 'live'; $('connection').className = 'on'; };
  source.onerror = () => { $('connection').textContent = 'reconnecting…'; $('connection').className = 'off'; };
}

function render(m) {
  const t = m.totals;
  $('total-pools').textContent = t.pools;
  $('total-closed').textContent = t.closed;
  $('total-sessions').textContent = `${t.idle} / ${t.busy} / ${t.missing}`;
  $('total-in-flight').textContent = t.in_flight;
  $('total-uses').textContent = t.uses;
  $('total-rate').textContent = fmt(t.rate, 1);
  $('total-success').textContent = pct(t.success_rate);
  $('total-bans').textContent = `${t.bans} / ${t.check_failures}`;
  samples.push([t.rate, t.in_flight]);
  if (samples.length > 120) samples.shift();
  chart();
  rows($('offenders'), m.offenders);
  rows($('pools'), m.page.pools);
  const last = Math.min(m.page.offset + m.page.limit, m.page.total);
  $('page-info').textContent = `${m.page.total ? m.page.offset + 1 : 0}–${last} of ${m.page.total}`;
  $('prev').disabled = m.page.offset === 0;
  $('next').disabled = last >= m.page.total;
  timeline(m.timeline);
  configs(m.configs);
  latency(m.latency);
}

function rows(table, pools) {
  const body = table.tBodies[0];
  body.replaceChildren();
  for (const p of pools) {
    const tr = document.createElement('tr');
    tr.dataset.pool = p.id;
    if (p.closed) tr.className = 'closed';
    cell(tr, p.id);
    cell(tr, p.closed ? 'closed: ' + p.closed : 'open').className = 'state';
    for (const k of ['idle', 'busy', 'missing', 'in_flight']) cell(tr, p[k]).className = k;
    cell(tr, fmt(p.rate, 1)).className = 'rate';
    cell(tr, pct(p.success_rate));
    cell(tr, p.bans);
    cell(tr, p.check_failures);
    const td = cell(tr, '');
    if (p.closed) {
      const b = document.createElement('button');
      b.type = 'button'; b.className = 'reopen'; b.textContent = 'Reopen';
      b.addEventListener('click', (e) => { e.stopPropagation(); reopen(p.id, b); });
      td.appendChild(b);
    }
    tr.addEventListener('click', () => { view.pool = p.id; connect(); });
    body.appendChild(tr);
  }
}

async function reopen(id, button) {
  button.disabled = true;
  const r = await fetch('/dashboard/pools/' + encodeURIComponent(id) + '/reopen', {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: '{}',
  });
  if (!r.ok) { button.disabled = false; button.textContent = 'Reopen failed: ' + r.status; }
}

function timeline(t) {
  const box = $('timeline');
  box.replaceChildren();
  if (!t) return;
  $('timeline-pool').textContent = 'pool ' + t.pool + (t.closed ? ' (closed: ' + t.closed + ')' : '');
  for (const s of t.sessions) {
    const div = document.createElement('div');
    div.className = 'session ' + s.state;
    const head = document.createElement('div');
    const why = s.retired_because ? ` — retired: ${s.retired_because}` : '';
    head.textContent = `${s.id} · ${s.state} · age ${fmt(s.age_secs, 1)} s · ${s.uses} uses · ${s.check_failures} failed checks · ${s.errors} errors${why}`;
    const ol = document.createElement('ol');
    for (const h of s.history) { const li = document.createElement('li'); li.textContent = h; ol.appendChild(li); }
    div.append(head, ol);
    box.appendChild(div);
  }
}

function configs(c) {
  const body = $('configs').tBodies[0];
  body.replaceChildren();
  for (const x of c.configs) {
    const tr = document.createElement('tr');
    cell(tr, x.name); cell(tr, x.version || '(memory)');
    cell(tr, new Date(x.loaded_at * 1000).toLocaleString());
    const rules = 'include ' + x.include.join(', ') + (x.exclude.length ? '; exclude ' + x.exclude.join(', ') : '') + '; priority ' + x.priority;
    cell(tr, rules); cell(tr, x.calls); cell(tr, x.failures);
    body.appendChild(tr);
  }
  const ul = $('problems');
  ul.replaceChildren();
  for (const p of c.problems) {
    const li = document.createElement('li');
    li.textContent = `${p.config}: ${p.error}` + (p.serving ? ` (still serving ${p.serving})` : '');
    ul.appendChild(li);
  }
}

function latency(l) {
  const hooks = $('hooks').tBodies[0];
  hooks.replaceChildren();
  for (const h of l.hooks) {
    const tr = document.createElement('tr');
    cell(tr, h.config); cell(tr, h.hook); cell(tr, h.calls); cell(tr, fmt(h.mean_ms, 3)); cell(tr, h.errors);
    hooks.appendChild(tr);
  }
  const up = $('upstream').tBodies[0];
  up.replaceChildren();
  for (const u of l.upstream) {
    const tr = document.createElement('tr');
    cell(tr, u.outcome); cell(tr, u.count); cell(tr, fmt(u.mean_ms, 1));
    up.appendChild(tr);
  }
  $('upstream-errors').textContent = 'error rate ' + pct(l.upstream_error_rate);
}

function chart() {
  const svg = $('chart');
  const max = Math.max(1, ...samples.map((h) => Math.max(h[0], h[1])));
  const line = (i, color) => {
    const el = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
    el.setAttribute('points', samples.map((h, x) => `${x * 5},${118 - (h[i] / max) * 110}`).join(' '));
    el.setAttribute('fill', 'none'); el.setAttribute('stroke', color); el.setAttribute('stroke-width', '2');
    return el;
  };
  svg.replaceChildren(line(0, '#2a6fdb'), line(1, '#e8871e'));
}

$('prev').addEventListener('click', () => { view.offset = Math.max(0, view.offset - view.limit); connect(); });
$('next').addEventListener('click', () => { view.offset += view.limit; connect(); });
connect();
