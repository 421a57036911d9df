/* Nagar data-quality page: faults per station, a station's raw series with flagged readings marked,
 * its fault list, and its next-24-hour PM2.5 forecast coloured by AQI category.
 *
 * Configuration from data-* attributes of <body>, words from /i18n/<lang>.json (t()), data from the
 * JSON API. No inline script or style (strict Content-Security-Policy).
 */
(function () {
  "use strict";

  var body = document.body;
  var N = window.Nagar;
  var cfg = Object.assign({ station: body.dataset.station || "" }, N.cfg);
  var t = N.t;
  var fmt = N.fmt;
  var KINDS = ["stuck", "spike", "out_of_range", "drift", "timestamp"];
  var KIND_NAMES = {
    stuck: function () { return t("Stuck"); },
    spike: function () { return t("Spike"); },
    out_of_range: function () { return t("Out of range"); },
    drift: function () { return t("Drift"); },
    timestamp: function () { return t("Time stamp"); },
  };

  var nf = new Intl.NumberFormat(cfg.locale, { maximumFractionDigits: 1 });
  var pf = new Intl.NumberFormat(cfg.locale, { style: "percent", maximumFractionDigits: 0 });
  function num(v) {
    return v === null || v === undefined || isNaN(v) ? "–" : nf.format(v);
  }
  // Times in the city's own zone (named in the panels' notes), as on the other pages; set in start().
  var hourFmt = N.dateFormatter(null, { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
  var zoneName = "";
  function hourLabel(iso) {
    return hourFmt.format(new Date(iso));
  }
  var PARAMETERS = { pm25: "PM2.5", pm10: "PM10", pm1: "PM1", o3: "O₃", no2: "NO₂", no: "NO", so2: "SO₂", co: "CO" };

  // A fault's detail is written in English by the detectors (nagar/quality); these are its forms, each
  // shown through the catalogue with its numbers in the page's locale. A detail of another form is shown
  // as it is.
  var NUMBER = "([-+]?\\d+(?:\\.\\d+)?(?:e[-+]?\\d+)?)";
  var signed = new Intl.NumberFormat(cfg.locale, { maximumFractionDigits: 1, signDisplay: "exceptZero" });
  function n(x) { return nf.format(parseFloat(x)); }
  function sn(x) { return signed.format(parseFloat(x)); }
  var DETAILS = [
    [/^value NUM unchanged for NUM h \(limit NUM h\)$/, function (m) {
      return fmt(t("value {value} unchanged for {hours} h (limit {limit} h)"), { value: n(m[1]), hours: n(m[2]), limit: n(m[3]) });
    }],
    [/^NUM vs window median NUM \(NUM scaled MADs; jumps NUM, NUM per reading\)$/, function (m) {
      return fmt(t("{value} against a window median of {median} ({z} scaled MADs; jumps {up} and {down} per reading)"),
        { value: n(m[1]), median: n(m[2]), z: n(m[3]), up: sn(m[4]), down: sn(m[5]) });
    }],
    [/^negative value NUM$/, function (m) { return fmt(t("negative value {value}"), { value: n(m[1]) }); }],
    [/^NUM below the physical minimum NUM$/, function (m) {
      return fmt(t("{value} below the physical minimum {minimum}"), { value: n(m[1]), minimum: n(m[2]) });
    }],
    [/^NUM above the instrument range NUM$/, function (m) {
      return fmt(t("{value} above the instrument range {maximum}"), { value: n(m[1]), maximum: n(m[2]) });
    }],
    [/^time in the future$/, function () { return t("time in the future"); }],
    [/^off the series' NUM-minute clock$/, function (m) {
      return fmt(t("off the series' {minutes}-minute clock"), { minutes: n(m[1]) });
    }],
    [/^burst: less than a quarter interval after the previous reading$/, function () {
      return t("burst: less than a quarter interval after the previous reading");
    }],
    [/^ratio to the median of NUM neighbours within NUM km moved NUM % \(Theil-Sen over NUM days\)$/, function (m) {
      return fmt(t("ratio to the median of {n} neighbours within {km} km moved {pct} % (Theil-Sen over {days} days)"),
        { n: n(m[1]), km: n(m[2]), pct: sn(m[3]), days: n(m[4]) });
    }],
  ].map(function (d) { return [new RegExp(d[0].source.replace(/NUM/g, NUMBER)), d[1]]; });
  function detailText(detail) {
    var text = String(detail || "");
    for (var i = 0; i < DETAILS.length; i++) {
      var m = DETAILS[i][0].exec(text);
      if (m) return DETAILS[i][1](m);
    }
    return text;
  }
  window.nagarQuality = { detailText: detailText };  // for the page tests

  var getJSON = N.getJSON;
  var api = N.api;
  var setStatus = N.setStatus;
  function fail(err) {
    N.fail(err, t("No such city or station."));
  }
  var cell = N.cell;

  // ------------------------------------------------------------------------------ counts

  function drawCounts(summary) {
    var tbody = document.querySelector("#fault-counts tbody");
    tbody.textContent = "";
    summary.items.forEach(function (it) {
      var tr = document.createElement("tr");
      tr.dataset.station = it.station;
      if (it.station === cfg.station) tr.className = "selected";
      var th = cell(tr, "", "", true);
      var a = document.createElement("a");
      a.href = "?city=" + encodeURIComponent(cfg.city) + "&station=" + encodeURIComponent(it.station) + "&lang=" + encodeURIComponent(body.dataset.lang || "en");
      a.textContent = it.name || it.station;
      th.appendChild(a);
      KINDS.forEach(function (k) { cell(tr, N.num(it.by_kind[k] || 0), "num"); });
      cell(tr, N.num(it.notices || 0), "num");
      cell(tr, N.num(it.overridden || 0), "num");
      tbody.appendChild(tr);
    });
  }

  // ------------------------------------------------------------------------------ series

  var seriesChart = null;
  var stationNames = {};
  function drawSeries(s) {
    var labels = s.points.map(function (p) { return hourLabel(p.time); });
    var raw = s.points.map(function (p) { return p.value; });
    var flagged = s.points.map(function (p) { return p.flag === "suspect" || p.flag === "invalid" ? p.value : null; });
    var nFlagged = flagged.filter(function (v) { return v !== null; }).length;
    if (seriesChart) seriesChart.destroy();
    seriesChart = new Chart(document.getElementById("series-chart"), {
      type: "line",
      data: {
        labels: labels,
        datasets: [
          { label: t("Raw reading"), data: raw, borderColor: "#0f5c4d", backgroundColor: "#0f5c4d", pointRadius: 0, borderWidth: 1.2 },
          { label: t("Flagged (suspect or invalid)"), data: flagged, showLine: false, pointRadius: 3.5, borderColor: "#c0392b", backgroundColor: "#c0392b" },
        ],
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        interaction: { mode: "index", intersect: false },
        scales: { x: { ticks: { maxTicksLimit: 10 } }, y: { title: { display: true, text: s.unit || "" } } },
      },
    });
    var box = document.getElementById("series-box");
    box.dataset.points = String(labels.length);
    box.dataset.flagged = String(nFlagged);
    document.getElementById("series-meta").textContent = fmt(t("{station}: {n} readings, {k} flagged"), {
      station: stationNames[s.station] || s.station, n: labels.length, k: nFlagged,
    });
  }

  function drawFaults(res) {
    var tbody = document.querySelector("#fault-list tbody");
    tbody.textContent = "";
    if (!res.items.length) {
      var tr = document.createElement("tr");
      cell(tr, t("No faults found."), "muted").colSpan = 5;
      tbody.appendChild(tr);
    }
    res.items.forEach(function (f) {
      var tr = document.createElement("tr");
      cell(tr, hourLabel(f.time));
      cell(tr, PARAMETERS[f.parameter] || f.parameter);
      // a notice is recorded only: the reading keeps its flag and still counts in means and the AQI
      var note = f.overridden ? " (" + t("overridden") + ")" : f.severity === "notice" ? " (" + t("notice, still counted") + ")" : "";
      var kc = cell(tr, (KIND_NAMES[f.kind] ? KIND_NAMES[f.kind]() : f.kind) + note);
      kc.dataset.severity = f.severity;
      cell(tr, num(f.value), "num");
      cell(tr, detailText(f.detail), "muted");
      tbody.appendChild(tr);
    });
  }

  // ---------------------------------------------------------------------------- forecast

  var forecastChart = null;
  function drawForecast(fc, skill) {
    var item = fc.items[0];
    var meta = document.getElementById("forecast-meta");
    if (!item) {
      N.textWithCode(meta, t("No forecast yet: forecasts are trained in the background, or with the command {command}."),
        "nagar forecast train");
      return;
    }
    var pts = item.items;
    if (forecastChart) forecastChart.destroy();
    forecastChart = new Chart(document.getElementById("forecast-chart"), {
      type: "line",
      data: {
        labels: pts.map(function (p) { return hourLabel(p.time); }),
        datasets: [{
          label: t("Forecast PM2.5"),
          data: pts.map(function (p) { return p.pm25; }),
          borderColor: "#555", borderWidth: 1.5, pointRadius: 5,
          pointBackgroundColor: pts.map(function (p) { return p.colour || "#999"; }),
          pointBorderColor: pts.map(function (p) { return p.colour || "#999"; }),
        }],
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        scales: { y: { beginAtZero: true, title: { display: true, text: fc.unit } } },
        plugins: { tooltip: { callbacks: { label: function (c) {
          var cat = pts[c.dataIndex].category;
          return num(c.parsed.y) + " " + fc.unit + (cat ? " · " + t(cat) : "");
        } } } },
      },
    });
    document.getElementById("forecast-box").dataset.points = String(pts.length);
    meta.textContent = fmt(t("issued {time} {zone}, {standard}"), { time: hourLabel(item.issued_at), zone: zoneName, standard: item.standard });
    var sk = (skill.items || []).filter(function (s) { return s.station === item.station; })[0];
    if (sk && sk.n) {
      document.getElementById("skill-line").textContent = fmt(
        t("Held-out skill: MAE {model} µg/m³ (persistence {pers}); AQI category right {hit} of the time (persistence {phit})."), {
          model: num(sk.mae.model), pers: num(sk.mae.persistence),
          hit: pf.format(sk.category_hit_rate.model || 0), phit: pf.format(sk.category_hit_rate.persistence || 0),
        });
    }
  }

  function start() {
    var base = "/cities/" + encodeURIComponent(cfg.city);
    Promise.all([
      getJSON(cfg.i18nUrl).catch(function () { return { messages: {} }; }),
      api("/cities").catch(function () { return { items: [] }; }),
    ])
      .then(function (res) {
        N.setMessages(res[0].messages);
        setStatus(t("Loading…"));
        N.fillCities(res[1].items || [], cfg.city);
        var city = (res[1].items || []).filter(function (c) { return c.id === cfg.city; })[0];
        if (city && city.timezone) {
          hourFmt = N.dateFormatter(city.timezone, { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
          zoneName = N.zoneLabel(city.timezone);
        }
        document.getElementById("faults-meta").textContent = zoneName ? fmt(t("Times in {zone}"), { zone: zoneName }) : "";
        return Promise.all([api(base + "/quality/summary"), api("/stations", { city: cfg.city }).catch(function () { return { items: [] }; })]);
      })
      .then(function (both) {
        // only the stations that measure air pollutants (not the city's rooftop-solar meter)
        var summary = both[0], other = {};
        (both[1].items || []).forEach(function (st) { if (!N.measuresAir(st)) other[st.id] = true; });
        summary.items = summary.items.filter(function (it) { return !other[it.station]; });
        if (!cfg.station) {
          // the station with the most faults, else the first
          var best = summary.items.slice().sort(function (a, b) { return b.total - a.total; })[0];
          cfg.station = best ? best.station : "";
        }
        summary.items.forEach(function (it) { stationNames[it.station] = it.name || it.station; });
        drawCounts(summary);
        if (!cfg.station) return null;
        var st = encodeURIComponent(cfg.station);
        return api(base + "/quality/faults", { station: cfg.station, limit: 200 }).then(function (faults) {
          // the series shows 30 days around the newest fault of PM2.5 (else the newest 30 days)
          var pm = faults.items.filter(function (f) { return f.parameter === "pm25"; })[0];
          var span = {};
          if (pm) {
            var t0 = new Date(pm.time).getTime();
            span = { start: new Date(t0 - 20 * 864e5).toISOString(), end: new Date(t0 + 10 * 864e5).toISOString() };
          }
          return Promise.all([
            api(base + "/quality/stations/" + st + "/series", Object.assign({ parameter: "pm25" }, span)),
            api(base + "/stations/" + st + "/forecast"),
            api(base + "/forecast/skill"),
          ]).then(function (r) {
            drawFaults(faults);
            drawSeries(r[0]);
            drawForecast(r[1], r[2]);
          });
        });
      })
      .then(function () {
        body.dataset.state = "ready";
        setStatus("");
      })
      .catch(fail);
  }

  if (typeof Chart === "undefined") {
    fail(new Error("chart library missing"));
    return;
  }
  start();
})();
