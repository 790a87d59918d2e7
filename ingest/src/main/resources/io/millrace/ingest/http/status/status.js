// Millrace status page: polls GET /v1/status once a second and draws what it answers.
// Own code only, no libraries; everything it shows is set with textContent (never as HTML).
'use strict';

(function () {
  const POLL_MS = 1000;
  const KEY_STORE = 'millrace-status-key';
  const SVG_NS = 'http://www.w3.org/2000/svg';

  const view = {
    history: null, // columns of samples, oldest first
    last: 0, // the newest sample number held
    capacity: 300,
    previous: null, // the previous status, for per-stage rates
    key: sessionStorage.getItem(KEY_STORE),
    okAt: 0,
  };

  const $ = (id) => document.getElementById(id);

  // ------------------------------------------------------------------ formatting

  function rate(v) {
    if (v === null || v === undefined || !isFinite(v)) return '–';
    if (v === 0) return '0';
    if (v < 10) return v.toFixed(1);
    return Math.round(v).toLocaleString('en-US');
  }

  function count(v) {
    if (v === null || v === undefined || !isFinite(v)) return '–';
    return Math.round(v).toLocaleString('en-US');
  }

  function bytes(v) {
    if (v === null || v === undefined || !isFinite(v)) return '–';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (v >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    return (i === 0 || v >= 100 ? Math.round(v) : v.toFixed(1)) + ' ' + units[i];
  }

  function age(s) {
    if (s === null || s === undefined || !isFinite(s)) return '–';
    if (s < 10) return s.toFixed(1) + ' s';
    if (s < 60) return Math.round(s) + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' m ' + Math.round(s % 60) + ' s';
    return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' m';
  }

  function ms(v) {
    if (v === null || v === undefined || !isFinite(v)) return '–';
    if (v < 10) return v.toFixed(1) + ' ms';
    if (v < 1000) return Math.round(v) + ' ms';
    return (v / 1000).toFixed(2) + ' s';
  }

  function clock(t) {
    const d = new Date(t);
    const p = (n) => String(n).padStart(2, '0');
    return p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds());
  }

  function setText(id, text) {
    const el = $(id);
    if (el && el.textContent !== text) el.textContent = text;
  }

  // ------------------------------------------------------------------ sparklines

  /** Draws values (nulls are gaps) as a line over an area, scaled to the SVG's own viewBox. */
  function spark(id, values, opts) {
    const svg = $(id);
    if (!svg) return;
    const vb = svg.viewBox.baseVal;
    const w = vb.width;
    const h = vb.height;
    const n = view.capacity;
    let max = opts && opts.max !== undefined ? opts.max : 0;
    for (const v of values) if (v !== null && v > max) max = v;
    if (max <= 0) max = 1;
    const step = w / (n - 1);
    const offset = n - values.length; // right-aligned: the newest sample at the right edge
    let line = '';
    let area = '';
    let runStart = -1;
    let prevX = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      const x = (offset + i) * step;
      if (v === null) {
        if (runStart >= 0) area += 'L' + prevX.toFixed(1) + ',' + h + 'Z';
        runStart = -1;
        continue;
      }
      const y = h - 1 - (Math.min(v, max) / max) * (h - 2);
      if (runStart < 0) {
        line += 'M' + x.toFixed(1) + ',' + y.toFixed(1);
        area += 'M' + x.toFixed(1) + ',' + h + 'L' + x.toFixed(1) + ',' + y.toFixed(1);
        runStart = i;
      } else {
        line += 'L' + x.toFixed(1) + ',' + y.toFixed(1);
        area += 'L' + x.toFixed(1) + ',' + y.toFixed(1);
      }
      prevX = x;
    }
    if (runStart >= 0) area += 'L' + prevX.toFixed(1) + ',' + h + 'Z';
    let a = svg.querySelector('path.area');
    let l = svg.querySelector('path.line');
    if (!a) {
      a = document.createElementNS(SVG_NS, 'path');
      a.setAttribute('class', 'area');
      l = document.createElementNS(SVG_NS, 'path');
      l.setAttribute('class', 'line');
      svg.appendChild(a);
      svg.appendChild(l);
    }
    a.setAttribute('d', area);
    l.setAttribute('d', line);
    if (opts && opts.tone) svg.classList.add(opts.tone);
  }

  // ------------------------------------------------------------------ history

  function mergeHistory(h) {
    if (h.last < view.last) {
      view.history = null; // the service restarted: its samples count from 1 again
      view.last = 0;
    }
    if (!view.history || (h.seq.length && h.seq[0] !== view.last + 1 && view.last !== 0)) {
      view.history = null; // a gap (or a restart of the service): take what came as the whole
    }
    if (!view.history) {
      view.history = {};
      for (const k of Object.keys(h)) if (Array.isArray(h[k])) view.history[k] = [];
    }
    for (const k of Object.keys(view.history)) {
      const col = view.history[k];
      for (const v of h[k] || []) col.push(v);
      if (col.length > view.capacity) col.splice(0, col.length - view.capacity);
    }
    view.capacity = h.capacity || view.capacity;
    view.last = h.last;
  }

  // ------------------------------------------------------------------ drawing

  function meter(id, value, max) {
    const el = $(id);
    const f = max > 0 && isFinite(value) ? Math.min(1, value / max) : 0;
    el.style.width = (f * 100).toFixed(1) + '%';
    el.classList.toggle('warn', f >= 0.8 && f < 0.9);
    el.classList.toggle('bad', f >= 0.9);
  }

  function drawReadiness(s) {
    const badge = $('ready-badge');
    badge.dataset.ready = String(s.ready);
    badge.textContent = s.ready ? 'ready' : 'not ready';
    const failing = s.checks.filter((c) => !c.ok);
    const banner = $('banner');
    if (failing.length) {
      banner.hidden = false;
      banner.textContent = 'Not ready: ' + failing.map((c) => c.reason).join('; ');
    } else {
      banner.hidden = true;
      banner.textContent = '';
    }
    const list = $('checks');
    list.replaceChildren(
      ...s.checks.map((c) => {
        const li = document.createElement('li');
        li.dataset.ok = String(c.ok);
        li.dataset.check = c.name;
        const mark = document.createElement('span');
        mark.className = 'mark';
        mark.textContent = c.ok ? '✓' : '✗';
        const name = document.createElement('span');
        name.className = 'name';
        name.textContent = c.name;
        const reason = document.createElement('span');
        reason.className = 'reason';
        reason.textContent = c.ok ? 'ok' : c.reason;
        li.append(mark, name, reason);
        return li;
      })
    );
  }

  function drawStages(s, seconds) {
    const body = $('stages').tBodies[0];
    const prev = new Map();
    if (view.previous && seconds > 0) {
      for (const p of view.previous.stages) prev.set(p.name, p);
    }
    $('no-stages').hidden = s.stages.length > 0;
    body.replaceChildren(
      ...s.stages.map((st) => {
        const p = prev.get(st.name);
        const outRate = p ? (st.out - p.out) / seconds : null;
        const busy = p ? (st.busySeconds - p.busySeconds) / seconds : null;
        const cells = [
          st.name,
          count(st.in),
          count(st.out),
          rate(outRate),
          count(st.inFlight),
          count(st.buffered),
          busy === null ? '–' : (busy * 100).toFixed(0) + '%',
          count(st.retried),
          count(st.failed),
        ];
        const tr = document.createElement('tr');
        tr.dataset.stage = st.name;
        cells.forEach((c, i) => {
          const td = document.createElement('td');
          td.textContent = c;
          if ((i === 7 || i === 8) && p && st[i === 7 ? 'retried' : 'failed'] > p[i === 7 ? 'retried' : 'failed']) {
            td.className = 'hot';
          }
          tr.appendChild(td);
        });
        return tr;
      })
    );
  }

  function drawErrors(s) {
    const list = $('errors');
    $('no-errors').hidden = s.errors.length > 0;
    setText('errors-total', s.errorsTotal ? s.errorsTotal.toLocaleString('en-US') + ' since start' : '');
    list.replaceChildren(
      ...s.errors.map((e) => {
        const li = document.createElement('li');
        const t = document.createElement('time');
        t.dateTime = new Date(e.last).toISOString();
        t.textContent = clock(e.last);
        const kind = document.createElement('span');
        kind.className = 'kind ' + e.kind;
        kind.textContent = e.kind;
        const msg = document.createElement('span');
        msg.className = 'msg';
        msg.textContent = e.message;
        const n = document.createElement('span');
        n.className = 'count';
        n.textContent = e.count > 1 ? '×' + e.count.toLocaleString('en-US') + ' since ' + clock(e.first) : '';
        li.append(t, kind, msg, n);
        return li;
      })
    );
  }

  function draw(s) {
    const h = view.history;
    const sv = s.service;
    setText('node', 'role ' + sv.role + ' · queue ' + sv.queue + ' · ' + sv.mode + ' · ' + sv.phase);
    drawReadiness(s);

    setText('accepted-rate', rate(s.rates.accepted));
    setText('accepted-total', count(s.totals.accepted));
    setText('stored-rate', rate(s.rates.stored));
    setText('stored-total', count(s.totals.stored));
    setText('objects-total', count(s.totals.objectsStored));
    setText('r2xx', rate(s.rates.r2xx));
    setText('r4xx', rate(s.rates.r4xx));
    setText('r429', rate(s.rates.r429));
    setText('r5xx', rate(s.rates.r5xx));

    const q = s.queue;
    setText('queue-payloads', count(q.payloads) + ' / ' + count(q.maxPayloads));
    setText('queue-bytes', bytes(q.bytes) + ' / ' + bytes(q.maxBytes));
    meter('queue-payloads-fill', q.payloads, q.maxPayloads);
    meter('queue-bytes-fill', q.bytes, q.maxBytes);
    setText('oldest', age(q.oldestUnstoredAgeSeconds));

    const u = s.uploads;
    setText('uploads-in-flight', count(u.inFlight));
    setText('max-workers', count(u.maxWorkers));
    setText('p50', ms(u.p50Ms));
    setText('p99', ms(u.p99Ms));
    setText('mean', ms(u.meanMs));
    setText('window', String(u.windowSeconds));
    const lastUploads = h && h.uploads.length ? h.uploads[h.uploads.length - 1] : null;
    setText('uploads-rate', rate(lastUploads));
    setText('retries', count(s.totals.uploadRetries));

    const seconds = view.previous ? (s.time - view.previous.time) / 1000 : 0;
    drawStages(s, seconds);
    drawErrors(s);

    if (h) {
      spark('spark-accepted', h.accepted);
      spark('spark-stored', h.stored);
      spark('spark-r2xx', h.r2xx);
      spark('spark-r4xx', h.r4xx, { tone: 'warn' });
      spark('spark-r429', h.r429, { tone: 'warn' });
      spark('spark-r5xx', h.r5xx, { tone: 'bad' });
      spark('spark-queue', h.queuePayloads, { max: q.maxPayloads || 0 });
      spark('spark-oldest', h.oldestUnstoredAgeSeconds);
      spark('spark-p99', h.uploadP99Ms);
    }
    view.previous = s;
  }

  // ------------------------------------------------------------------ polling

  function stale(text) {
    const dot = $('live-dot');
    dot.classList.remove('live');
    dot.classList.add('stale');
    setText('updated', text);
  }

  async function poll() {
    const started = Date.now();
    try {
      const headers = { Accept: 'application/json' };
      if (view.key) headers.Authorization = 'Bearer ' + view.key;
      const res = await fetch('/v1/status?since=' + view.last, { headers, cache: 'no-store' });
      if (res.status === 401) {
        $('keyform').hidden = false;
        stale(view.key ? 'the API key was refused' : 'an API key is needed');
        return; // no polling until a key is given
      }
      if (!res.ok) {
        stale('status answered ' + res.status + ' at ' + clock(Date.now()));
      } else {
        const s = await res.json();
        $('keyform').hidden = true;
        mergeHistory(s.history);
        draw(s);
        view.okAt = Date.now();
        const dot = $('live-dot');
        dot.classList.remove('stale');
        dot.classList.add('live');
        setText('updated', 'updated ' + clock(s.time));
      }
    } catch (e) {
      stale('no answer since ' + (view.okAt ? clock(view.okAt) : 'the page loaded'));
    }
    setTimeout(poll, Math.max(0, POLL_MS - (Date.now() - started)));
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('keyform').addEventListener('submit', (ev) => {
      ev.preventDefault();
      view.key = $('key').value.trim();
      sessionStorage.setItem(KEY_STORE, view.key);
      $('keyform').hidden = true;
      view.last = 0;
      view.history = null;
      poll();
    });
    poll();
  });
})();
