/*
 * The big screens' map panel (type `map`): vehicles or sites on the compound's own site map, drawn with
 * Leaflet (assets/vendor/leaflet/) and no tile layer at all: the boundary, buildings and gates come from
 * the panel's `data-spec` (`sites`: the GeoJSON the YAML's `overlay:` names), so nothing is fetched.
 *
 * How it works:
 * - Registers window.CCScreen.TYPES.map. assets/screen.js runs first (Dash loads assets in sorted order)
 *   and looks the type up when a page mounts, after every asset script (Leaflet included) has run.
 * - A wall is not interactive: no dragging, zooming, keyboard or attribution link. The canvas is scaled
 *   with a CSS transform; Leaflet measures its container in layout (design) pixels, so the projection is
 *   right at any scale, and Leaflet's mouse maths is never used.
 * - The map is made on the first slow draw that finds its host laid out (a hidden playlist slide has no
 *   size) and fitted to the site map's bounds; it is refitted only when the host's size changes. Building
 *   labels that would overlap an earlier one are hidden after each fit.
 * - One circle marker per vehicle present in the `last` metric, moved in place and removed when the
 *   vehicle leaves it (bounded by the metric, itself capped by screen.js). A vehicle beyond the map is
 *   pinned to the edge in its direction and drawn hollow; vehicles on one spot get a count badge (at
 *   most one per marker). Drawing happens in `slow` only (<= 1/s).
 * - Labels are built with createElement and text nodes; never markup from strings.
 */
(function () {
  'use strict';

  var S = window.CCScreen;
  if (!S) {
    console.error('screen_map.js: assets/screen.js must load first');
    return;
  }

  var PAD_PX = 28;            // room around the site map inside its panel (design px)
  var EDGE_PX = 14;           // off-map vehicles are pinned this far inside the edge
  var VEHICLE_R = 9;
  var GATE_PX = 14;
  var FALLBACK_SPAN = 0.004;  // degrees shown around the vehicles when a panel has no site map
  var VEHICLE_PANE = 'scVehicles';
  var STACK_PANE = 'scStacks';
  var STACK_PX = 6;           // vehicles closer than this on screen count as one stack
  var POLYGONS = { Polygon: true, MultiPolygon: true };

  function propsOf(f) { return (f && f.properties) || {}; }

  function nameOf(f, lang) {
    var pr = propsOf(f);
    var name = lang === 'en' && typeof pr.name_en === 'string' ? pr.name_en : pr.name;
    return typeof name === 'string' ? name : '';
  }

  // A zero-size anchor with the text hanging below it, centred (CSS); the span is ours, never a string.
  function labelMarker(latlng, text, pane) {
    var icon = window.L.divIcon({ className: 'sc-map-label', html: S.make('span', 'sc-map-label-text', text),
                                  iconSize: [0, 0] });
    return window.L.marker(latlng, { icon: icon, interactive: false, keyboard: false, pane: pane });
  }

  function gateMarker(latlng, gate) {
    var cls = 'sc-gate sc-gate-' + (gate === 'vehicle' || gate === 'person' ? gate : 'other');
    var icon = window.L.divIcon({ className: cls, html: false, iconSize: [GATE_PX, GATE_PX] });
    return window.L.marker(latlng, { icon: icon, interactive: false, keyboard: false });
  }

  function featureStyle(f) {
    var kind = propsOf(f).kind;
    var cls = kind === 'compound' ? 'sc-site-boundary' : POLYGONS[f.geometry.type] ? 'sc-site-building' : 'sc-site-line';
    return { className: cls, interactive: false };
  }

  // The site map: boundary and buildings as SVG paths, gates as small marks, building names below them.
  function drawSites(p, map, lang) {
    var sites = p.spec.sites;
    var features = sites && Array.isArray(sites.features) ? sites.features : [];
    var layer = window.L.geoJSON(null, {
      style: featureStyle,
      pointToLayer: function (f, latlng) { return gateMarker(latlng, propsOf(f).gate); },
      onEachFeature: function (f, lyr) {
        var id = propsOf(f).id;
        if (typeof id === 'string') { // names the feature's path or mark, for tests and inspection
          lyr.on('add', function () { lyr.getElement().setAttribute('data-site', id); });
        }
        var name = nameOf(f, lang);
        if (!name || propsOf(f).kind === 'compound' || !POLYGONS[f.geometry.type]) { return; }
        var b = lyr.getBounds();
        p.labels.push(labelMarker([b.getSouth(), b.getCenter().lng], name, 'markerPane'));
      }
    });
    features.forEach(function (f) {
      try { layer.addData(f); } catch (e) { console.error('screen_map.js: ' + p.el.id + ': a feature Leaflet cannot draw', e); }
    });
    layer.addTo(map); // drawn once the map has a view (the first fit)
    p.labels.forEach(function (m) { m.addTo(map); });
    p.siteBounds = layer.getBounds();
  }

  function makeMap(p, lang) {
    var L = window.L;
    var map = L.map(p.host, {
      attributionControl: false, zoomControl: false, dragging: false, touchZoom: false, doubleClickZoom: false,
      scrollWheelZoom: false, boxZoom: false, keyboard: false, trackResize: false, inertia: false,
      zoomSnap: 0, zoomAnimation: false, fadeAnimation: false, markerZoomAnimation: false
    });
    map.createPane(VEHICLE_PANE);
    map.createPane(STACK_PANE);
    p.vehicleRenderer = L.svg({ pane: VEHICLE_PANE });
    p.labels = [];
    drawSites(p, map, lang);
    return map;
  }

  function boundsOfVehicles(p) {
    var b = window.L.latLngBounds([]);
    p.markers.forEach(function (m) { b.extend(m.sc.at); });
    return b.isValid() ? b.pad(0.1) : null;
  }

  function fit(p) {
    var b = p.siteBounds && p.siteBounds.isValid() ? p.siteBounds : boundsOfVehicles(p);
    if (!b) { b = window.L.latLngBounds([[0, 0], [0, 0]]); }
    if (b.getNorth() - b.getSouth() < 1e-9 && b.getEast() - b.getWest() < 1e-9) {
      var c = b.getCenter();
      b = window.L.latLngBounds([[c.lat - FALLBACK_SPAN / 2, c.lng - FALLBACK_SPAN / 2],
                                 [c.lat + FALLBACK_SPAN / 2, c.lng + FALLBACK_SPAN / 2]]);
    }
    p.map.fitBounds(b, { padding: [PAD_PX, PAD_PX], animate: false });
    declutter(p);
  }

  // Labels in file order; one that would overlap a label already shown is hidden.
  function declutter(p) {
    var shown = [];
    p.labels.forEach(function (m) {
      var el = m.getElement();
      var text = el && el.firstChild;
      if (!text) { return; }
      S.setClass(el, 'sc-map-hidden', false);
      var r = text.getBoundingClientRect();
      var hit = shown.some(function (s) { return r.left < s.right && s.left < r.right && r.top < s.bottom && s.top < r.bottom; });
      if (hit) { S.setClass(el, 'sc-map-hidden', true); } else { shown.push(r); }
    });
  }

  // Made once the host has a size; refitted when that size changes (never on a mere CSS scale change).
  function ready(p, ctx) {
    var w = p.host.clientWidth;
    var h = p.host.clientHeight;
    if (!w || !h) { return false; }
    if (!p.map) {
      p.map = makeMap(p, ctx.lang);
    } else if (w === p.w && h === p.h) {
      return true;
    } else {
      p.map.invalidateSize({ pan: false, animate: false });
    }
    p.w = w;
    p.h = h;
    fit(p);
    return true;
  }

  // Where a marker goes: the vehicle itself, or the map's edge towards it when it is beyond the map.
  function placeOf(p, at) {
    if (!p.siteBounds || !p.siteBounds.isValid()) { return { at: at, away: false }; }
    var size = p.map.getSize();
    var pt = p.map.latLngToContainerPoint(at);
    var cx = size.x / 2;
    var cy = size.y / 2;
    var hx = Math.max(1, cx - EDGE_PX);
    var hy = Math.max(1, cy - EDGE_PX);
    var dx = pt.x - cx;
    var dy = pt.y - cy;
    var k = Math.max(Math.abs(dx) / hx, Math.abs(dy) / hy);
    if (k <= 1) { return { at: at, away: false }; }
    return { at: p.map.containerPointToLatLng([cx + dx / k, cy + dy / k]), away: true };
  }

  function positionsOf(p) {
    var b = p.spec.bind && p.spec.bind[0];
    var entries = b && b.key ? p.ts.lasts[b.key] : null;
    var out = [];
    if (!entries) { return out; }
    entries.forEach(function (v, id) {
      if (Array.isArray(v)) { v = v[v.length - 1]; }
      if (v && typeof v.lat === 'number' && typeof v.lon === 'number' && isFinite(v.lat) && isFinite(v.lon)) {
        out.push({ id: id, at: [v.lat, v.lon], trip: !!v.trip });
      }
    });
    return out;
  }

  function drawVehicles(p) {
    var L = window.L;
    var seen = {};
    var trip = 0;
    positionsOf(p).forEach(function (q) {
      seen[q.id] = true;
      if (q.trip) { trip += 1; }
      var m = p.markers.get(q.id);
      if (!m) {
        m = L.circleMarker(q.at, { radius: VEHICLE_R, className: 'sc-veh', interactive: false,
                                   pane: VEHICLE_PANE, renderer: p.vehicleRenderer });
        m.sc = { at: q.at, lat: null, lng: null };
        m.addTo(p.map);
        p.markers.set(q.id, m);
      }
      m.sc.at = q.at;
      var place = placeOf(p, q.at);
      var ll = L.latLng(place.at);
      if (ll.lat !== m.sc.lat || ll.lng !== m.sc.lng) {
        m.setLatLng(ll);
        m.sc.lat = ll.lat;
        m.sc.lng = ll.lng;
      }
      var el = m.getElement();
      if (el) {
        S.setClass(el, 'sc-veh-trip', q.trip);
        S.setClass(el, 'sc-veh-away', place.away);
      }
    });
    p.markers.forEach(function (m, id) {
      if (!seen[id]) { m.remove(); p.markers.delete(id); }
    });
    drawStacks(p);
    if (p.ts.t) {
      S.setText(p.counts.trip, String(trip));
      S.setText(p.counts.parked, String(p.markers.size - trip));
    }
  }

  // Vehicles on the same spot (the fleet parks at one garage) show as one dot: a badge says how many.
  function drawStacks(p) {
    var groups = new Map();
    p.markers.forEach(function (m) {
      var pt = p.map.latLngToLayerPoint([m.sc.lat, m.sc.lng]);
      var key = Math.round(pt.x / STACK_PX) + ',' + Math.round(pt.y / STACK_PX);
      var g = groups.get(key);
      if (g) { g.n += 1; } else { groups.set(key, { n: 1, at: [m.sc.lat, m.sc.lng] }); }
    });
    groups.forEach(function (g, key) {
      if (g.n < 2) { return; }
      var badge = p.stacks.get(key);
      if (!badge) {
        var text = S.make('span', 'sc-stack-text');
        badge = window.L.marker(g.at, { icon: window.L.divIcon({ className: 'sc-stack', html: text, iconSize: [0, 0] }),
                                        interactive: false, keyboard: false, pane: STACK_PANE });
        badge.sc = { text: text };
        badge.addTo(p.map);
        p.stacks.set(key, badge);
      }
      S.setText(badge.sc.text, '\u00d7' + g.n);
    });
    p.stacks.forEach(function (badge, key) {
      var g = groups.get(key);
      if (!g || g.n < 2) { badge.remove(); p.stacks.delete(key); }
    });
  }

  S.TYPES.map = {
    setup: function (p) {
      p.host = p.el.querySelector('.sc-map');
      p.markers = new Map();
      p.stacks = new Map();
      p.counts = { trip: p.el.querySelector('.sc-lg-trip .sc-n'), parked: p.el.querySelector('.sc-lg-parked .sc-n') };
      if (!window.L) {
        console.error('screen_map.js: Leaflet (assets/vendor/leaflet/leaflet.js) is not loaded');
        p.host = null;
      }
    },
    fast: function () {},
    slow: function (p, ctx) {
      if (!p.host || !ready(p, ctx)) { return; }
      if (p.spec.layer === 'vehicles') {
        drawVehicles(p);
        if (!p.siteBounds || !p.siteBounds.isValid()) { fit(p); }
      }
    }
  };
}());
