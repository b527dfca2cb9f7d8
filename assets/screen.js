/*
 * Big screens (/screens/<id>) and walls (/wall/<playlist>): fills the static `#sc-page` tree built by
 * layouts/ from one Socket.IO connection, per the DOM contract shared with the Python side.
 *
 * How it works:
 * - Dash loads every asset on every page, so nothing happens unless `#sc-page` is in the document; a
 *   MutationObserver on <body> (one getElementById per mutation batch) mounts the page when Dash renders
 *   it and stops everything when it leaves.
 * - Each slide's `.sc-canvas` keeps its design size (e.g. 1920x1080) and is scaled uniformly with a CSS
 *   transform to fit the window, centred and letterboxed; text stays HTML/SVG, so it stays crisp.
 * - One socket, one `subscribe` with every slide's topic. The ack carries the snapshots (resync on every
 *   (re)connect); `update` messages patch the per-topic state. Updates that arrive while a subscribe is in
 *   flight wait in a bounded buffer (beyond it, the page takes another snapshot instead).
 * - Every buffer is bounded: minute series keep window_min + 5 points per key, `last` metrics keep at most
 *   LASTS_MAX entities, pending updates at most PENDING_MAX.
 * - DOM writes are coalesced in requestAnimationFrame: numbers at most every FAST_GAP_MS, charts, lists
 *   and the briefing at most every SLOW_GAP_MS. Only panels of the visible slide are drawn; a slide that
 *   comes into view is drawn in the same task that unhides it (no blank or stale flash).
 * - Times are server time (messages carry `t`) shown in the compound's zone (`tz_offset_min`), so a wall
 *   PC with a wrong clock still shows correct ages; a 1 s local tick moves the clock, the "connection lost"
 *   counter, lateness (every FRESH_EVERY_S) and table paging.
 * - Markup is built with createElement/createElementNS and text nodes only.
 * - Hot reload: `screen_changed` (a YAML file of this page changed) sets the `sc-relayout` store, so Dash's
 *   router builds the page again and React mounts a new `#sc-page`. The MutationObserver callback runs before
 *   the browser paints; the new mount takes over the old one's socket, per-topic state, status, clock and
 *   playlist position and draws the visible slide from that state at once (no blank flash, one socket).
 *   Panels whose bindings the old page did not show wait, as "—", for the snapshot of a new subscribe.
 */
(function () {
  'use strict';

  var ROOT_ID = 'sc-page';
  var NAMESPACE = '/live';
  var SVG_NS = 'http://www.w3.org/2000/svg';
  var MINUTE_MS = 60000;
  var HOUR_MS = 3600000;
  var DAY_MS = 86400000;
  var MAX_TOPICS = 16;            // callbacks/live_socket.py refuses more in one subscribe
  var PENDING_MAX = 200;          // updates held while a subscribe is in flight
  var SUBSCRIBE_TIMEOUT_MS = 5000;
  var RETRY_MS = 5000;
  var FAST_GAP_MS = 100;          // numbers: at most ~10 redraws a second
  var SLOW_GAP_MS = 1000;         // charts, lists, briefing: at most ~1 a second
  var FRESH_EVERY_S = 3;          // lateness is re-evaluated this often even without messages
  var LASTS_MAX = 2000;           // entities kept per `last` metric
  var CHART_POINTS_MAX = 240;     // longer series are drawn from summed (or averaged) buckets
  var DEFAULT_WINDOW_MIN = 60;    // streams/topics.py sends at least 60 minutes of series
  var KEEP_EXTRA = 5;
  var DEFAULT_EXPECT_S = 300;
  var QUERY_EVERY_MS = 60000;     // query-bound panels are asked again this often (the server caches 30 s)
  var QUERY_STALE_MS = 3 * QUERY_EVERY_MS;
  var RELAYOUT_ID = 'sc-relayout';  // callbacks/screen_pages.py RELAYOUT_ID: an input of the pages router
  var RELAYOUT_DELAY_MS = 100;    // several web processes each announce a reload: one relayout for all
  var DONUT_R = 38;
  var DONUT_C = 2 * Math.PI * DONUT_R;
  var DASH = '\u2014';
  var MINUS = '\u2212';
  var SEVERITIES = ['critical', 'high', 'medium', 'low'];
  var COMPARE_REFS = { same_day_last_week: 'last_week', last_comparable_day: 'last_comparable' };
  var COMPARE_LABELS = { same_day_last_week: 'vs-last-week', last_comparable_day: 'vs-last-day' };
  var THRESHOLD_CLASSES = ['sc-ok', 'sc-info', 'sc-warn', 'sc-alarm'];

  // Used only when the page lacks a data-lbl-* attribute (the Python side normally provides them all).
  var FALLBACK_LABELS = {
    zh: {
      'status-connecting': '正在连接', 'status-syncing': '正在同步', 'status-connected': '已连接',
      'lost-s': '连接中断 {n} 秒', 'lost-min': '连接中断 {n} 分钟', 'late': '数据延迟 {n} 分钟',
      'updated': '{t} 更新', 'no-data': '暂无数据', 'vs-last-week': '较上周同日', 'vs-last-day': '较上一可比日',
      'briefing-sep': '；', 'no-alarms': '无未处置告警',
      'sev-critical': '紧急', 'sev-high': '高', 'sev-medium': '中', 'sev-low': '低'
    },
    en: {
      'status-connecting': 'Connecting', 'status-syncing': 'Syncing', 'status-connected': 'Connected',
      'lost-s': 'Connection lost {n} s', 'lost-min': 'Connection lost {n} min', 'late': 'late {n} min',
      'updated': 'updated {t}', 'no-data': 'no data', 'vs-last-week': 'vs same day last week',
      'vs-last-day': 'vs last comparable day', 'briefing-sep': '; ', 'no-alarms': 'No open alarms',
      'sev-critical': 'Critical', 'sev-high': 'High', 'sev-medium': 'Medium', 'sev-low': 'Low'
    }
  };

  var mounted = null;
  var relayouts = 0;

  // ---- small DOM helpers ---------------------------------------------------------------------------

  function pad2(n) { return (n < 10 ? '0' : '') + n; }

  function make(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = text; }
    return e;
  }

  function makeSvg(tag, attrs) {
    var e = document.createElementNS(SVG_NS, tag);
    for (var k in attrs) { e.setAttribute(k, attrs[k]); }
    return e;
  }

  // Text written by the Python side lives in text nodes React created: patch their nodeValue in place.
  function setText(el, value) {
    if (!el) { return false; }
    var node = el.firstChild;
    if (!node || node.nodeType !== 3) {
      node = document.createTextNode('');
      el.insertBefore(node, el.firstChild);
    }
    if (node.nodeValue === value) { return false; }
    node.nodeValue = value;
    return true;
  }

  function setAttr(el, name, value) {
    if (el.getAttribute(name) !== value) { el.setAttribute(name, value); }
  }

  function setClass(el, cls, on) {
    if (el.classList.contains(cls) !== !!on) { el.classList.toggle(cls, !!on); }
  }

  function setStyle(el, prop, value) {
    if (el.style[prop] !== value) { el.style[prop] = value; }
  }

  function clear(el) {
    while (el.firstChild) { el.removeChild(el.firstChild); }
  }

  // The contract's `<svg class=cls>`, or the Python side's stand-in `div.sc-svg[data-svg-class=cls]`
  // (Dash has no svg component): then the svg is created inside the host once.
  function svgFor(panelEl, cls) {
    var svg = panelEl.querySelector('svg.' + cls);
    if (svg) { return svg; }
    var hosts = panelEl.querySelectorAll('.sc-svg');
    for (var i = 0; i < hosts.length; i++) {
      var host = hosts[i];
      if (host.getAttribute('data-svg-class') === cls || host.classList.contains(cls)) {
        var own = host.querySelector('svg');
        if (own) { return own; }
        own = makeSvg('svg', { 'class': cls, viewBox: host.getAttribute('data-svg-viewbox') || '0 0 100 100' });
        var par = host.getAttribute('data-svg-par');
        if (par) { own.setAttribute('preserveAspectRatio', par); }
        own.setAttribute('aria-hidden', 'true');
        host.appendChild(own);
        return own;
      }
    }
    return null;
  }

  // A group owned by this script inside an svg the page may also use (an overlay, say).
  function ownGroup(svg, cls) {
    var g = makeSvg('g', { 'class': cls });
    svg.appendChild(g);
    return g;
  }

  function globRx(glob) {
    var parts = String(glob).split('*').map(function (s) { return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'); });
    return new RegExp('^' + parts.join('([^.]+)') + '$');
  }

  function naturalCompare(a, b) {
    return String(a).localeCompare(String(b), undefined, { numeric: true });
  }

  // ---- numbers ---------------------------------------------------------------------------------------

  function makeFormatter(lang) {
    var locale = lang === 'en' ? 'en-US' : 'zh-CN';
    var cache = {};
    return function (value, format) {
      var f = format || {};
      var d = typeof f.decimals === 'number' ? Math.max(0, Math.min(6, f.decimals)) : 0;
      var group = f.thousands !== false;
      var key = d + (group ? 'g' : 'n');
      var nf = cache[key] || (cache[key] = new Intl.NumberFormat(locale, {
        minimumFractionDigits: d, maximumFractionDigits: d, useGrouping: group
      }));
      var v = f.percent ? value * 100 : value;
      if (Math.abs(v) < 0.5 * Math.pow(10, -d)) { v = 0; } // never "-0"
      return nf.format(v).replace('-', MINUS) + (f.percent ? '%' : '');
    };
  }

  function numeric(v) {
    if (Array.isArray(v)) { v = v[v.length - 1]; } // [ts, value]
    return typeof v === 'number' && isFinite(v) ? v : null;
  }

  function aggregate(nums, how) {
    if (!nums.length) { return null; }
    var out = how === 'min' ? Infinity : how === 'max' ? -Infinity : 0;
    for (var i = 0; i < nums.length; i++) {
      if (how === 'max') { out = Math.max(out, nums[i]); }
      else if (how === 'min') { out = Math.min(out, nums[i]); }
      else { out += nums[i]; }
    }
    return how === 'avg' ? out / nums.length : out;
  }

  // A `last` metric holds one value per entity: a KPI shows their sum, or the maximum for temperatures,
  // unless the spec names `agg` (sum|max|min|avg).
  function aggOf(spec) {
    if (spec.agg) { return spec.agg; }
    return /°C|℃/.test(spec.unit || '') ? 'max' : 'sum';
  }

  // ---- per-topic state ---------------------------------------------------------------------------------

  function newTopic(name) {
    return {
      name: name, t: 0, snapT: 0, day: null,
      sums: {}, levels: {}, lasts: {}, minute: {}, compare: {}, sources: {}, expect: {},
      levelHist: {},   // level key -> Map(minute ms -> value), sampled here (levels carry no series)
      heatInc: {},     // heatmap member -> Map(hour ms -> amount) when the topic sends no minute series
      heatPrev: {},
      keepMin: {},     // key -> minutes to keep (window + KEEP_EXTRA), filled by mount()
      windowMin: DEFAULT_WINDOW_MIN,
      heatRx: [],
      keepCache: {},
      queries: {}      // query id -> the server's answer ({value} | {rows} | {points}, t), see askQueries
    };
  }

  function keepFor(ts, key) {
    var n = ts.keepCache[key];
    if (n) { return n; }
    n = ts.keepMin[key] || ts.windowMin;
    for (var i = 0; i < ts.heatRx.length; i++) {
      if (ts.heatRx[i].test(key)) { n = Math.max(n, 1440); }
    }
    n += KEEP_EXTRA;
    ts.keepCache[key] = n;
    return n;
  }

  function seriesMap(store, key) {
    return store[key] || (store[key] = new Map());
  }

  function prune(map, limit, nowMinute) {
    var floor = nowMinute - (limit - 1) * MINUTE_MS;
    map.forEach(function (_v, m) { if (m < floor) { map.delete(m); } });
    if (map.size > limit) {
      var keys = Array.from(map.keys()).sort(function (a, b) { return a - b; });
      for (var i = 0; i < keys.length - limit; i++) { map.delete(keys[i]); }
    }
  }

  function isHeatKey(ts, key) {
    for (var i = 0; i < ts.heatRx.length; i++) { if (ts.heatRx[i].test(key)) { return true; } }
    return false;
  }

  // Heatmap fallback: a family without minute series is binned from the growth of its totals.
  function heatFallback(ts, key, total, t, tz) {
    if (ts.minute[key] || !isHeatKey(ts, key)) { return; }
    var prev = ts.heatPrev[key];
    ts.heatPrev[key] = total;
    if (typeof prev !== 'number' || !(total > prev)) { return; }
    var hour = Math.floor((t + tz * MINUTE_MS) / HOUR_MS) * HOUR_MS - tz * MINUTE_MS;
    var bins = seriesMap(ts.heatInc, key);
    bins.set(hour, (bins.get(hour) || 0) + (total - prev));
    var floor = hour - DAY_MS;
    bins.forEach(function (_v, h) { if (h < floor) { bins.delete(h); } });
  }

  function applyMessage(ts, msg, isSnapshot, tz) {
    var k;
    if (isSnapshot) {
      ts.sums = {}; ts.levels = {}; ts.lasts = {}; ts.minute = {}; ts.compare = {}; ts.sources = {}; ts.expect = {};
      ts.snapT = msg.t;
    }
    if (msg.day && ts.day && msg.day !== ts.day) {
      // Midnight: today's totals start again from what this message carries.
      ts.sums = {}; ts.compare = {}; ts.heatPrev = {}; ts.heatInc = {};
    }
    if (msg.day) { ts.day = msg.day; }
    ts.t = msg.t;
    var nowMinute = Math.floor(msg.t / MINUTE_MS) * MINUTE_MS;
    if (msg.minute) {
      for (k in msg.minute) {
        var pairs = msg.minute[k];
        if (!Array.isArray(pairs)) { continue; }
        var map = seriesMap(ts.minute, k);
        for (var i = 0; i < pairs.length; i++) {
          if (Array.isArray(pairs[i]) && typeof pairs[i][1] === 'number') { map.set(pairs[i][0], pairs[i][1]); }
        }
        prune(map, keepFor(ts, k), nowMinute);
      }
    }
    if (msg.sums) {
      for (k in msg.sums) {
        if (typeof msg.sums[k] !== 'number') { continue; }
        heatFallback(ts, k, msg.sums[k], msg.t, tz);
        ts.sums[k] = msg.sums[k];
      }
    }
    if (msg.levels) {
      for (k in msg.levels) {
        if (typeof msg.levels[k] !== 'number') { continue; }
        ts.levels[k] = msg.levels[k];
        var hist = seriesMap(ts.levelHist, k);
        hist.set(nowMinute, msg.levels[k]);
        prune(hist, keepFor(ts, k), nowMinute);
      }
    }
    if (msg.lasts) {
      for (k in msg.lasts) {
        var entries = msg.lasts[k];
        if (!entries || typeof entries !== 'object') { continue; }
        var lasts = ts.lasts[k] || (ts.lasts[k] = new Map());
        for (var e in entries) {
          lasts.delete(e); // re-insert: the Map's order is then oldest-updated first
          lasts.set(e, entries[e]);
        }
        while (lasts.size > LASTS_MAX) { lasts.delete(lasts.keys().next().value); }
      }
    }
    if (msg.compare) { for (k in msg.compare) { ts.compare[k] = msg.compare[k]; } }
    if (msg.sources) { for (k in msg.sources) { ts.sources[k] = msg.sources[k]; } }
    if (msg.expect) { for (k in msg.expect) { ts.expect[k] = msg.expect[k]; } }
  }

  // ---- reading values -----------------------------------------------------------------------------------

  function lastNumbers(ts, key) {
    var out = [];
    var map = ts.lasts[key];
    if (map) { map.forEach(function (v) { var n = numeric(v); if (n !== null) { out.push(n); } }); }
    return out;
  }

  function valueOf(ts, b, how) {
    if (b && b.query) {
      var answer = ts.queries[b.qid];
      return answer && typeof answer.value === 'number' ? answer.value : null;
    }
    if (!b || !b.key || !ts.t) { return null; }
    var kind = b.kind;
    if (!kind) { kind = b.key in ts.levels ? 'level' : b.key in ts.lasts ? 'last' : 'sum'; }
    if (kind === 'sum') { return typeof ts.sums[b.key] === 'number' ? ts.sums[b.key] : 0; }
    if (kind === 'level') { return typeof ts.levels[b.key] === 'number' ? ts.levels[b.key] : 0; }
    if (kind === 'last') { return aggregate(lastNumbers(ts, b.key), how || 'sum'); }
    return null;
  }

  function seriesOf(ts, b) {
    if (!b || !b.key) { return null; }
    return (b.kind === 'level' ? ts.levelHist[b.key] : ts.minute[b.key]) || null;
  }

  // Members of a family glob (`canteen.dish.*`): [{label, key, value}], label = the matched part(s).
  function membersOf(ts, b, rx) {
    var out = [];
    if (b && b.query) {
      var answer = ts.queries[b.qid];
      (answer && answer.rows || []).forEach(function (r) {
        if (typeof r.value === 'number') { out.push({ label: String(r.label), key: String(r.key), value: r.value }); }
      });
      return out;
    }
    if (!b || !b.key || !ts.t || !rx) { return out; }
    var src = b.kind === 'level' ? ts.levels : b.kind === 'last' ? ts.lasts : ts.sums;
    for (var k in src) {
      var m = rx.exec(k);
      if (!m) { continue; }
      var v = b.kind === 'last' ? aggregate(lastNumbers(ts, k), 'sum') : src[k];
      if (typeof v === 'number') { out.push({ label: m.slice(1).join(' \u00b7 '), key: k, value: v }); }
    }
    return out;
  }

  // Minute values from `from` to `to` (inclusive); sums fill gaps with 0, levels carry the last value.
  function dense(map, from, to, carry) {
    var out = [];
    if (!map || !map.size) { return out; }
    var first = Infinity;
    map.forEach(function (_v, m) { if (m >= from && m < first) { first = m; } });
    if (carry) {
      // A level before the first sample in the window is the newest sample before it, if any.
      var before = -Infinity;
      map.forEach(function (_v, m) { if (m < from && m > before) { before = m; } });
      if (before > -Infinity) { first = from; }
      var last = before > -Infinity ? map.get(before) : null;
      for (var m = from; m <= to; m += MINUTE_MS) {
        if (m < first) { out.push(null); continue; }
        if (map.has(m)) { last = map.get(m); }
        out.push(last);
      }
      return out;
    }
    if (first === Infinity) { return out; }
    for (var n = from; n <= to; n += MINUTE_MS) { out.push(n < first ? null : (map.get(n) || 0)); }
    return out;
  }

  // A binding's minute values from `from` up to now, merged into periods of `step` minutes of the local clock
  // (:00, :15, ...) and capped at CHART_POINTS_MAX points. A sum's minute (or period) in progress is left out,
  // so a curve does not dip at its end; a level's is shown.
  function seriesValues(ts, b, ctx, from, step) {
    var now = ctx.now();
    var isLevel = b.kind === 'level';
    var end = Math.floor(now / MINUTE_MS) * MINUTE_MS - (isLevel ? 0 : MINUTE_MS);
    if (step > 1) {
      var day0 = ctx.dayStart(now);
      var period = step * MINUTE_MS;
      var current = day0 + Math.floor((now - day0) / period) * period;
      end = isLevel ? current + period - MINUTE_MS : current - MINUTE_MS;
      from = day0 + Math.floor((from - day0) / period) * period;
    }
    return bucket(chunks(dense(seriesOf(ts, b), from, end, isLevel), step, isLevel), isLevel);
  }

  // Buckets of at most CHART_POINTS_MAX points: sums add up, levels average.
  function bucket(values, average) {
    return values.length <= CHART_POINTS_MAX ? values : chunks(values, Math.ceil(values.length / CHART_POINTS_MAX), average);
  }

  // Consecutive runs of `size` values merged into one: summed, or averaged (levels); all-null runs stay null.
  function chunks(values, size, average) {
    if (size <= 1) { return values; }
    var out = [];
    for (var i = 0; i < values.length; i += size) {
      var sum = 0;
      var n = 0;
      for (var j = i; j < Math.min(values.length, i + size); j++) {
        if (values[j] !== null) { sum += values[j]; n += 1; }
      }
      out.push(n ? (average ? sum / n : sum) : null);
    }
    return out;
  }

  // Polyline points and the closed area path for `values` in a w x h box (y grows downwards).
  function linePaths(values, w, h, pad, max) {
    var n = values.length;
    var pts = [];
    var firstX = null;
    var lastX = null;
    for (var i = 0; i < n; i++) {
      if (values[i] === null) { continue; }
      var x = n === 1 ? w : (i / (n - 1)) * w;
      var y = h - pad - (max > 0 ? values[i] / max : 0) * (h - 2 * pad);
      pts.push(x.toFixed(1) + ',' + y.toFixed(1));
      if (firstX === null) { firstX = x; }
      lastX = x;
    }
    if (pts.length < 2) { return { line: '', area: '' }; } // one sample is not a line yet
    var line = pts.join(' ');
    var area = 'M' + firstX.toFixed(1) + ',' + h + ' L' + pts.join(' L') + ' L' + lastX.toFixed(1) + ',' + h + ' Z';
    return { line: line, area: area };
  }

  function maxOf(lists) {
    var max = 0;
    lists.forEach(function (vs) { vs.forEach(function (v) { if (v !== null && v > max) { max = v; } }); });
    return max;
  }

  function thresholdColor(thresholds, v) {
    if (v === null || !Array.isArray(thresholds)) { return null; }
    var best = null;
    thresholds.forEach(function (t) {
      if (typeof t.above === 'number' && v > t.above && (best === null || t.above >= best.above)) { best = t; }
    });
    return best ? best.color : null;
  }

  function applyThreshold(el, color) {
    THRESHOLD_CLASSES.forEach(function (c) { setClass(el, c, c === 'sc-' + color); });
  }

  // ---- panel types -----------------------------------------------------------------------------------------
  // Each type: setup(p, ctx) once; fast(p, ctx) for numbers (<= 10/s); slow(p, ctx) for charts (<= 1/s).

  function fitNumber(p) {
    // A long number shrinks to its box instead of being cut: measured in design px (the canvas transform
    // does not change layout sizes).
    var box = p.valueEl;
    if (!box || !p.num) { return; }
    p.num.style.fontSize = '';
    if (!box.clientWidth || box.scrollWidth <= box.clientWidth) { return; }
    var base = parseFloat(getComputedStyle(p.num).fontSize) || 60;
    var numW = p.num.offsetWidth;
    var target = numW - (box.scrollWidth - box.clientWidth) - 2;
    if (numW > 0) { p.num.style.fontSize = Math.max(16, Math.floor(base * target / numW)) + 'px'; }
  }

  function showNumber(p, ctx, v, format) {
    var text = v === null ? DASH : ctx.fmt(v, format);
    var changed = setText(p.num, text);
    if (changed && p.hadNumber && v !== null && ctx.isLive()) { ctx.flash(p.num); }
    if (changed && text.length !== p.numLen) {
      p.numLen = text.length;
      fitNumber(p);
    }
    p.hadNumber = v !== null;
    p.text = text;
  }

  function sparkPaths(svg, w, h) {
    var g = ownGroup(svg, 'sc-own');
    var area = makeSvg('path', { 'class': 'sc-area', d: '' });
    var line = makeSvg('polyline', { 'class': 'sc-line', points: '', 'vector-effect': 'non-scaling-stroke' });
    g.appendChild(area);
    g.appendChild(line);
    return { area: area, line: line, w: w, h: h };
  }

  var TYPES = {};
  // Panel types kept in their own files (assets/screen_<type>.js, which Dash loads after this one) add
  // themselves to TYPES through this object before any page mounts; they may use the helpers it lists.
  window.CCScreen = {
    TYPES: TYPES, make: make, makeSvg: makeSvg, setText: setText, setAttr: setAttr, setClass: setClass,
    clear: clear, membersOf: membersOf, valueOf: valueOf, thresholdColor: thresholdColor
  };

  TYPES.kpi = {
    setup: function (p, ctx) {
      p.num = p.el.querySelector('.sc-num');
      p.valueEl = p.el.querySelector('.sc-value');
      p.unitEl = p.el.querySelector('.sc-unit');
      p.deltas = Array.prototype.map.call(p.el.querySelectorAll('.sc-delta'), function (el) {
        var ref = el.getAttribute('data-ref');
        var label = ctx.lbl(COMPARE_LABELS[ref] || 'vs-last-day');
        setAttr(el, 'data-lbl', label);
        return { el: el, ref: COMPARE_REFS[ref] || ref, label: label };
      });
      if (p.spec.sparkline) {
        var svg = svgFor(p.el, 'sc-spark');
        if (svg) { p.spark = sparkPaths(svg, 100, 30); }
      }
      p.agg = aggOf(p.spec);
    },
    value: function (p) {
      var b = p.spec.bind && p.spec.bind[0];
      var v = valueOf(p.ts, b, p.agg);
      if (p.spec.per) {
        var d = valueOf(p.ts, p.spec.per, p.agg);
        v = v === null || !d ? null : v / d;
      }
      return v;
    },
    fast: function (p, ctx) {
      var v = TYPES.kpi.value(p);
      p.value = v;
      showNumber(p, ctx, v, p.spec.format);
      applyThreshold(p.el, thresholdColor(p.spec.thresholds, v));
      var b = p.spec.bind && p.spec.bind[0];
      var today = valueOf(p.ts, b, p.agg);
      var cmp = b && b.key ? p.ts.compare[b.key] : null;
      p.delta = null;
      p.deltas.forEach(function (d) {
        var ref = cmp && cmp[d.ref];
        var text = DASH;
        var sign = 0;
        if (ref && typeof ref.value === 'number' && ref.value > 0 && today !== null) {
          var pct = Math.round((today - ref.value) / ref.value * 100);
          sign = pct > 0 ? 1 : pct < 0 ? -1 : 0;
          text = (pct > 0 ? '+' : pct < 0 ? MINUS : '') + ctx.fmt(Math.abs(pct), { decimals: 0 }) + '%';
          if (!p.delta) { p.delta = { label: d.label, text: text }; }
        }
        setText(d.el, text);
        setClass(d.el, 'sc-up', sign > 0);
        setClass(d.el, 'sc-down', sign < 0);
      });
    },
    slow: function (p, ctx) {
      if (!p.spark) { return; }
      var b = p.spec.bind && p.spec.bind[0];
      var values = b ? seriesValues(p.ts, b, ctx, ctx.dayStart(ctx.now()), p.spec.bucket_min || 1) : [];
      var paths = linePaths(values, 100, 30, 2, maxOf([values]));
      setAttr(p.spark.line, 'points', paths.line);
      setAttr(p.spark.area, 'd', paths.area);
    }
  };

  TYPES.trend = {
    setup: function (p) {
      var svg = svgFor(p.el, 'sc-chart');
      p.lines = [];
      var series = p.spec.series || [];
      var legend = p.el.querySelectorAll('.sc-legend li');
      Array.prototype.forEach.call(legend, function (li, i) { li.classList.add('sc-s' + (i % 8)); });
      if (!svg) { return; }
      var g = ownGroup(svg, 'sc-own');
      series.forEach(function (_s, i) {
        var area = makeSvg('path', { 'class': 'sc-area sc-s' + (i % 8), d: '' });
        var line = makeSvg('polyline', { 'class': 'sc-line sc-s' + (i % 8), points: '', 'vector-effect': 'non-scaling-stroke' });
        if (p.spec.style === 'area') { g.appendChild(area); }
        p.lines.push({ area: area, line: line });
      });
      p.lines.forEach(function (l) { g.appendChild(l.line); }); // lines above every area
    },
    fast: function () {},
    slow: function (p, ctx) {
      var series = p.spec.series || [];
      var win = Math.max(5, p.spec.window_min || DEFAULT_WINDOW_MIN);
      var from = Math.floor(ctx.now() / MINUTE_MS) * MINUTE_MS - win * MINUTE_MS;
      var all = series.map(function (s) {
        if (s.query) { // days or hours from the warehouse, already whole periods
          var answer = p.ts.queries[s.qid];
          return bucket((answer && answer.points || []).map(function (pt) { return typeof pt[1] === 'number' ? pt[1] : null; }), false);
        }
        return seriesValues(p.ts, s, ctx, from, p.spec.bucket_min || 1);
      });
      var max = maxOf(all) * 1.08;
      all.forEach(function (values, i) {
        if (!p.lines[i]) { return; }
        var paths = linePaths(values, 400, 200, 4, max);
        setAttr(p.lines[i].line, 'points', paths.line);
        setAttr(p.lines[i].area, 'd', paths.area);
      });
    }
  };

  TYPES.ranking = {
    setup: function (p) {
      p.list = p.el.querySelector('.sc-bars');
      p.top = Math.max(1, p.spec.top || 10);
      p.rx = p.spec.bind && p.spec.bind[0] && p.spec.bind[0].key ? globRx(p.spec.bind[0].key) : null;
      p.rows = [];
      if (p.list) { p.list.style.gridTemplateRows = 'repeat(' + p.top + ', minmax(0, 1fr))'; }
    },
    fast: function () {},
    slow: function (p, ctx) {
      if (!p.list) { return; }
      var items = membersOf(p.ts, p.spec.bind[0], p.rx);
      items.sort(function (a, b) { return b.value - a.value || naturalCompare(a.label, b.label); });
      items = items.slice(0, p.top);
      var max = items.length ? Math.max(items[0].value, 0) : 0;
      if (!items.length) {
        p.rows.forEach(function (r) { p.list.removeChild(r.li); });
        p.rows = [];
        if (!p.empty) {
          p.empty = make('li', 'sc-empty', ctx.lbl('no-data'));
          p.list.appendChild(p.empty);
        }
        return;
      }
      if (p.empty) { p.list.removeChild(p.empty); p.empty = null; }
      while (p.rows.length < items.length) {
        var li = make('li');
        var row = { li: li, label: make('span', 'sc-bar-label'), bar: make('span', 'sc-bar'), value: make('span', 'sc-bar-value') };
        li.appendChild(row.label);
        li.appendChild(row.bar);
        li.appendChild(row.value);
        p.list.appendChild(li);
        p.rows.push(row);
      }
      while (p.rows.length > items.length) { p.list.removeChild(p.rows.pop().li); }
      var unit = p.spec.unit ? ' ' + p.spec.unit : '';
      items.forEach(function (it, i) {
        var r = p.rows[i];
        setText(r.label, nameOf(p.spec, it.label));
        setAttr(r.label, 'title', it.label);
        setText(r.value, ctx.fmt(it.value, p.spec.format) + unit);
        setStyle(r.bar, 'width', (max > 0 ? Math.max(0, it.value) / max * 100 : 0).toFixed(1) + '%');
      });
    }
  };

  TYPES.donut = {
    setup: function (p) {
      var svg = svgFor(p.el, 'sc-donut');
      var legend = p.el.querySelector('.sc-legend');
      p.slices = (p.spec.slices || []).map(function (s, i) { return { spec: s, cls: 'sc-s' + (i % 8) }; });
      if (svg) {
        var g = ownGroup(svg, 'sc-own');
        g.appendChild(makeSvg('circle', { 'class': 'sc-ring', cx: 50, cy: 50, r: DONUT_R }));
        var arcs = makeSvg('g', { transform: 'rotate(-90 50 50)' });
        g.appendChild(arcs);
        p.slices.forEach(function (s) {
          s.arc = makeSvg('circle', { 'class': 'sc-arc ' + s.cls, cx: 50, cy: 50, r: DONUT_R, 'stroke-dasharray': '0 ' + DONUT_C });
          arcs.appendChild(s.arc);
        });
        p.total = makeSvg('text', { 'class': 'sc-donut-total', x: 50, y: 52, 'text-anchor': 'middle', 'dominant-baseline': 'middle' });
        p.total.textContent = DASH;
        g.appendChild(p.total);
        if (p.spec.unit) {
          var unit = makeSvg('text', { 'class': 'sc-donut-unit', x: 50, y: 66, 'text-anchor': 'middle' });
          unit.textContent = p.spec.unit;
          g.appendChild(unit);
        }
      }
      if (legend) {
        clear(legend);
        p.slices.forEach(function (s) {
          var li = make('li', s.cls);
          li.appendChild(make('span', 'sc-sw'));
          s.label = make('span', 'sc-lg-label', s.spec.label || s.spec.key || '');
          s.value = make('span', 'sc-lg-value', DASH);
          s.pct = make('span', 'sc-lg-pct', '');
          li.appendChild(s.label);
          li.appendChild(s.value);
          li.appendChild(s.pct);
          legend.appendChild(li);
        });
      }
    },
    fast: function () {},
    slow: function (p, ctx) {
      var values = p.slices.map(function (s) { return valueOf(p.ts, s.spec, 'sum'); });
      var total = 0;
      var known = false;
      values.forEach(function (v) { if (v !== null) { known = true; total += Math.max(0, v); } });
      var acc = 0;
      p.slices.forEach(function (s, i) {
        var v = values[i];
        var share = total > 0 && v !== null ? Math.max(0, v) / total : 0;
        var len = share * DONUT_C;
        var gap = len > 1.2 && share < 1 ? 0.8 : 0; // a hairline between neighbouring slices
        if (s.arc) {
          setAttr(s.arc, 'stroke-dasharray', (len - gap).toFixed(2) + ' ' + (DONUT_C - len + gap).toFixed(2));
          setAttr(s.arc, 'stroke-dashoffset', (-acc).toFixed(2));
        }
        acc += len;
        if (s.value) {
          setText(s.value, v === null ? DASH : ctx.fmt(v, p.spec.format));
          setText(s.pct, v === null || total <= 0 ? '' : ctx.fmt(share * 100, { decimals: 0 }) + '%');
        }
      });
      if (p.total) { setText(p.total, known ? ctx.fmt(total, p.spec.format) : DASH); }
    }
  };

  // A gauge's max is fixed, or comes from `max_from` (e.g. today's energy quota): then its thresholds are
  // fractions of that max and the scale is redrawn when the max changes.
  TYPES.gauge = {
    setup: function (p, ctx) {
      p.num = p.el.querySelector('.sc-num');
      p.valueEl = p.el.querySelector('.sc-value');
      var svg = svgFor(p.el, 'sc-gauge');
      p.min = typeof p.spec.min === 'number' ? p.spec.min : 0;
      p.max = typeof p.spec.max === 'number' && p.spec.max > p.min ? p.spec.max : p.min + 1;
      p.thresholds = TYPES.gauge.absolute(p, p.max);
      p.agg = aggOf(p.spec);
      if (!svg) { return; }
      var d = 'M 10 52 A 40 40 0 0 1 90 52';
      var g = ownGroup(svg, 'sc-own');
      g.appendChild(makeSvg('path', { 'class': 'sc-gauge-track', d: d, pathLength: 100 }));
      p.arc = makeSvg('path', { 'class': 'sc-gauge-val', d: d, pathLength: 100, 'stroke-dasharray': '0 100' });
      g.appendChild(p.arc);
      p.scale = makeSvg('g', {});
      g.appendChild(p.scale);
      TYPES.gauge.scale(p, ctx);
    },
    absolute: function (p, max) {
      var list = p.spec.thresholds || [];
      if (!p.spec.max_from) { return list; }
      return list.map(function (t) { return { above: t.above * max, color: t.color }; });
    },
    scale: function (p, ctx) {
      clear(p.scale);
      p.thresholds.forEach(function (t) {
        if (typeof t.above !== 'number' || t.above <= p.min || t.above >= p.max) { return; }
        var a = Math.PI * (1 - (t.above - p.min) / (p.max - p.min));
        var c = Math.cos(a);
        var s = Math.sin(a);
        p.scale.appendChild(makeSvg('line', {
          'class': 'sc-gauge-tick sc-tk-' + t.color,
          x1: (50 + 33 * c).toFixed(2), y1: (52 - 33 * s).toFixed(2), x2: (50 + 47 * c).toFixed(2), y2: (52 - 47 * s).toFixed(2)
        }));
      });
      var lo = makeSvg('text', { 'class': 'sc-gauge-end', x: 10, y: 59, 'text-anchor': 'middle' });
      lo.textContent = ctx.fmt(p.min, { decimals: 0 });
      var hi = makeSvg('text', { 'class': 'sc-gauge-end', x: 90, y: 59, 'text-anchor': 'middle' });
      hi.textContent = ctx.fmt(p.max, { decimals: 0 });
      p.scale.appendChild(lo);
      p.scale.appendChild(hi);
    },
    fast: function (p, ctx) {
      var v = valueOf(p.ts, p.spec.bind && p.spec.bind[0], p.agg);
      p.value = v;
      showNumber(p, ctx, v, p.spec.format);
      applyThreshold(p.el, thresholdColor(p.thresholds, v));
    },
    slow: function (p, ctx) {
      if (!p.arc) { return; }
      var m = p.spec.max_from ? valueOf(p.ts, p.spec.max_from) : null;
      if (typeof m === 'number' && m > p.min && m !== p.max) {
        p.max = m;
        p.thresholds = TYPES.gauge.absolute(p, m);
        TYPES.gauge.scale(p, ctx);
        applyThreshold(p.el, thresholdColor(p.thresholds, p.value));
      }
      var frac = p.value === null || p.value === undefined ? 0 : (p.value - p.min) / (p.max - p.min);
      frac = Math.max(0, Math.min(1, frac));
      setAttr(p.arc, 'stroke-dasharray', (frac * 100).toFixed(2) + ' 100');
    }
  };

  TYPES.heatmap = {
    setup: function (p) {
      p.box = p.el.querySelector('.sc-heat');
      p.rx = p.spec.bind && p.spec.bind[0] && p.spec.bind[0].key ? globRx(p.spec.bind[0].key) : null;
      p.rowsKey = null;
      p.cells = {};
    },
    fast: function () {},
    build: function (p, labels, ctx) {
      clear(p.box);
      p.cells = {};
      p.empty = null;
      if (!labels.length) {
        p.box.style.gridTemplateRows = '';
        p.empty = make('div', 'sc-empty', ctx.lbl('no-data'));
        p.box.appendChild(p.empty);
        return;
      }
      p.box.style.gridTemplateRows = 'auto repeat(' + labels.length + ', minmax(0, 1fr))';
      p.box.appendChild(make('span', 'sc-heat-corner'));
      for (var h = 0; h < 24; h++) { p.box.appendChild(make('span', 'sc-heat-hour', h % 3 === 0 ? String(h) : '')); }
      labels.forEach(function (label) {
        var lab = make('span', 'sc-heat-label', nameOf(p.spec, label));
        lab.title = nameOf(p.spec, label);
        p.box.appendChild(lab);
        var row = [];
        for (var i = 0; i < 24; i++) {
          var c = make('span', 'sc-cell');
          p.box.appendChild(c);
          row.push(c);
        }
        p.cells[label] = row;
      });
    },
    slow: function (p, ctx) {
      if (!p.box) { return; }
      var ts = p.ts;
      var byLabel = {};
      if (p.rx && ts.t) {
        var keys = {};
        var k;
        for (k in ts.sums) { keys[k] = true; }
        for (k in ts.minute) { keys[k] = true; }
        for (k in keys) {
          var m = p.rx.exec(k);
          if (m) { byLabel[m.slice(1).join(' \u00b7 ')] = k; }
        }
      }
      var labels = Object.keys(byLabel).sort(naturalCompare).slice(0, 40);
      var rowsKey = labels.join('\n');
      if (rowsKey !== p.rowsKey) {
        p.rowsKey = rowsKey;
        TYPES.heatmap.build(p, labels, ctx);
      }
      var now = ctx.now();
      var start = ctx.dayStart(now);
      var nowHour = Math.floor((now - start) / HOUR_MS);
      var bins = {};
      var max = 0;
      labels.forEach(function (label) {
        var key = byLabel[label];
        var row = [];
        for (var i = 0; i < 24; i++) { row.push(0); }
        var src = ts.minute[key] || ts.heatInc[key]; // minute buckets, or hour buckets of the fallback
        if (src) {
          src.forEach(function (v, at) {
            if (at < start || at >= start + DAY_MS || typeof v !== 'number') { return; }
            row[Math.floor((at - start) / HOUR_MS)] += v;
          });
        }
        row.forEach(function (v) { if (v > max) { max = v; } });
        bins[label] = row;
      });
      labels.forEach(function (label) {
        var cells = p.cells[label];
        var row = bins[label];
        for (var i = 0; i < 24; i++) {
          var future = i > nowHour;
          setClass(cells[i], 'sc-future', future);
          var o = future || max <= 0 || row[i] <= 0 ? '' : (0.12 + 0.88 * row[i] / max).toFixed(2);
          setStyle(cells[i], 'opacity', o);
          setClass(cells[i], 'sc-zero', !future && row[i] <= 0);
        }
      });
    }
  };

  TYPES.alarm_ticker = {
    setup: function (p, ctx) {
      p.list = p.el.querySelector('.sc-ticker');
      var levels = p.spec.levels || SEVERITIES.map(function (s) { return 'security.open.' + s; });
      p.levels = levels.map(function (key, i) {
        var sev = String(key).split('.').pop();
        var label = (p.spec.labels && p.spec.labels[i]) || ctx.lbl('sev-' + sev) || sev;
        return { key: key, sev: sev, label: label, li: null };
      });
      p.maxItems = Math.max(1, p.spec.max_items || 10);
      p.calm = make('li', 'sc-calm', ctx.lbl('no-alarms'));
      p.shown = [];
    },
    fast: function (p, ctx) {
      if (!p.list) { return; }
      var want = [];
      if (p.ts.t) {
        p.levels.forEach(function (lv) {
          var n = valueOf(p.ts, { key: lv.key, kind: 'level' });
          if (n > 0 && want.length < p.maxItems) {
            if (!lv.li) {
              lv.li = make('li', 'sc-sev-' + lv.sev);
              lv.li.appendChild(make('span', 'sc-sev', lv.label));
              lv.count = make('span', 'sc-count');
              lv.li.appendChild(lv.count);
              if (p.spec.unit) { lv.li.appendChild(make('span', 'sc-unit', p.spec.unit)); }
            }
            setText(lv.count, ctx.fmt(n, { decimals: 0 }));
            want.push(lv.li);
          }
        });
        if (!want.length) { want.push(p.calm); }
      }
      var same = want.length === p.shown.length && want.every(function (li, i) { return li === p.shown[i]; });
      if (!same) {
        p.shown.forEach(function (li) { if (want.indexOf(li) < 0) { p.list.removeChild(li); } });
        want.forEach(function (li) { p.list.appendChild(li); }); // moves existing items into order
        p.shown = want;
      }
      setClass(p.el, 'sc-alarming', want.some(function (li) { return /sc-sev-(critical|high)/.test(li.className); }));
    },
    slow: function () {}
  };

  TYPES.event_table = {
    setup: function (p) {
      p.body = p.el.querySelector('.sc-table tbody');
      p.columns = p.spec.columns || [];
      p.pageSize = Math.max(1, p.spec.page_size || 10);
      p.dwellMs = Math.max(3, p.spec.dwell_s || 10) * 1000;
      p.page = 0;
      p.pages = 1;
      p.pageAt = Date.now();
      p.trs = [];
    },
    fast: function () {},
    cell: function (entity, value, key) {
      if (Array.isArray(value)) { value = value[value.length - 1]; }
      if (value !== null && typeof value === 'object') { return key in value ? value[key] : (key === 'id' ? entity : null); }
      if (key === 'id' || key === 'entity') { return entity; }
      return value;
    },
    slow: function (p, ctx) {
      if (!p.body) { return; }
      var b = p.spec.bind && p.spec.bind[0];
      var entries = b && b.key ? p.ts.lasts[b.key] : null;
      var rows = [];
      if (entries) {
        entries.forEach(function (v, id) {
          rows.push({ id: id, cells: p.columns.map(function (c) {
            var cell = TYPES.event_table.cell(id, v, c.key);
            var names = p.spec.names && p.spec.names[c.key];
            return names && typeof cell === 'string' && Object.prototype.hasOwnProperty.call(names, cell) ? names[cell] : cell;
          }) });
        });
      }
      rows.sort(function (a, b2) {
        return naturalCompare(a.cells[0] === null ? '' : a.cells[0], b2.cells[0] === null ? '' : b2.cells[0]) ||
          naturalCompare(a.id, b2.id);
      });
      p.pages = Math.max(1, Math.ceil(rows.length / p.pageSize));
      if (p.page >= p.pages) { p.page = 0; }
      var slice = rows.slice(p.page * p.pageSize, (p.page + 1) * p.pageSize);
      if (!rows.length) { slice = [{ id: '', cells: [ctx.lbl('no-data')], empty: true }]; }
      while (p.trs.length < slice.length) {
        var tr = make('tr');
        var tds = p.columns.map(function () { var td = make('td'); tr.appendChild(td); return td; });
        p.body.appendChild(tr);
        p.trs.push({ tr: tr, tds: tds });
      }
      while (p.trs.length > slice.length) { p.body.removeChild(p.trs.pop().tr); }
      var fmtCell = { decimals: 0 };
      slice.forEach(function (row, i) {
        var r = p.trs[i];
        setClass(r.tr, 'sc-empty', !!row.empty);
        var flagged = false;
        r.tds.forEach(function (td, j) {
          var v = row.cells[j];
          var text;
          if (typeof v === 'number') {
            fmtCell.decimals = Math.round(v) === v ? 0 : Math.max(1, (p.spec.format && p.spec.format.decimals) || 1);
            text = ctx.fmt(v, fmtCell);
          } else {
            text = v === null || v === undefined ? (row.empty ? '' : DASH) : String(v);
          }
          setText(td, text);
          setClass(td, 'sc-num-cell', typeof v === 'number');
          // Thresholds apply to the first numeric column (a queue's length, say).
          var color = null;
          if (!flagged && typeof v === 'number') {
            flagged = true;
            color = thresholdColor(p.spec.thresholds, v);
          }
          applyThreshold(td, color);
        });
      });
      if (p.titleEl) { setAttr(p.titleEl, 'data-page', p.pages > 1 ? (p.page + 1) + '/' + p.pages : ''); }
    },
    tick: function (p, now) {
      if (p.pages > 1 && now - p.pageAt >= p.dwellMs) {
        p.page = (p.page + 1) % p.pages;
        p.pageAt = now;
        return true;
      }
      return false;
    }
  };

  TYPES.header = {
    setup: function (p) {
      p.briefing = p.el.querySelector('.sc-briefing');
      p.fresh = p.el.querySelector('.sc-fresh');
      p.clock = p.el.querySelector('.sc-clock');
    },
    fast: function () {},
    slow: function (p, ctx) {
      if (p.briefing && p.spec.briefing) {
        var en = ctx.lang === 'en';
        var parts = [];
        p.slide.panels.forEach(function (q) {
          if (q.type !== 'kpi' || parts.length >= 3 || q.value === null || q.value === undefined) { return; }
          var unit = q.spec.unit || '';
          var s = en ? q.spec.title + ' ' + q.text + (unit ? ' ' + unit : '') : q.spec.title + q.text + unit;
          if (q.delta) { s += en ? ', ' + q.delta.label + ' ' + q.delta.text : '\uff0c' + q.delta.label + q.delta.text; }
          parts.push(s);
        });
        setText(p.briefing, parts.join(ctx.lbl('briefing-sep')));
      }
    }
  };

  // ---- the page -------------------------------------------------------------------------------------------

  function parseJson(text) {
    try {
      var obj = JSON.parse(text || '{}');
      return obj && typeof obj === 'object' ? obj : {};
    } catch (e) {
      return null;
    }
  }

  function parseSpec(el) {
    var spec = parseJson(el.getAttribute('data-spec'));
    if (spec === null) { console.warn('screen.js: bad data-spec on #' + el.id); }
    return spec || {};
  }

  // A family member's display name (1号楼 for B01) from the master data the page carries, else its id.
  function nameOf(spec, id) {
    var names = spec.names;
    return names && Object.prototype.hasOwnProperty.call(names, id) ? names[id] : id;
  }

  // The ids of the named warehouse queries a panel binds (answered by askQueries in mount).
  function queryIds(p) {
    if (!p.qids) {
      var binds = (p.spec.bind || []).concat(p.spec.per ? [p.spec.per] : [], p.spec.max_from ? [p.spec.max_from] : []);
      p.qids = binds.filter(function (b) { return b && b.query && b.qid; }).map(function (b) { return b.qid; });
    }
    return p.qids;
  }

  // Every metric key a panel's spec names (bindings, series, slices...), into `into`.
  function bindingKeys(spec, into) {
    if (Array.isArray(spec)) {
      spec.forEach(function (x) { bindingKeys(x, into); });
    } else if (spec && typeof spec === 'object') {
      for (var k in spec) {
        if (k === 'key' && typeof spec[k] === 'string') { into[spec[k]] = true; } else { bindingKeys(spec[k], into); }
      }
    }
    return into;
  }

  // A topic's values carry over to the page that replaces this one; what it keeps is set again by mount().
  function adoptTopic(prev, name) {
    var ts = prev && prev.topics[name];
    if (!ts) { return newTopic(name); }
    ts.keepMin = {};
    ts.windowMin = DEFAULT_WINDOW_MIN;
    ts.heatRx = [];
    ts.keepCache = {};
    return ts;
  }

  // `prev`: what the page this one replaces handed over (hot reload), or null.
  function mount(root, prev) {
    var lang = root.getAttribute('data-lang') === 'en' ? 'en' : 'zh';
    var kiosk = root.getAttribute('data-kiosk') === '1';
    var banner = root.querySelector('.sc-banner');
    var reduceMotion = window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches;
    var clock = prev ? prev.clock : { offset: 0, tz: -new Date().getTimezoneOffset() };
    var stopped = false;
    var timers = {};

    function lbl(name, vars) {
      var s = root.getAttribute('data-lbl-' + name);
      if (s === null) { s = FALLBACK_LABELS[lang][name] || ''; }
      if (vars) {
        if ('n' in vars) { s = s.replace('{n}', String(vars.n)); }
        if ('t' in vars) { s = s.replace('{t}', String(vars.t)); }
      }
      return s;
    }

    function serverNow() { return Date.now() + clock.offset; }

    function localParts(ms) {
      var d = new Date(ms + clock.tz * MINUTE_MS);
      return { h: d.getUTCHours(), mi: d.getUTCMinutes(), s: d.getUTCSeconds() };
    }

    var ctx = {
      lang: lang,
      fmt: makeFormatter(lang),
      lbl: lbl,
      now: serverNow,
      dayStart: function (ms) {
        var shift = clock.tz * MINUTE_MS;
        return Math.floor((ms + shift) / DAY_MS) * DAY_MS - shift;
      },
      // Highlights mark live changes only: not a resync after an outage, nor a slide coming into view.
      quiet: false,
      isLive: function () { return status === 'connected' && !ctx.quiet; },
      flash: function (el) {
        if (!reduceMotion && !el.classList.contains('sc-changed')) { el.classList.add('sc-changed'); }
      }
    };

    function hhmm(ms) { var p = localParts(ms); return pad2(p.h) + ':' + pad2(p.mi); }
    function hhmmss(ms) { var p = localParts(ms); return pad2(p.h) + ':' + pad2(p.mi) + ':' + pad2(p.s); }

    // ---- slides and panels ----
    var topics = {};
    var slides = Array.prototype.map.call(root.querySelectorAll('.sc-slide'), function (el) {
      var canvas = el.querySelector('.sc-canvas') || el;
      var name = el.getAttribute('data-topic') || '';
      var ts = topics[name] || (topics[name] = adoptTopic(prev, name));
      var known = prev && ts.t ? prev.keys[name] || {} : null;
      var slide = {
        el: el,
        screen: el.getAttribute('data-screen') || '',
        params: parseJson(el.getAttribute('data-params')),
        canvas: canvas,
        topic: name,
        ts: ts,
        w: parseFloat(el.getAttribute('data-design-w')) || parseFloat(canvas.style.width) || 1920,
        h: parseFloat(el.getAttribute('data-design-h')) || parseFloat(canvas.style.height) || 1080,
        dwell: parseFloat(el.getAttribute('data-dwell')) || 0,
        scale: 1,
        panels: []
      };
      slide.panels = Array.prototype.map.call(canvas.querySelectorAll('.sc-panel'), function (pel) {
        var spec = parseSpec(pel);
        var type = pel.getAttribute('data-type') || spec.type || '';
        var p = {
          el: pel, type: type, spec: spec, slide: slide, ts: ts, impl: TYPES[type] || null,
          ageEl: pel.querySelector('.sc-age'), fd: true, sd: true, value: null, text: DASH, delta: null,
          titleEl: pel.querySelector('.sc-ptitle'),
          waiting: !!known && Object.keys(bindingKeys(spec, {})).some(function (k) { return !known[k]; })
        };
        if (p.impl) {
          try { p.impl.setup(p, ctx); } catch (e) { console.error('screen.js: panel ' + pel.id, e); p.impl = null; }
        }
        return p;
      });
      return slide;
    });
    if (!slides.length) {
      if (prev && prev.socket) { prev.socket.close(); }
      return { root: root, stop: function () {} };
    }

    root.classList.add('sc-live');
    setClass(root, 'sc-kiosk', kiosk);
    document.documentElement.classList.add('sc-screen');
    function onAnimationEnd(ev) {
      if (ev.animationName === 'sc-changed') { ev.target.classList.remove('sc-changed'); }
    }
    root.addEventListener('animationend', onAnimationEnd);

    // What each topic keeps: window_min + KEEP_EXTRA minutes per key (see keepFor).
    slides.forEach(function (s) {
      s.panels.forEach(function (p) {
        var ts = s.ts;
        if (p.type === 'trend') {
          var w = p.spec.window_min || DEFAULT_WINDOW_MIN;
          ts.windowMin = Math.max(ts.windowMin, w);
          (p.spec.series || []).forEach(function (b) {
            if (b.key) { ts.keepMin[b.key] = Math.max(ts.keepMin[b.key] || 0, w); }
          });
        } else if (p.type === 'heatmap' && p.spec.bind && p.spec.bind[0] && p.spec.bind[0].key) {
          ts.heatRx.push(globRx(p.spec.bind[0].key));
        }
      });
    });

    // The first slide the page shows (normally the first one; after a hot reload the one that was showing, if
    // its screen is still in the playlist); exactly one slide is visible.
    var current = Math.max(0, slides.findIndex(function (s) { return !s.el.hidden; }));
    var shownAt = Date.now();
    if (prev) {
      var same = slides[prev.index] && slides[prev.index].screen === prev.screen ? prev.index :
        slides.findIndex(function (s) { return s.screen === prev.screen; });
      if (same >= 0) {
        current = same;
        shownAt = prev.shownAt;
      }
    }
    slides.forEach(function (s, i) { if (s.el.hidden !== (i !== current)) { s.el.hidden = i !== current; } });

    // ---- auto-fit ----
    var fitFrame = 0;
    var dprQuery = null;
    function fit() {
      fitFrame = 0;
      var W = root.clientWidth || window.innerWidth;
      var H = root.clientHeight || window.innerHeight;
      var dpr = window.devicePixelRatio || 1;
      slides.forEach(function (s) {
        var k = Math.min(W / s.w, H / s.h);
        if (!(k > 0)) { return; }
        s.scale = k;
        var left = Math.round((W - s.w * k) / 2 * dpr) / dpr;
        var top = Math.round((H - s.h * k) / 2 * dpr) / dpr;
        var st = s.canvas.style;
        setStyle(s.canvas, 'width', s.w + 'px');
        setStyle(s.canvas, 'height', s.h + 'px');
        st.position = 'absolute';
        st.left = left + 'px';
        st.top = top + 'px';
        st.transformOrigin = '0 0';
        setStyle(s.canvas, 'transform', 'scale(' + k.toFixed(6) + ')');
      });
    }
    function scheduleFit() {
      if (!fitFrame && !stopped) { fitFrame = requestAnimationFrame(fit); }
    }
    function watchDpr() {
      if (!window.matchMedia) { return; }
      if (dprQuery) { dprQuery.removeEventListener('change', onDprChange); }
      dprQuery = window.matchMedia('(resolution: ' + (window.devicePixelRatio || 1) + 'dppx)');
      dprQuery.addEventListener('change', onDprChange);
    }
    function onDprChange() { scheduleFit(); watchDpr(); }
    window.addEventListener('resize', scheduleFit);
    watchDpr();
    fit();

    // ---- drawing: coalesced in animation frames ----
    var frame = 0;
    var frameTimer = null;
    var frameDue = 0;  // when the pending frameTimer fires (ms since the epoch)
    var lastFast = 0;
    var lastSlow = 0;
    var quietFlush = false;

    function visiblePanels() { return slides[current].panels; }

    function drawPanel(p, fast, slow) {
      if (!p.impl) { return; }
      if (p.waiting) { // its values are not known yet: "—" until the snapshot
        p.fd = false;
        p.sd = false;
        return;
      }
      try {
        if (fast) { p.fd = false; p.impl.fast(p, ctx); }
        if (slow) { p.sd = false; p.impl.slow(p, ctx); }
      } catch (e) {
        console.error('screen.js: drawing ' + p.el.id, e);
      }
    }

    function pending() {
      var f = false;
      var s = false;
      visiblePanels().forEach(function (p) { f = f || p.fd; s = s || p.sd; });
      return { fast: f, slow: s };
    }

    function schedule() {
      if (frame || stopped) { return; }
      var want = pending();
      if (!want.fast && !want.slow) { return; }
      var now = Date.now();
      var wait = Math.max(0, want.fast ? lastFast + FAST_GAP_MS - now : lastSlow + SLOW_GAP_MS - now);
      if (frameTimer !== null) {
        // A chart redraw may be waiting for its 1 s gap: numbers must not wait behind it.
        if (now + wait >= frameDue) { return; }
        clearTimeout(frameTimer);
      }
      frameDue = now + wait;
      frameTimer = setTimeout(function () {
        frameTimer = null;
        frame = requestAnimationFrame(flush);
      }, wait);
    }

    function flush() {
      frame = 0;
      if (stopped) { return; }
      var now = Date.now();
      var doSlow = now - lastSlow >= SLOW_GAP_MS;
      var panels = visiblePanels();
      ctx.quiet = quietFlush;
      quietFlush = false;
      lastFast = now;
      if (doSlow && panels.some(function (p) { return p.sd; })) { lastSlow = now; }
      // Numbers first (the header's briefing reads the KPI panels' values), then charts.
      panels.forEach(function (p) { if (p.fd) { drawPanel(p, true, false); } });
      if (doSlow) { panels.forEach(function (p) { if (p.sd) { drawPanel(p, false, true); } }); }
      ctx.quiet = false;
      schedule();
    }

    function markTopic(name) {
      slides.forEach(function (s) {
        if (s.topic !== name) { return; }
        s.panels.forEach(function (p) { p.fd = true; p.sd = true; });
      });
      schedule();
    }

    // ---- freshness ----
    function newestOf(ts, systems) {
      var newest = null;
      for (var k in ts.sources) {
        var src = ts.sources[k];
        if (src && typeof src.last === 'number' && (!systems || systems.indexOf(src.system) >= 0) &&
            (newest === null || src.last > newest)) {
          newest = src.last;
        }
      }
      return newest;
    }

    function expectOf(ts, spec) {
      if (typeof spec.expect_s === 'number' && spec.expect_s > 0) { return spec.expect_s; }
      var max = 0;
      (spec.systems || []).forEach(function (s) { if (typeof ts.expect[s] === 'number') { max = Math.max(max, ts.expect[s]); } });
      return max || DEFAULT_EXPECT_S;
    }

    function freshness(p, now) {
      if (p.type === 'header') {
        if (!p.fresh) { return; }
        var text;
        if (status === 'lost') { text = lostText(); }
        else if (status !== 'connected') { text = lbl('status-' + status); }
        else {
          var newest = newestOf(p.ts, p.slide.systems);
          text = newest === null ? lbl('no-data') : lbl('updated', { t: hhmmss(newest) });
        }
        setText(p.fresh, text);
        return;
      }
      if (!p.ageEl) { return; }
      var systems = p.spec.systems || [];
      var late = false;
      var age;
      var qids = queryIds(p);
      if (!p.ts.t) { age = DASH; }
      else if (qids.length) {
        var answered = null;
        qids.forEach(function (q) {
          var a = p.ts.queries[q];
          if (a && typeof a.t === 'number' && (answered === null || a.t < answered)) { answered = a.t; }
        });
        if (answered === null) { age = lbl('no-data'); }
        else if (now - answered > QUERY_STALE_MS) {
          late = true;
          age = lbl('late', { n: Math.max(1, Math.floor((now - answered) / MINUTE_MS)) });
        } else { age = lbl('updated', { t: hhmm(answered) }); }
      }
      else if (!systems.length) { age = ''; }
      else {
        var last = newestOf(p.ts, systems);
        if (last === null) { age = lbl('no-data'); }
        else if (now - last > expectOf(p.ts, p.spec) * 1000) {
          late = true;
          age = lbl('late', { n: Math.max(1, Math.floor((now - last) / MINUTE_MS)) });
        } else { age = lbl('updated', { t: hhmm(last) }); }
      }
      setText(p.ageEl, age);
      setClass(p.el, 'sc-late', late);
      setClass(p.el, 'sc-nodata', !!p.ts.t && age === lbl('no-data'));
    }

    slides.forEach(function (s) {
      var systems = {};
      s.panels.forEach(function (p) { (p.spec.systems || []).forEach(function (x) { systems[x] = true; }); });
      s.systems = Object.keys(systems).length ? Object.keys(systems) : null;
    });

    function freshenSlide(slide) {
      var now = serverNow();
      slide.panels.forEach(function (p) { freshness(p, now); });
    }

    function drawClock(slide) {
      var now = serverNow();
      slide.panels.forEach(function (p) {
        if (p.type === 'header' && p.clock && p.spec.clock !== false) { setText(p.clock, hhmmss(now)); }
      });
    }

    // ---- playlists ----
    function renderSlide(slide) {
      ctx.quiet = true;
      slide.panels.forEach(function (p) { drawPanel(p, true, true); });
      ctx.quiet = false;
      freshenSlide(slide);
      drawClock(slide);
    }

    function show(i) {
      var next = slides[i];
      var prev = slides[current];
      if (next !== prev) {
        // Unhide, draw (so layout-dependent number fitting measures real boxes) and hide the old slide
        // in one task: the browser paints only the finished new slide.
        next.el.hidden = false;
        current = i;
        shownAt = Date.now();
        renderSlide(next);
        prev.el.hidden = true;
      }
      armRotation();
    }

    function armRotation() {
      clearTimeout(timers.rotate);
      var dwell = slides[current].dwell;
      if (slides.length > 1 && dwell > 0) {
        var left = Math.max(0, dwell * 1000 - (Date.now() - shownAt));
        timers.rotate = setTimeout(function () { show((current + 1) % slides.length); }, left);
      }
    }

    // ---- connection ----
    var status = prev ? prev.status : 'connecting';
    var lostAt = prev ? prev.lostAt : null;
    var socket = prev ? prev.socket : null;
    var synced = false;
    var pendingMsgs = [];
    var overflowed = false;
    var subscribeGen = 0;
    var topicNames = Object.keys(topics).filter(function (t) { return t; });
    if (topicNames.length > MAX_TOPICS) {
      console.error('screen.js: more than ' + MAX_TOPICS + ' topics on one page; the rest stay empty');
      topicNames = topicNames.slice(0, MAX_TOPICS);
    }

    function lostText() {
      var secs = Math.max(0, Math.floor((Date.now() - (lostAt || Date.now())) / 1000));
      return secs < 120 ? lbl('lost-s', { n: secs }) : lbl('lost-min', { n: Math.floor(secs / 60) });
    }

    function setStatus(kind) {
      status = kind;
      ['connecting', 'syncing', 'connected', 'lost'].forEach(function (k) { setClass(root, 'sc-st-' + k, k === kind); });
      setClass(root, 'sc-stale', kind !== 'connected');
      if (banner) {
        banner.hidden = kind !== 'lost';
        if (kind === 'lost') { setText(banner, lostText()); }
      }
      freshenSlide(slides[current]);
    }

    function markLost() {
      synced = false;
      pendingMsgs = [];
      overflowed = false;
      subscribeGen += 1; // an ack still in flight belongs to the old connection
      if (lostAt === null) { lostAt = Date.now(); }
      setStatus('lost');
    }

    function applyOne(msg, isSnapshot) {
      var ts = topics[msg.topic];
      if (!ts) { return; }
      clock.offset = msg.t - Date.now();
      if (typeof msg.tz_offset_min === 'number') { clock.tz = msg.tz_offset_min; }
      applyMessage(ts, msg, isSnapshot, clock.tz);
      if (isSnapshot) {
        slides.forEach(function (s) {
          if (s.topic === msg.topic) { s.panels.forEach(function (p) { p.waiting = false; }); }
        });
      }
      markTopic(msg.topic);
    }

    // `quiet`: the same connection after a hot reload; the numbers on show stay current meanwhile.
    function subscribe(quiet) {
      if (stopped || !socket || !socket.connected) { return; }
      clearTimeout(timers.subscribe);
      var gen = ++subscribeGen;
      synced = false;
      if (quiet !== true) { setStatus('syncing'); }
      socket.timeout(SUBSCRIBE_TIMEOUT_MS).emit('subscribe', { topics: topicNames }, function (err, ack) {
        if (stopped || gen !== subscribeGen || !socket.connected) { return; }
        var snaps = null;
        if (!err && ack && !ack.error) {
          snaps = ack.snapshots || (typeof ack.topic === 'string' ? (function () { var o = {}; o[ack.topic] = ack; return o; }()) : null);
        }
        var missing = !snaps || topicNames.some(function (t) { return !snaps[t] || typeof snaps[t].t !== 'number'; });
        if (missing) {
          if (ack && ack.error) { console.warn('screen.js: subscribe refused: ' + ack.error); }
          if (ack && ack.error === 'session ended') { checkSignedIn(); }
          timers.subscribe = setTimeout(subscribe, RETRY_MS);
          return;
        }
        topicNames.forEach(function (t) {
          var snap = snaps[t];
          if (snap.topic !== t) { snap.topic = t; }
          applyOne(snap, true);
        });
        var held = pendingMsgs;
        pendingMsgs = [];
        held.forEach(function (msg) {
          var ts = topics[msg.topic];
          if (ts && msg.t >= ts.snapT) { applyOne(msg, false); }
        });
        if (overflowed) { // updates were dropped while waiting: take another snapshot instead
          overflowed = false;
          subscribe();
          return;
        }
        synced = true;
        lostAt = null;
        quietFlush = true;
        setStatus('connected');
        askQueries();
      });
    }

    function onUpdate(msg) {
      if (!msg || typeof msg.t !== 'number' || !topics[msg.topic]) { return; }
      if (!synced) {
        if (pendingMsgs.length < PENDING_MAX) { pendingMsgs.push(msg); } else { overflowed = true; }
        return;
      }
      applyOne(msg, false);
    }

    // A refused or server-closed socket may mean the session ended or the wall was revoked.
    function checkSignedIn() {
      if (stopped || !window.fetch) { return; }
      window.fetch('/whoami', { credentials: 'same-origin', cache: 'no-store' }).then(function (resp) {
        if (resp.status !== 401 || stopped) { return null; }
        return resp.json().catch(function () { return null; }).then(function (body) {
          if (!stopped) { window.location.assign(body && body.wall_revoked ? '/wall-revoked' : '/login'); }
        });
      }).catch(function () { /* network down: the banner already says so */ });
    }

    function onScreenChanged() {
      clearTimeout(timers.relayout);
      timers.relayout = setTimeout(function () {
        var dc = window.dash_clientside;
        if (stopped || !dc || typeof dc.set_props !== 'function') { return; }
        relayouts += 1;
        dc.set_props(RELAYOUT_ID, { data: relayouts });
      }, RELAYOUT_DELAY_MS);
    }

    function retryConnect() {
      clearTimeout(timers.retry);
      timers.retry = setTimeout(function () { if (!stopped && socket && !socket.connected) { socket.connect(); } }, RETRY_MS);
    }

    var ioWaits = 0;
    function connect() {
      if (stopped) { return; }
      if (typeof window.io !== 'function') {
        // Dash includes assets/vendor/ after assets/: wait for the client a little.
        ioWaits += 1;
        if (ioWaits === 50) { console.error('screen.js: the Socket.IO client (assets/vendor/socket.io.min.js) is not loaded'); }
        timers.io = setTimeout(connect, 200);
        return;
      }
      if (!topicNames.length) { return; }
      if (socket) { // taken over from the page this one replaces
        attach();
        if (socket.connected) { subscribe(true); } else if (!socket.active) { retryConnect(); }
        return;
      }
      socket = window.io(NAMESPACE, { transports: ['websocket'], reconnectionDelay: 1000, reconnectionDelayMax: 5000 });
      attach();
    }

    function attach() {
      socket.on('connect', subscribe);
      socket.on('update', onUpdate);
      socket.on('screen_changed', onScreenChanged);
      socket.on('disconnect', function (reason) {
        if (stopped) { return; }
        markLost();
        if (reason === 'io server disconnect') { // not retried by the client itself
          checkSignedIn();
          retryConnect();
        }
      });
      socket.on('connect_error', function () {
        if (stopped) { return; }
        markLost();
        if (!socket.active) { // refused by the server (no session): not retried by the client itself
          checkSignedIn();
          retryConnect();
        }
      });
    }

    // ---- the 1 s tick: clock, lost counter, lateness, table pages ----
    var ticks = 0;
    // Query-bound panels show warehouse history: asked over the page's socket after every snapshot and then
    // every QUERY_EVERY_MS (the server answers from a short cache, so many walls cost one database query).
    function askQueries() {
      if (stopped || !socket || !socket.connected) { return; }
      slides.forEach(function (s) {
        var ids = {};
        s.panels.forEach(function (p) { queryIds(p).forEach(function (q) { ids[q] = true; }); });
        var list = Object.keys(ids);
        if (!list.length) { return; }
        var ask = { screen: s.screen, ids: list, params: s.params || {}, lang: lang };
        socket.timeout(SUBSCRIBE_TIMEOUT_MS).emit('query', ask, function (err, ack) {
          if (stopped || err || !ack) { return; }
          if (ack.error) { console.warn('screen.js: query refused: ' + ack.error); return; }
          Object.keys(ack.answers || {}).forEach(function (q) {
            var a = ack.answers[q];
            if (a && !a.error && typeof a.t === 'number' && ids[q]) { s.ts.queries[q] = a; }
          });
          markTopic(s.topic);
        });
      });
    }
    timers.queries = setInterval(askQueries, QUERY_EVERY_MS);

    timers.tick = setInterval(function () {
      ticks += 1;
      var slide = slides[current];
      if (status === 'lost' && banner) { setText(banner, lostText()); }
      drawClock(slide);
      if (ticks % FRESH_EVERY_S === 0 || status === 'lost') { freshenSlide(slide); }
      var now = Date.now();
      var paged = false;
      slide.panels.forEach(function (p) {
        if (p.impl && p.impl.tick && p.impl.tick(p, now)) { p.sd = true; paged = true; }
      });
      // Charts slide along with time even when nothing arrives (a minute passes, a new hour begins).
      if (ticks % 30 === 0) { slide.panels.forEach(function (p) { p.sd = true; }); paged = true; }
      if (paged) { schedule(); }
    }, 1000);

    setStatus(status);
    renderSlide(slides[current]);
    armRotation();
    connect();

    function halt() {
      stopped = true;
      Object.keys(timers).forEach(function (k) { clearTimeout(timers[k]); clearInterval(timers[k]); });
      clearTimeout(frameTimer);
      if (frame) { cancelAnimationFrame(frame); }
      if (fitFrame) { cancelAnimationFrame(fitFrame); }
      window.removeEventListener('resize', scheduleFit);
      if (dprQuery) { dprQuery.removeEventListener('change', onDprChange); }
      root.removeEventListener('animationend', onAnimationEnd);
      document.documentElement.classList.remove('sc-screen');
      if (socket) { socket.off(); }
    }

    return {
      root: root,
      stop: function () {
        halt();
        if (socket) { socket.close(); }
      },
      // Stop drawing but keep the socket open, and hand it over with what this page knows.
      handOver: function () {
        halt();
        var keys = {};
        slides.forEach(function (s) {
          s.panels.forEach(function (p) { if (!p.waiting) { bindingKeys(p.spec, keys[s.topic] || (keys[s.topic] = {})); } });
        });
        return {
          socket: socket, topics: topics, keys: keys, clock: clock, status: status, lostAt: lostAt,
          screen: slides[current].screen, index: current, shownAt: shownAt
        };
      }
    };
  }

  // Runs before the browser paints a DOM change: a new `#sc-page` (hot reload) takes over the old one's socket
  // and state and is drawn in this same callback.
  function check() {
    var root = document.getElementById(ROOT_ID);
    if (mounted && mounted.root !== root) {
      var prev = root && mounted.handOver ? mounted.handOver() : null;
      if (!prev) { mounted.stop(); }
      mounted = root ? mount(root, prev) : null;
    } else if (root && !mounted) {
      mounted = mount(root, null);
    }
  }

  function start() {
    new MutationObserver(check).observe(document.body, { childList: true, subtree: true });
    check();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
}());
