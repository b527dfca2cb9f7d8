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
 * - Messages carry `v`, the version of the server's live state their values come from. An update is
 *   applied only if its `v` is not below the topic's snapshot's (notOlderThanSnapshot): older ones carry
 *   nothing the snapshot lacks, and would show older numbers as current (streams/topics.py says why
 *   this loses nothing, and why `t` cannot order messages).
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
 * - This file owns the page; the panel types (what each draws) are assets/screen_panels.js and
 *   assets/screen_map.js, registered through window.CCScreen.
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
  var DASH = '\u2014';
  var MINUS = '\u2212';

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

  function globRx(glob) {
    var parts = String(glob).split('*').map(function (s) { return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'); });
    return new RegExp('^' + parts.join('([^.]+)') + '$');
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
      name: name, t: 0, snapV: 0, day: null,
      vers: {},        // 'sums|levels|lasts' + key -> `v` of the message its value came from (see newerValue)
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
      ts.snapV = msg.v; ts.vers = {};
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
        if (typeof msg.sums[k] !== 'number' || !newerValue(ts, 'sums', k, msg.v)) { continue; }
        heatFallback(ts, k, msg.sums[k], msg.t, tz);
        ts.sums[k] = msg.sums[k];
      }
    }
    if (msg.levels) {
      for (k in msg.levels) {
        if (typeof msg.levels[k] !== 'number' || !newerValue(ts, 'levels', k, msg.v)) { continue; }
        ts.levels[k] = msg.levels[k];
        var hist = seriesMap(ts.levelHist, k);
        hist.set(nowMinute, msg.levels[k]);
        prune(hist, keepFor(ts, k), nowMinute);
      }
    }
    if (msg.lasts) {
      for (k in msg.lasts) {
        var entries = msg.lasts[k];
        if (!entries || typeof entries !== 'object' || !newerValue(ts, 'lasts', k, msg.v)) { continue; }
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

  // The one rule for every update, held during a resync or not: not older than the topic's snapshot.
  function notOlderThanSnapshot(ts, msg) {
    return msg.v >= ts.snapV;
  }

  // With several consumers, each pushes through its own pusher, so updates can reach a page out of version
  // order: a value is replaced only by one read from a state at least as new as the one it came from.
  function newerValue(ts, kind, key, v) {
    var id = kind + '|' + key;
    if (v < (ts.vers[id] || 0)) { return false; }
    ts.vers[id] = v;
    return true;
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

  function thresholdColor(thresholds, v) {
    if (v === null || !Array.isArray(thresholds)) { return null; }
    var best = null;
    thresholds.forEach(function (t) {
      if (typeof t.above === 'number' && v > t.above && (best === null || t.above >= best.above)) { best = t; }
    });
    return best ? best.color : null;
  }

  var TYPES = {};
  // Panel types live in their own files (assets/screen_panels.js, assets/screen_map.js: Dash loads them after
  // this one) and add themselves to TYPES through this object before any page mounts, using these helpers.
  window.CCScreen = {
    TYPES: TYPES, MINUTE_MS: MINUTE_MS, HOUR_MS: HOUR_MS, DAY_MS: DAY_MS, DEFAULT_WINDOW_MIN: DEFAULT_WINDOW_MIN,
    DASH: DASH, MINUS: MINUS, make: make, makeSvg: makeSvg, setText: setText, setAttr: setAttr,
    setClass: setClass, setStyle: setStyle, clear: clear, globRx: globRx, numeric: numeric, aggOf: aggOf,
    valueOf: valueOf, membersOf: membersOf, seriesValues: seriesValues, bucket: bucket,
    thresholdColor: thresholdColor, nameOf: nameOf
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
        var missing = !snaps || topicNames.some(function (t) {
          return !snaps[t] || typeof snaps[t].t !== 'number' || typeof snaps[t].v !== 'number';
        });
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
          if (ts && notOlderThanSnapshot(ts, msg)) { applyOne(msg, false); }
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
        drawClock(slides[current]); // in the compound's zone from the first snapshot on, not a second later
        askQueries();
      });
    }

    function onUpdate(msg) {
      if (!msg || typeof msg.t !== 'number' || typeof msg.v !== 'number' || !topics[msg.topic]) { return; }
      if (!synced) {
        if (pendingMsgs.length < PENDING_MAX) { pendingMsgs.push(msg); } else { overflowed = true; }
        return;
      }
      // after the resync too: an update read before the snapshot may arrive after it (it comes from the
      // worker through the message queue, the snapshot straight from this web process)
      if (notOlderThanSnapshot(topics[msg.topic], msg)) { applyOne(msg, false); }
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
