/*
 * The panel types of the big screens: kpi, trend, ranking, donut, gauge, heatmap, alarm_ticker, event_table and
 * header (the map is assets/screen_map.js). Each type is { setup(p, ctx) once; fast(p, ctx) for numbers, at most
 * ~10 times a second; slow(p, ctx) for charts, lists and the briefing, at most ~once a second; optional tick }.
 * assets/screen.js owns the page (socket, state, scheduling, freshness) and runs first: Dash loads assets in
 * sorted order, and no page mounts before DOMContentLoaded, when every asset script has run.
 * Markup is built with createElement/createElementNS and text nodes only.
 */
(function () {
  'use strict';

  var S = window.CCScreen;
  var TYPES = S.TYPES;
  var MINUTE_MS = S.MINUTE_MS, HOUR_MS = S.HOUR_MS, DAY_MS = S.DAY_MS,
    DEFAULT_WINDOW_MIN = S.DEFAULT_WINDOW_MIN, DASH = S.DASH, MINUS = S.MINUS, make = S.make,
    makeSvg = S.makeSvg, setText = S.setText, setAttr = S.setAttr, setClass = S.setClass,
    setStyle = S.setStyle, clear = S.clear, globRx = S.globRx, numeric = S.numeric, aggOf = S.aggOf,
    valueOf = S.valueOf, membersOf = S.membersOf, seriesValues = S.seriesValues, bucket = S.bucket,
    thresholdColor = S.thresholdColor, nameOf = S.nameOf;

  var DONUT_R = 38;
  var DONUT_C = 2 * Math.PI * DONUT_R;
  var SEVERITIES = ['critical', 'high', 'medium', 'low'];
  var COMPARE_REFS = { same_day_last_week: 'last_week', last_comparable_day: 'last_comparable' };
  var THRESHOLD_CLASSES = ['sc-ok', 'sc-info', 'sc-warn', 'sc-alarm'];
  var COMPARE_LABELS = { same_day_last_week: 'vs-last-week', last_comparable_day: 'vs-last-day' };

  function naturalCompare(a, b) {
    return String(a).localeCompare(String(b), undefined, { numeric: true });
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

  function applyThreshold(el, color) {
    THRESHOLD_CLASSES.forEach(function (c) { setClass(el, c, c === 'sc-' + color); });
  }

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
}());
