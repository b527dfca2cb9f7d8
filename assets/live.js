/*
 * Live overview page (layouts/live_overview.py): Socket.IO push -> DOM text nodes and one chart.
 *
 * Why it looks like this (see docs STACK.md, "the push path"):
 * - One apply per message: every message updates all cards in one pass over cached text nodes;
 *   the chart is redrawn at most every CHART_MIN_GAP_MS from buffered minute buckets, inside a
 *   requestAnimationFrame, because a chart redraw per message left pages tens of seconds behind.
 * - Websocket transport only (no long-polling phase); reconnect uses socket.io's backoff capped
 *   at 5 s, and every (re)connect subscribes again and applies a fresh snapshot before numbers are
 *   shown as current. Messages carry `v`, the version of the server's live state their values come
 *   from; an update is applied only if its `v` is not below the snapshot's, held or not (older ones
 *   carry nothing the snapshot lacks and would show older numbers as current; streams/topics.py says
 *   why this loses nothing, and why `t` cannot order messages).
 * - A wall runs for weeks: every buffer is bounded (minute buckets for KEEP_MINUTES, at most
 *   PENDING_MAX updates held while a snapshot is in flight; beyond that the page takes a fresh
 *   snapshot instead) and nothing polls the server. The only interval is a 1 s local tick that
 *   refreshes the "late N min" and "lost N s" labels.
 * - Lateness is measured against server time (messages carry `t`, server epoch ms), not against
 *   the wall PC's clock, and times are shown in the compound's zone (`tz_offset_min`).
 *
 * "Last minute" on a card is a sliding 60 s estimate from the minute buckets: the current minute's
 * bucket plus the previous minute's bucket weighted by the share of it still inside the last 60 s
 * (server time of the newest message). It moves with every message and needs no extra server data.
 *
 * Dash loads assets/ files before assets/vendor/ ones, so this script runs before the Socket.IO
 * client; it therefore starts only when the page's root element appears (after DOMContentLoaded,
 * when every asset script has run) and stops when the element leaves (page navigation).
 */
(function () {
  'use strict';

  var ROOT_ID = 'live-overview';
  var CHART_ID = 'lv-rate-chart';
  var TOPIC = 'overview';
  var NAMESPACE = '/live';
  var MINUTE_MS = 60000;
  var WINDOW_MINUTES = 60;
  var KEEP_MINUTES = 120;
  var PENDING_MAX = 100;
  var CHART_MIN_GAP_MS = 700;
  var SUBSCRIBE_TIMEOUT_MS = 5000;
  var RETRY_MS = 5000;
  var PLACEHOLDER = '\u2014';

  var mounted = null;
  var missingClientReported = false;

  function textNode(el) {
    // React created the text node; writing nodeValue keeps it (no new nodes, no React conflict).
    if (!el.firstChild) { el.appendChild(document.createTextNode('')); }
    return el.firstChild;
  }

  function setText(node, value) {
    if (node.nodeValue !== value) { node.nodeValue = value; }
  }

  function pad2(n) { return (n < 10 ? '0' : '') + n; }

  function mount(root) {
    var lang = (root.getAttribute('lang') || 'zh').slice(0, 2);
    var fmt = new Intl.NumberFormat(lang === 'en' ? 'en-US' : 'zh-CN', { maximumFractionDigits: 0 });
    var statusEl = document.getElementById('lv-status');
    var bannerEl = document.getElementById('lv-banner');
    var label = function (key, n) {
      return (root.getAttribute('data-lbl-' + key) || '').replace('{n}', String(n));
    };
    var cards = Array.prototype.map.call(root.querySelectorAll('.lv-card[data-system]'), function (el) {
      var stateEl = el.querySelector('.lv-card-state');
      return {
        el: el,
        system: el.getAttribute('data-system'),
        metric: el.getAttribute('data-system') + '.events',
        expectS: parseFloat(el.getAttribute('data-expect')) || 60,
        total: textNode(el.querySelector('.lv-card-total')),
        minute: textNode(el.querySelector('.lv-card-minute')),
        last: textNode(el.querySelector('.lv-card-last')),
        stateEl: stateEl,
        state: textNode(stateEl),
        stateKey: null
      };
    });
    var smallText = root.querySelector('.lv-card-facts') || root;
    var metrics = {};
    cards.forEach(function (c) { metrics[c.metric] = true; });

    // Live state of the topic, rebuilt from each snapshot.
    var st = null;
    function resetState() {
      st = { offset: 0, t: 0, tz: 480, day: null, sums: {}, minute: {}, sources: {}, expect: {} };
      cards.forEach(function (c) { st.minute[c.metric] = new Map(); });
    }
    resetState();

    var synced = false;
    var snapV = 0;  // the version of the last snapshot applied
    function notOlderThanSnapshot(msg) { return msg.v >= snapV; }
    // Several consumers push through their own pushers, so updates can arrive out of version order: a
    // total is replaced only by one read from a state at least as new as the one it came from.
    var sumV = {};
    var pending = [];
    var overflowed = false;
    var lostAt = null;
    var statusKind = 'connecting';
    var stopped = false;
    var subscribeTimer = null;
    var retryTimer = null;
    var chart = { dirty: false, timer: null, raf: false, lastAt: 0, waiting: false, rev: 0 };

    function serverNow() { return Date.now() + st.offset; }

    function localParts(ms) {
      var d = new Date(ms + st.tz * MINUTE_MS);
      return { y: d.getUTCFullYear(), mo: d.getUTCMonth() + 1, d: d.getUTCDate(), h: d.getUTCHours(),
        mi: d.getUTCMinutes(), s: d.getUTCSeconds() };
    }

    function formatTime(ms) {
      var p = localParts(ms);
      var n = localParts(serverNow());
      var hms = pad2(p.h) + ':' + pad2(p.mi) + ':' + pad2(p.s);
      if (p.y === n.y && p.mo === n.mo && p.d === n.d) { return hms; }
      return pad2(p.mo) + '-' + pad2(p.d) + ' ' + hms;
    }

    // ---- applying messages (one pass per message) ----

    function apply(msg, isSnapshot) {
      if (isSnapshot) {
        resetState();
        sumV = {};
        st.day = msg.day;
      } else if (msg.day && msg.day !== st.day) {
        st.day = msg.day; // midnight: today's totals start again from what this message carries
        st.sums = {};
      }
      st.offset = msg.t - Date.now();
      st.t = msg.t;
      if (typeof msg.tz_offset_min === 'number') { st.tz = msg.tz_offset_min; }
      var k;
      if (msg.sums) {
        for (k in msg.sums) {
          if (metrics[k] && !(msg.v < (sumV[k] || 0))) { st.sums[k] = msg.sums[k]; sumV[k] = msg.v; }
        }
      }
      if (msg.sources) {
        for (k in msg.sources) { st.sources[k] = msg.sources[k]; }
      }
      if (msg.expect) {
        for (k in msg.expect) { st.expect[k] = msg.expect[k]; }
      }
      if (msg.minute) {
        for (k in msg.minute) {
          var buckets = st.minute[k];
          if (!buckets) { continue; }
          msg.minute[k].forEach(function (pair) { buckets.set(pair[0], pair[1]); });
        }
      }
      var floor = Math.floor(st.t / MINUTE_MS) * MINUTE_MS - KEEP_MINUTES * MINUTE_MS;
      cards.forEach(function (c) {
        st.minute[c.metric].forEach(function (_v, m) { if (m < floor) { st.minute[c.metric].delete(m); } });
      });
      renderCards();
      scheduleChart();
    }

    function lastMinute(metric) {
      var buckets = st.minute[metric];
      var cur = Math.floor(st.t / MINUTE_MS) * MINUTE_MS;
      var share = 1 - (st.t - cur) / MINUTE_MS;
      return (buckets.get(cur) || 0) + (buckets.get(cur - MINUTE_MS) || 0) * share;
    }

    function newestOf(system) {
      var newest = null;
      for (var s in st.sources) {
        var src = st.sources[s];
        if (src && src.system === system && typeof src.last === 'number' && (newest === null || src.last > newest)) {
          newest = src.last;
        }
      }
      return newest;
    }

    function renderCards() {
      cards.forEach(function (c) {
        setText(c.total, fmt.format(Math.round(st.sums[c.metric] || 0)));
        setText(c.minute, fmt.format(Math.round(lastMinute(c.metric))));
        var newest = newestOf(c.system);
        setText(c.last, newest === null ? PLACEHOLDER : formatTime(newest));
      });
      renderLateness();
    }

    function renderLateness() {
      var now = serverNow();
      cards.forEach(function (c) {
        var newest = newestOf(c.system);
        var expectS = typeof st.expect[c.system] === 'number' ? st.expect[c.system] : c.expectS;
        var key = null;
        var text = '';
        if (!st.t) {
          key = null;
        } else if (newest === null) {
          key = 'no_data';
          text = label('no-data');
        } else if (now - newest > expectS * 1000) {
          key = 'late';
          text = label('late', Math.max(1, Math.floor((now - newest) / MINUTE_MS)));
        }
        setText(c.state, text);
        if (key !== c.stateKey) {
          c.stateKey = key;
          c.stateEl.hidden = key === null;
          c.el.classList.toggle('is-late', key === 'late');
          c.el.classList.toggle('is-nodata', key === 'no_data');
        }
      });
    }

    // ---- chart: buffered buckets, redrawn at most every CHART_MIN_GAP_MS ----

    function scheduleChart() {
      chart.dirty = true;
      if (chart.timer !== null || chart.raf || stopped) { return; }
      var wait = Math.max(0, chart.lastAt + CHART_MIN_GAP_MS - Date.now());
      chart.timer = setTimeout(function () {
        chart.timer = null;
        chart.raf = true;
        requestAnimationFrame(drawChart);
      }, wait);
    }

    function plotted() {
      // dcc.Graph loads Plotly lazily, swaps its placeholder element for the real graph and plots the
      // initial (empty, styled) figure: look the element up each time and draw only after that.
      var gd = root.querySelector('#' + CHART_ID + ' .js-plotly-plot');
      return window.Plotly && gd && gd._fullLayout && gd.data && gd.data[0] ? gd : null;
    }

    function drawChart() {
      chart.raf = false;
      if (stopped || !chart.dirty || !st.t) { return; }
      var gd = plotted();
      if (!gd) {
        chart.waiting = true; // the DOM observer calls kickChart once the graph has been plotted
        return;
      }
      chart.dirty = false;
      chart.lastAt = Date.now();
      var end = Math.floor(st.t / MINUTE_MS) * MINUTE_MS;
      var shift = st.tz * MINUTE_MS; // Plotly shows epoch ms as UTC wall time: shift to the compound's zone
      var x = [];
      var y = [];
      var opacity = [];
      for (var i = WINDOW_MINUTES - 1; i >= 0; i--) {
        var m = end - i * MINUTE_MS;
        var sum = 0;
        for (var k = 0; k < cards.length; k++) { sum += st.minute[cards[k].metric].get(m) || 0; }
        x.push(m + shift);
        y.push(sum);
        opacity.push(i === 0 ? 0.4 : 0.8); // the current minute is still filling up
      }
      var base = gd.data[0];
      var trace = Object.assign({}, base, { x: x, y: y, marker: Object.assign({}, base.marker, { opacity: opacity }) });
      var layout = gd.layout;
      // Plotly cannot read CSS: keep its labels on the page's type scale (--lv-fs-1) as the screen size changes.
      layout.font = Object.assign({}, layout.font, { size: parseFloat(getComputedStyle(smallText).fontSize) });
      chart.rev += 1;
      layout.datarevision = chart.rev;
      window.Plotly.react(gd, [trace], layout);
    }

    // ---- connection state ----

    function setStatus(kind) {
      statusKind = kind;
      statusEl.classList.remove('is-connecting', 'is-syncing', 'is-connected', 'is-lost');
      statusEl.classList.add('is-' + kind);
      root.classList.toggle('is-stale', kind !== 'connected');
      root.classList.toggle('is-lost', kind === 'lost');
      bannerEl.hidden = kind !== 'lost';
      if (kind === 'lost') {
        renderLost();
      } else {
        setText(textNode(statusEl), label('status-' + kind));
      }
    }

    function renderLost() {
      var secs = Math.max(0, Math.floor((Date.now() - lostAt) / 1000));
      var text = secs < 120 ? label('status-lost-s', secs) : label('status-lost-min', Math.floor(secs / 60));
      setText(textNode(statusEl), text);
      setText(textNode(bannerEl), text + ' \u00b7 ' + label('banner-hint'));
    }

    function markLost() {
      synced = false;
      pending = [];
      overflowed = false;
      if (lostAt === null) { lostAt = Date.now(); }
      setStatus('lost');
    }

    var tick = setInterval(function () {
      if (statusKind === 'lost') { renderLost(); }
      renderLateness();
    }, 1000);

    var socket = window.io(NAMESPACE, {
      transports: ['websocket'],
      reconnectionDelay: 1000,
      reconnectionDelayMax: 5000
    });

    function subscribe() {
      if (stopped || !socket.connected) { return; }
      setStatus('syncing');
      socket.timeout(SUBSCRIBE_TIMEOUT_MS).emit('subscribe', { topics: [TOPIC] }, function (err, snap) {
        if (stopped || !socket.connected) { return; }
        if (err || !snap || snap.topic !== TOPIC || typeof snap.t !== 'number' || typeof snap.v !== 'number') {
          subscribeTimer = setTimeout(subscribe, RETRY_MS);
          return;
        }
        apply(snap, true);
        snapV = snap.v;
        pending.forEach(function (msg) { if (notOlderThanSnapshot(msg)) { apply(msg, false); } });
        pending = [];
        if (overflowed) { // updates were dropped while waiting: take another snapshot instead
          overflowed = false;
          subscribe();
          return;
        }
        synced = true;
        lostAt = null;
        setStatus('connected');
      });
    }

    socket.on('connect', subscribe);
    socket.on('update', function (msg) {
      if (!msg || msg.topic !== TOPIC || typeof msg.t !== 'number' || typeof msg.v !== 'number') { return; }
      if (!synced) {
        if (pending.length < PENDING_MAX) { pending.push(msg); } else { overflowed = true; }
        return;
      }
      // after the resync too: an update read before the snapshot may arrive after it (it comes from the
      // worker through the message queue, the snapshot straight from this web process)
      if (notOlderThanSnapshot(msg)) { apply(msg, false); }
    });
    // A refused or server-closed socket may mean the session ended (logout, timeout, disabled
    // account): then go to the sign-in page instead of showing "connection lost" for ever.
    function checkSignedIn() {
      if (stopped || !window.fetch) { return; }
      window.fetch('/whoami', { credentials: 'same-origin', cache: 'no-store' }).then(function (resp) {
        if (resp.status !== 401 || stopped) { return null; }
        return resp.json().then(function (body) {
          window.location.assign(body && body.wall_revoked ? '/wall-revoked' : '/login');
        });
      }).catch(function () { /* network down: the banner already says so */ });
    }
    socket.on('disconnect', function (reason) {
      markLost();
      // A server-side disconnect does not reconnect by itself; a wall must come back on its own.
      if (reason === 'io server disconnect') {
        checkSignedIn();
        retryTimer = setTimeout(function () { socket.connect(); }, RETRY_MS);
      }
    });
    socket.on('connect_error', function () {
      markLost();
      if (!socket.active) {
        checkSignedIn();
        retryTimer = setTimeout(function () { socket.connect(); }, RETRY_MS);
      }
    });

    return {
      root: root,
      chartWaiting: function () { return chart.waiting; },
      kickChart: function () {
        if (plotted()) {
          chart.waiting = false;
          scheduleChart();
        }
      },
      stop: function () {
        stopped = true;
        clearInterval(tick);
        clearTimeout(chart.timer);
        clearTimeout(subscribeTimer);
        clearTimeout(retryTimer);
        socket.off();
        socket.close();
      }
    };
  }

  function check() {
    var root = document.getElementById(ROOT_ID);
    if (mounted && mounted.root !== root) {
      mounted.stop();
      mounted = null;
    }
    if (root && !mounted) {
      if (typeof window.io !== 'function') {
        if (!missingClientReported) {
          missingClientReported = true;
          console.error('live.js: the Socket.IO client (assets/vendor/socket.io.min.js) is not loaded');
        }
        return;
      }
      mounted = mount(root);
    }
    if (mounted && mounted.chartWaiting()) { mounted.kickChart(); }
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
