/* Nagar water-quality page: stations on a map coloured by CCME WQI category (last 12 months), one
 * parameter's lab results against its limits, the stations' table and the latest exceedances.
 * Configuration from data-* attributes of <body>, words through t(), no inline script or style.
 */
(function () {
  "use strict";

  var body = document.body;
  var N = window.Nagar;
  var cfg = N.cfg;
  var t = N.t;
  var fmt = N.fmt;
  var CATEGORIES = [
    { key: "excellent", colour: "#1a9850", label: function () { return t("Excellent"); } },
    { key: "good", colour: "#91cf60", label: function () { return t("Good"); } },
    { key: "fair", colour: "#fee08b", label: function () { return t("Fair"); } },
    { key: "marginal", colour: "#fc8d59", label: function () { return t("Marginal"); } },
    { key: "poor", colour: "#d7301f", label: function () { return t("Poor"); } },
  ];
  function category(key) {
    for (var i = 0; i < CATEGORIES.length; i++) if (CATEGORIES[i].key === key) return CATEGORIES[i];
    return null;
  }
  var nf = new Intl.NumberFormat(cfg.locale, { maximumFractionDigits: 3 });
  var nf0 = new Intl.NumberFormat(cfg.locale, { maximumFractionDigits: 0 });
  var df = new Intl.DateTimeFormat(cfg.locale, { year: "numeric", month: "short", day: "numeric" });
  function num(v, f) {
    return v === null || v === undefined || isNaN(v) ? "–" : (f || nf).format(v);
  }

  var getJSON = N.getJSON;
  function api(path, params) {
    var q = new URLSearchParams();
    Object.keys(params || {}).forEach(function (k) {
      if (params[k] !== null && params[k] !== undefined && params[k] !== "") q.set(k, params[k]);
    });
    var qs = q.toString();
    return getJSON(cfg.api + "/cities/" + encodeURIComponent(cfg.city) + "/water" + path + (qs ? "?" + qs : ""));
  }
  var setStatus = N.setStatus;
  var cell = N.cell;

  var state = { objectives: null, parameters: [], stations: [], chart: null, map: null, layer: null };

  function drawLegend() {
    var legend = document.getElementById("wqi-legend");
    legend.textContent = "";
    CATEGORIES.forEach(function (c) {
      var li = document.createElement("li");
      var sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.backgroundColor = c.colour;
      li.appendChild(sw);
      li.appendChild(document.createTextNode(c.label()));
      legend.appendChild(li);
    });
  }

  function initMap(geo) {
    var map = L.map("water-map", { zoomControl: true, minZoom: 3, maxZoom: 16 }).setView([23.75, 90.42], 11);
    if (cfg.tileUrl) {
      L.tileLayer(cfg.tileUrl, { maxZoom: 19, attribution: t("Map tiles as configured by the city") }).addTo(map);
    }
    if (geo) {
      L.geoJSON(geo, { interactive: false, style: { color: "#9fb3ad", weight: 0.6, fillColor: "#eef2ef", fillOpacity: cfg.tileUrl ? 0 : 1 } }).addTo(map);
    }
    state.map = map;
    state.layer = L.layerGroup().addTo(map);
  }

  function drawStations(items) {
    state.layer.clearLayers();
    var bounds = [];
    var tbody = document.querySelector("#wqi-table tbody");
    tbody.textContent = "";
    items.forEach(function (it) {
      var c = category(it.category_key);
      var tr = document.createElement("tr");
      cell(tr, it.name);
      cell(tr, it.water_body || "–");
      cell(tr, num(it.wqi, nf0), "num");
      cell(tr, c ? c.label() : t("Too few samples"));
      cell(tr, N.num(it.tests), "num");
      cell(tr, N.num(it.failed_tests), "num");
      tbody.appendChild(tr);
      if (it.lat === null || it.lon === null) return;
      var m = L.circleMarker([it.lat, it.lon], {
        radius: 9, weight: 1.5, color: "#33413d", fillOpacity: 0.9, fillColor: c ? c.colour : "#b8c2bf",
      });
      m.bindTooltip(it.name + " — " + t("WQI") + " " + num(it.wqi, nf0) + (c ? " (" + c.label() + ")" : ""));
      m.on("click", function () {
        document.getElementById("station-select").value = it.station;
        loadHistory();
      });
      m.addTo(state.layer);
      bounds.push([it.lat, it.lon]);
    });
    if (bounds.length) state.map.fitBounds(bounds, { padding: [30, 30], maxZoom: 13 });
    document.getElementById("water-map").dataset.markers = String(bounds.length);
  }

  function fillSelect(id, options, selected) {
    var sel = document.getElementById(id);
    sel.textContent = "";
    options.forEach(function (o) {
      var opt = document.createElement("option");
      opt.value = o.value;
      opt.textContent = o.label;
      if (o.value === selected) opt.selected = true;
      sel.appendChild(opt);
    });
  }

  function loadHistory() {
    var station = document.getElementById("station-select").value;
    var parameter = document.getElementById("parameter-select").value;
    if (!station || !parameter) return Promise.resolve();
    return api("/stations/" + encodeURIComponent(station) + "/parameters/" + encodeURIComponent(parameter) + "/history",
      { objectives: state.objectives }).then(function (h) {
      var pts = h.items.map(function (i) { return { x: Date.parse(i.time), y: i.value }; });
      var xs = pts.map(function (p) { return p.x; });
      var x0 = xs.length ? Math.min.apply(null, xs) : 0, x1 = xs.length ? Math.max.apply(null, xs) : 1;
      var sets = [{ label: t(h.parameter_name) + " (" + h.unit + ")", data: pts, borderColor: "#2c6e8f", backgroundColor: "#2c6e8f", showLine: true, tension: 0, pointRadius: 3 }];
      if (h.upper !== null) sets.push({ label: t("Upper limit"), data: [{ x: x0, y: h.upper }, { x: x1, y: h.upper }], borderColor: "#d7301f", borderDash: [6, 4], pointRadius: 0, showLine: true });
      if (h.lower !== null) sets.push({ label: t("Lower limit"), data: [{ x: x0, y: h.lower }, { x: x1, y: h.lower }], borderColor: "#7a4b9c", borderDash: [6, 4], pointRadius: 0, showLine: true });
      if (state.chart) state.chart.destroy();
      state.chart = new Chart(document.getElementById("history-chart"), {
        type: "scatter",
        data: { datasets: sets },
        options: {
          responsive: true, maintainAspectRatio: false, animation: false,
          scales: {
            x: { type: "linear", ticks: { callback: function (v) { return df.format(new Date(v)); }, maxTicksLimit: 6 } },
            y: { title: { display: true, text: h.unit } },
          },
          plugins: { tooltip: { callbacks: { label: function (c) { return df.format(new Date(c.raw.x)) + ": " + num(c.raw.y); } } } },
        },
      });
      document.getElementById("history-box").dataset.points = String(pts.length);
      document.getElementById("history-meta").textContent = h.name + " · " + (h.upper === null && h.lower === null ? t("No limit in this objective set") : h.objectives);
    });
  }

  /** A water parameter's name in the page's language (the API names it in English). */
  function parameterName(key) {
    for (var j = 0; j < state.parameters.length; j++) if (state.parameters[j].key === key) return t(state.parameters[j].name);
    return key;
  }

  /** A water station's name (the exceedances name stations by id). */
  function stationName(id) {
    for (var j = 0; j < state.stations.length; j++) if (state.stations[j].id === id) return state.stations[j].name;
    return id;
  }

  function drawExceedances(res) {
    var tbody = document.querySelector("#exceed-table tbody");
    tbody.textContent = "";
    res.items.slice(0, 25).forEach(function (i) {
      var tr = document.createElement("tr");
      cell(tr, df.format(new Date(i.time)));
      cell(tr, stationName(i.station));
      cell(tr, parameterName(i.parameter));
      cell(tr, i.qualifier + num(i.value) + " " + i.unit, "num");
      cell(tr, (i.side === "lower" ? "≥ " : "≤ ") + num(i.objective), "num");
      tbody.appendChild(tr);
    });
    document.getElementById("exceed-meta").textContent = fmt(t("{failed} of {tests} tests failed"), { failed: N.num(res.failed), tests: N.num(res.tests) });
  }

  function load() {
    setStatus(t("Loading…"));
    var start = new Date(Date.now() - 365 * 24 * 3600 * 1000).toISOString();
    return Promise.all([
      api("/wqi", { objectives: state.objectives, period: "all", start: start }),
      api("/exceedances", { objectives: state.objectives, limit: 200 }),
    ]).then(function (res) {
      drawStations(res[0].items);
      drawExceedances(res[1]);
      document.getElementById("wqi-meta").textContent = res[0].objectives;
      return loadHistory();
    }).then(function () {
      setStatus("");
      body.dataset.state = "ready";
    });
  }

  /** The city <select>: every city the caller may see, by its translated name; choosing one reloads the page. */

  function fail(err) {
    if (window.console) console.error(err);
    setStatus(err && err.status === 404 ? t("This city has no water-quality data you may see.") : t("Could not load the data."), true);
    body.dataset.state = "error";
  }

  document.addEventListener("DOMContentLoaded", function () {
    Promise.all([
      getJSON(cfg.i18nUrl).catch(function () { return { messages: {} }; }),
      cfg.geoUrl ? getJSON(cfg.geoUrl).catch(function () { return null; }) : Promise.resolve(null),
    ]).then(function (res) {
      N.setMessages(res[0].messages);
      drawLegend();
      initMap(res[1]);
      return Promise.all([api("/objectives"), api("/stations"), api("/parameters"), N.loadCities(cfg.city)]);
    }).then(function (res) {
      state.objectives = res[0]["default"];
      state.parameters = res[2].items;
      state.stations = res[1].items || [];
      fillSelect("objectives-select", res[0].items.map(function (s) { return { value: s.id, label: t(s.name) }; }), state.objectives);
      fillSelect("station-select", res[1].items.map(function (s) { return { value: s.id, label: s.name }; }), res[1].items.length ? res[1].items[0].id : "");
      fillSelect("parameter-select", res[2].items.map(function (p) { return { value: p.key, label: t(p.name) }; }), "do");
      document.getElementById("objectives-select").addEventListener("change", function (e) {
        state.objectives = e.target.value;
        load().catch(fail);
      });
      document.getElementById("station-select").addEventListener("change", function () { loadHistory().catch(fail); });
      document.getElementById("parameter-select").addEventListener("change", function () { loadHistory().catch(fail); });
      return load();
    }).catch(fail);
  });
})();
