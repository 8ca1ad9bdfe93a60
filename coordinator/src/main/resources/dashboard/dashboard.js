// Sluice dashboard: paints from /api/dashboard, then updates from the server-sent events of
// /api/dashboard/stream. Every text that comes from the fleet (node ids, alert labels, reasons, names) is set with
// textContent, never parsed as HTML; the page runs under a Content-Security-Policy without inline script.
'use strict';

const COLORS = ['#1570ef', '#f79009', '#12b76a', '#d92d20', '#7a5af8', '#0e9384', '#c11574', '#667085'];
const SVG = 'http://www.w3.org/2000/svg';

function $(id) { return document.getElementById(id); }

function text(id, value) {
  const el = $(id);
  if (el) el.textContent = value === undefined || value === null ? '–' : String(value);
}

function num(value, digits) {
  if (value === undefined || value === null || Number.isNaN(value)) return '–';
  return Number(value).toLocaleString('en-US', { maximumFractionDigits: digits === undefined ? 0 : digits });
}

function age(ms) {
  if (ms === undefined || ms === null || ms < 0) return '–';
  const s = Math.round(ms / 1000);
  if (s < 90) return s + ' s';
  if (s < 5400) return Math.round(s / 60) + ' min';
  return (s / 3600).toFixed(1) + ' h';
}

function since(iso) {
  if (!iso) return '–';
  return age(Date.now() - Date.parse(iso)) + ' ago';
}

function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
}

function cell(row, value, cls) {
  const td = document.createElement('td');
  td.textContent = value;
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

function chart(svgId, series) {
  // series: [{name, color, points: [[t, v], ...]}]
  const svg = $(svgId);
  clear(svg);
  let tMin = Infinity, tMax = -Infinity, vMax = 0;
  for (const s of series) {
    for (const [t, v] of s.points) {
      tMin = Math.min(tMin, t); tMax = Math.max(tMax, t); vMax = Math.max(vMax, v);
    }
  }
  if (!Number.isFinite(tMin) || tMax === tMin) return;
  vMax = vMax === 0 ? 1 : vMax * 1.1;
  for (const s of series) {
    const line = document.createElementNS(SVG, 'polyline');
    line.setAttribute('stroke', s.color);
    line.setAttribute('points', s.points.map(([t, v]) =>
      ((t - tMin) / (tMax - tMin) * 600).toFixed(1) + ',' + (120 - v / vMax * 115).toFixed(1)).join(' '));
    const title = document.createElementNS(SVG, 'title');
    title.textContent = s.name;
    line.appendChild(title);
    svg.appendChild(line);
  }
  const label = document.createElementNS(SVG, 'text');
  label.setAttribute('x', '4'); label.setAttribute('y', '12'); label.setAttribute('font-size', '11');
  label.setAttribute('fill', '#667085');
  label.textContent = 'max ' + num(vMax / 1.1, 1);
  svg.appendChild(label);
}

function breakerOf(node) {
  const states = Object.values(node.breakers || {}).map(b => b.state);
  if (states.length === 0) return '–';
  return states.includes('OPEN') ? 'OPEN' : states.includes('HALF_OPEN') ? 'HALF_OPEN' : 'CLOSED';
}

function renderBackfills(list) {
  const body = $('backfills-body');
  clear(body);
  $('backfills-none').hidden = list.length > 0;
  for (const bf of list) {
    const tr = document.createElement('tr');
    tr.className = 'backfill ' + (bf.finished ? 'finished' : bf.state);
    tr.dataset.backfill = bf.id;
    cell(tr, bf.id);
    cell(tr, bf.by || '–');
    cell(tr, since(bf.startedAt));
    const td = cell(tr, '');
    const bar = document.createElement('progress');
    bar.max = Math.max(1, bf.total);
    bar.value = Math.max(0, Math.min(bf.total, bf.done + bf.dead));
    td.appendChild(bar);
    const pct = bf.total > 0 ? Math.max(0, Math.min(100, Math.floor((bf.done + bf.dead) * 100 / bf.total))) : 0;
    td.appendChild(document.createTextNode(' ' + pct + '%'));
    cell(tr, num(bf.done + bf.dead) + ' of ' + num(bf.total) + (bf.dead > 0 ? ' (' + num(bf.dead) + ' dead)' : '')
      + (bf.replayed > 0 ? ', ' + num(bf.replayed) + ' replayed' : ''), 'counts');
    cell(tr, bf.jobsPerSec === null || bf.jobsPerSec === undefined ? '–' : num(bf.jobsPerSec, 1));
    cell(tr, bf.estimate, 'estimate');
    body.appendChild(tr);
  }
}

function render(d) {
  text('updated', 'updated ' + new Date(d.at).toLocaleTimeString());
  const why = $('why');
  why.dataset.kind = d.why.kind;
  text('why-text', d.why.text);

  const b = d.backfill || {};
  text('bf-waiting', num(b.waiting));
  text('bf-running', num(b.running));
  text('bf-delayed', num(b.delayed));
  text('bf-done', num(b.doneInWindow));
  text('bf-dead', num(b.deadLettered));
  text('bf-oldest', age(b.oldestWaitingAgeMs));
  text('bf-rate', num(b.jobsPerSec, 1));
  text('bf-eta', b.drainEstimate);

  renderBackfills(d.backfills || []);

  const c = d.cluster;
  text('nodes-alive', c.nodesAlive);
  text('nodes-known', c.nodesKnown);
  const body = $('nodes-body');
  clear(body);
  for (const n of c.nodes) {
    const tr = document.createElement('tr');
    tr.className = 'node ' + (n.alive ? 'alive' : 'down');
    tr.dataset.node = n.id;
    cell(tr, n.id);
    cell(tr, n.alive ? 'alive' : n.stopped ? 'stopped' : 'down');
    cell(tr, n.pool ? num(n.pool.usage * 100) + '% of ' + n.pool.max + (n.pool.underPressure ? ' (pressure)' : '') : '–');
    cell(tr, breakerOf(n), 'breaker');
    cell(tr, n.limiter ? n.limiter.state : '–');
    cell(tr, n.fleet && n.fleet.permitsHeld !== undefined ? num(n.fleet.permitsHeld) : '–', 'permits');
    cell(tr, n.fleet ? num(n.fleet.jobsInFlight) : '–');
    cell(tr, num(n.rates.jobsDonePerSec, 1));
    cell(tr, num(n.rates.hubRequestsPerSec, 1));
    cell(tr, since(n.lastSeen));
    body.appendChild(tr);
  }

  const f = d.fleet || {};
  const limits = f.limits;
  text('limits-rps', limits ? num(limits.maxRequestsPerSecond) : '–');
  text('limits-inflight', limits ? num(limits.maxInFlight) : '–');
  text('limits-use', num(b.hubRequestsPerSec, 1) + (b.limitUse !== undefined ? ' (' + num(b.limitUse * 100) + '%)' : ''));
  const pause = f.pause || {};
  text('pause-state', pause.paused ? 'paused by ' + pause.by : 'running');
  text('limits-source', limits ? 'version ' + limits.version + ', set by ' + limits.changedBy + ' at ' + limits.changedAt
    + ' (' + f.record + ')' : 'no limits in ' + f.record + ' yet');
  const holders = $('limits-holders');
  clear(holders);
  let held = 0;
  for (const n of c.nodes) {
    if (n.alive && n.fleet && n.fleet.permitsHeld !== undefined) {
      held += n.fleet.permitsHeld;
      const li = document.createElement('li');
      li.textContent = n.id + ': ' + n.fleet.permitsHeld + ' permit' + (n.fleet.permitsHeld === 1 ? '' : 's')
        + ', ' + n.fleet.jobsInFlight + ' job' + (n.fleet.jobsInFlight === 1 ? '' : 's') + ' running';
      holders.appendChild(li);
    }
  }
  if (holders.childElementCount === 0) {
    const li = document.createElement('li');
    li.className = 'muted';
    li.textContent = 'no live node reports fleet permits';
    holders.appendChild(li);
  } else if (limits) {
    const li = document.createElement('li');
    li.className = 'muted';
    li.textContent = held + ' of ' + limits.maxInFlight + ' held at the last heartbeats';
    holders.appendChild(li);
  }
  const problem = $('fleet-problem');
  problem.hidden = !f.problem;
  problem.textContent = f.problem || '';

  $('operations-off').hidden = d.operations;
  $('operations-on').hidden = !d.operations;

  for (const state of ['firing', 'pending', 'resolved']) {
    const ul = $('alerts-' + state);
    clear(ul);
    const list = (d.alerts && d.alerts[state]) || [];
    if (list.length === 0) {
      const li = document.createElement('li');
      li.className = 'none muted';
      li.textContent = 'none';
      ul.appendChild(li);
    }
    for (const a of list) {
      const li = document.createElement('li');
      li.className = 'alert ' + state;
      const name = (a.labels && a.labels.alertname) || a.rule;
      li.dataset.rule = name;
      const labels = Object.entries(a.labels || {}).filter(([k]) => k !== 'alertname' && k !== 'severity')
        .map(([k, v]) => k + '=' + v).join(', ');
      const summary = (a.annotations && a.annotations.summary) || '';
      li.textContent = name + (labels ? ' {' + labels + '}' : '') + (summary ? ': ' + summary : '')
        + ' (since ' + (a.activeAt || a.startsAt || '?') + (a.endsAt && state === 'resolved' ? ', ended ' + a.endsAt : '') + ')';
      ul.appendChild(li);
    }
  }

  const audit = $('audit-list');
  clear(audit);
  for (const e of f.audit || []) {
    const li = document.createElement('li');
    li.textContent = e.at + ' ' + e.by + ': ' + e.action + (e.detail ? ' (' + e.detail + ')' : '');
    audit.appendChild(li);
  }

  const h = d.history || [];
  chart('chart-rate', [{ name: 'jobs/s', color: COLORS[0], points: h.map(s => [s.at, s.jobsPerSec]) }]);
  chart('chart-left', [{ name: 'jobs left', color: COLORS[1], points: h.map(s => [s.at, s.waiting + s.running + s.delayed]) }]);
  const ids = [...new Set(h.flatMap(s => Object.keys(s.jobsPerSecByNode || {})))].sort();
  chart('chart-nodes', ids.map((id, i) => ({
    name: id, color: COLORS[i % COLORS.length],
    points: h.filter(s => s.jobsPerSecByNode && id in s.jobsPerSecByNode).map(s => [s.at, s.jobsPerSecByNode[id]]),
  })));
  const legend = $('chart-nodes-legend');
  clear(legend);
  ids.forEach((id, i) => {
    const span = document.createElement('span');
    span.style.color = COLORS[i % COLORS.length];
    span.textContent = '■ ' + id;
    legend.appendChild(span);
  });
}

// Dead letters: listed from /api/dlq (without their jobs); the job itself, replay and discard need the token.
let dlqKinds = '';

async function refreshDeadLetters() {
  const kind = $('dlq-kind').value;
  try {
    const response = await fetch('/api/dlq?count=50' + (kind ? '&kind=' + encodeURIComponent(kind) : ''),
      { credentials: 'omit' });
    const d = await response.json();
    if (!response.ok) throw new Error(d.error || response.status);
    renderDeadLetters(d);
  } catch (e) {
    text('dlq-progress', 'Cannot read the dead letters: ' + e.message);
  }
}

function renderDeadLetters(d) {
  text('dlq-total', num(d.total));
  text('dlq-stream', d.stream);
  const kinds = Object.keys(d.byKind || {}).sort();
  const key = kinds.map(k => k + '=' + d.byKind[k]).join(',');
  if (key !== dlqKinds) {
    dlqKinds = key;
    const select = $('dlq-kind');
    const chosen = select.value;
    while (select.options.length > 1) select.remove(1);
    for (const k of kinds) {
      const option = document.createElement('option');
      option.value = k;
      option.textContent = k + ' (' + d.byKind[k] + ')';
      select.appendChild(option);
    }
    select.value = kinds.includes(chosen) ? chosen : '';
  }
  const body = $('dlq-body');
  const picked = new Set([...document.querySelectorAll('input.dlq-pick:checked')].map(i => i.dataset.id));
  clear(body);
  for (const l of d.letters) {
    const tr = document.createElement('tr');
    tr.className = 'letter';
    tr.dataset.id = l.id;
    const pick = document.createElement('input');
    pick.type = 'checkbox';
    pick.className = 'dlq-pick';
    pick.dataset.id = l.id;
    pick.checked = picked.has(l.id);
    const first = document.createElement('td');
    first.appendChild(pick);
    tr.appendChild(first);
    cell(tr, l.id);
    cell(tr, l.kind);
    cell(tr, l.reason + (l.truncated ? ' (kept in part: cannot be replayed)' : ''), 'reason');
    cell(tr, l.attempts);
    cell(tr, l.node);
    cell(tr, l.at || '–');
    const show = document.createElement('button');
    show.type = 'button';
    show.className = 'dlq-show';
    show.textContent = 'Job';
    show.addEventListener('click', () => showLetter(l.id));
    const last = document.createElement('td');
    last.appendChild(show);
    tr.appendChild(last);
    body.appendChild(tr);
  }
  const r = d.replayAll;
  if (r) {
    text('dlq-progress', (r.running ? 'Replaying all' : 'Replay of all') + (r.kind ? ' (' + r.kind + ')' : '') + ' by ' + r.by
      + ': ' + r.replayed + ' replayed, ' + r.skipped + ' skipped' + (r.running ? '…' : '.')
      + Object.entries(r.skippedBecause || {}).map(([why, n]) => ' ' + n + ': ' + why + '.').join('')
      + (r.error ? ' Failed: ' + r.error : ''));
  }
}

async function post(path, body) {
  const token = $('token').value.trim();
  if (!token) throw new Error('enter your coordinator token first (Operations)');
  sessionStorage.setItem('sluice-token', token);
  const response = await fetch(path, {
    method: 'POST',
    headers: { 'Authorization': 'Bearer ' + token, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
    credentials: 'omit',
  });
  const answer = await response.json();
  if (!response.ok) throw new Error('refused (' + response.status + '): ' + (answer.error || ''));
  return answer;
}

async function showLetter(id) {
  const pre = $('dlq-payload');
  try {
    const letter = await post('/api/dlq/show', { id: id });
    pre.textContent = JSON.stringify(letter, null, 2);
  } catch (e) {
    pre.textContent = 'Cannot show ' + id + ': ' + e.message;
  }
  pre.hidden = false;
}

async function deadLetterOperation(path, body, describe) {
  try {
    const answer = await post(path, body);
    text('dlq-progress', describe(answer));
  } catch (e) {
    text('dlq-progress', e.message);
  }
  refreshDeadLetters();
}

function pickedIds() {
  return [...document.querySelectorAll('input.dlq-pick:checked')].map(i => i.dataset.id);
}

function skippedText(skipped) {
  return Object.entries(skipped || {}).map(([why, ids]) => ' Skipped ' + ids.length + ': ' + why + '.').join('');
}

function showError(message) {
  const why = $('why');
  why.dataset.kind = 'error';
  text('why-text', message);
}

async function operate(path, body) {
  const result = $('op-result');
  const token = $('token').value.trim();
  if (!token) {
    result.className = 'error';
    result.textContent = 'Enter your coordinator token first.';
    return;
  }
  sessionStorage.setItem('sluice-token', token);
  try {
    const response = await fetch(path, {
      method: 'POST',
      headers: { 'Authorization': 'Bearer ' + token, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      credentials: 'omit',
    });
    const answer = await response.json();
    result.className = response.ok ? '' : 'error';
    result.textContent = response.ok ? describe(path, answer) : 'Refused (' + response.status + '): ' + (answer.error || '');
    refresh();
  } catch (e) {
    result.className = 'error';
    result.textContent = 'Failed: ' + e;
  }
}

function describe(path, answer) {
  if (path.endsWith('/limits')) {
    return 'Limits set: ' + answer.limits.maxRequestsPerSecond + '/s, ' + answer.limits.maxInFlight + ' in flight; nodes follow within 2 s.';
  }
  if (!answer.applied) return 'Unchanged: the fleet already was ' + (answer.pause.paused ? 'paused.' : 'running.');
  return answer.pause.paused ? 'Paused: nothing new goes to the Hub within 2 s.' : 'Resumed: nodes fetch again within 2 s.';
}

async function refresh() {
  try {
    const response = await fetch('/api/dashboard', { credentials: 'omit' });
    if (!response.ok) throw new Error('the coordinator answered ' + response.status);
    render(await response.json());
  } catch (e) {
    showError('Cannot read the coordinator: ' + e.message);
  }
}

function connect() {
  const source = new EventSource('/api/dashboard/stream');
  source.addEventListener('open', () => text('connection', 'live'));
  source.addEventListener('error', () => text('connection', 'reconnecting…'));
  source.addEventListener('snapshot', event => {
    try {
      render(JSON.parse(event.data));
    } catch (e) {
      showError('A bad update from the coordinator: ' + e);
    }
  });
}

document.addEventListener('DOMContentLoaded', () => {
  $('token').value = sessionStorage.getItem('sluice-token') || '';
  $('pause-button').addEventListener('click', () => operate('/api/fleet/pause', { reason: $('pause-reason').value }));
  $('resume-button').addEventListener('click', () => operate('/api/fleet/resume', { reason: $('pause-reason').value }));
  $('limits-button').addEventListener('click', () => operate('/api/fleet/limits', {
    maxRequestsPerSecond: Number($('set-rps').value), maxInFlight: Number($('set-inflight').value),
  }));
  $('dlq-kind').addEventListener('change', refreshDeadLetters);
  $('dlq-replay-selected').addEventListener('click', () => {
    const ids = pickedIds();
    if (ids.length === 0) { text('dlq-progress', 'Select dead letters first.'); return; }
    deadLetterOperation('/api/dlq/replay', { ids: ids },
      a => 'Replayed ' + a.replayed + ' of ' + ids.length + '.' + skippedText(a.skipped));
  });
  $('dlq-replay-all').addEventListener('click', () => deadLetterOperation('/api/dlq/replay',
    { all: true, kind: $('dlq-kind').value }, () => 'Replaying all' + ($('dlq-kind').value ? ' ' + $('dlq-kind').value : '') + '…'));
  $('dlq-discard-selected').addEventListener('click', () => {
    const ids = pickedIds();
    if (ids.length === 0) { text('dlq-progress', 'Select dead letters first.'); return; }
    deadLetterOperation('/api/dlq/discard', { ids: ids }, a => 'Discarded ' + a.discarded + '.');
  });
  refresh().then(connect);
  refreshDeadLetters();
  setInterval(refreshDeadLetters, 3000);
});
