/* Nagar e-waste page: e-waste generated (UNU model) against documented collection per EEE category and
 * year (Chart.js), the collection-rate table, and the collection points (Leaflet).
 *
 * Configuration from data-* attributes of <body>, words from /i18n/<lang>.json (t()), data from the
 * JSON API (/api/v1/cities/{city}/ewaste/...). No inline script or style (strict Content-Security-Policy).
 */
(function () {
  "use strict";

  var body = document.body;
  var N = window.Nagar;
  var cfg = N.cfg;
  var t = N.t;
  var CATEGORIES = {
    0: function () { return t("All categories"); },
    1: function () { return t("Temperature exchange equipment"); },
    2: function () { return t("Screens and monitors"); },
    3: function () { return t("Lamps"); },
    4: function () { return t("Large equipment"); },
    5: function () { return t("Small equipment"); },
    6: function () { return t("Small IT and telecommunication equipment"); },
  };
  var COLOURS = { 1: "#0f5c4d", 2: "#4f9d8b", 3: "#c9a227", 4: "#7a5c99", 5: "#d46a43", 6: "#3b6ea5" };

  var nf = new Intl.NumberFormat(cfg.locale, { maximumFractionDigits: 1 });
  var pf = new Intl.NumberFormat(cfg.locale, { style: "percent", maximumFractionDigits: 3 });
  /** kg as tonnes with one decimal; an amount too small for that keeps two significant digits (0.004 t,
   *  not 0 next to a non-zero collection rate). */
  function tonnes(kg) {
    return kg === null || kg === undefined ? "–" : N.amount(kg / 1000, 1);
  }
  function pct(v) {
    return v === null || v === undefined ? "–" : pf.format(v);
  }

  var getJSON = N.getJSON;
  function cityApi(path) {
    return getJSON(cfg.api + "/cities/" + encodeURIComponent(cfg.city) + "/ewaste" + path);
  }
  var setStatus = N.setStatus;

  /** The city <select>: every city the caller may see, by its translated name; choosing one reloads the page. */

  function drawChart(gen, rates) {
    var years = gen.years;
    var collected = {};
    (rates.items || []).forEach(function (r) {
      if (r.category > 0) collected[r.year + ":" + r.category] = r.collected_kg;
    });
    var datasets = [];
    Object.keys(gen.categories).forEach(function (c) {
      datasets.push({
        label: CATEGORIES[c](),
        data: gen.categories[c].generated.map(function (kg) { return kg / 1000; }),
        backgroundColor: COLOURS[c],
        stack: "generated",
      });
    });
    var collectedTotal = years.map(function (y) {
      var s = 0;
      for (var c = 1; c <= 6; c++) s += collected[y + ":" + c] || 0;
      return s / 1000;
    });
    datasets.push({
      type: "line",
      label: t("Documented collection"),
      data: collectedTotal,
      borderColor: "#111",
      backgroundColor: "#111",
      pointRadius: 3,
    });
    new Chart(document.getElementById("generation-chart"), {
      type: "bar",
      data: { labels: years.map(N.digits), datasets: datasets },
      options: {
        maintainAspectRatio: false,
        animation: false,
        scales: {
          x: { stacked: true },
          y: { stacked: true, title: { display: true, text: t("Tonnes per year") } },
        },
      },
    });
    document.getElementById("generation-box").dataset.bars = String(years.length);
    document.getElementById("generation-box").dataset.datasets = String(datasets.length);
    document.getElementById("generation-meta").textContent =
      gen.kg_per_inhabitant && gen.kg_per_inhabitant.length
        ? t("kg per inhabitant") + ": " + nf.format(gen.kg_per_inhabitant[gen.kg_per_inhabitant.length - 1] || 0)
        : "";
  }

  function fillTable(rates) {
    var tbody = document.querySelector("#rate-table tbody");
    tbody.textContent = "";
    (rates.items || []).forEach(function (r) {
      var tr = document.createElement("tr");
      [N.digits(r.year), CATEGORIES[r.category](), tonnes(r.generated_kg), tonnes(r.collected_kg), pct(r.rate),
        pct(r.target)].forEach(function (v, i) {
        var td = document.createElement("td");
        td.textContent = v;
        if (i >= 2) td.className = "num";
        tr.appendChild(td);
      });
      tbody.appendChild(tr);
    });
  }

  function drawMap(points, geo) {
    var map = L.map("ewaste-map", { zoomControl: true, minZoom: 2, maxZoom: 18 });
    var bounds = points.map(function (p) { return [p.lat, p.lon]; });
    // the view first: Leaflet draws vector layers only on a map that has one
    if (bounds.length) {
      map.fitBounds(bounds, { padding: [30, 30], maxZoom: 14 });
    } else {
      map.setView([23.8, 90.4], 11);
    }
    if (cfg.tileUrl) {
      L.tileLayer(cfg.tileUrl, { maxZoom: 19, attribution: t("Map tiles as configured by the city") }).addTo(map);
    }
    if (geo) {
      // country outlines (Natural Earth, static/geo), as on the other pages' maps
      L.geoJSON(geo, { interactive: false, style: { color: "#9fb3ad", weight: 0.6, fillColor: "#eef2ef", fillOpacity: cfg.tileUrl ? 0 : 1 } }).addTo(map);
      map.attributionControl.addAttribution("Natural Earth");
    }
    document.getElementById("ewaste-map").dataset.outlines = String(geo && geo.features ? geo.features.length : 0);
    points.forEach(function (p) {
      var m = L.circleMarker([p.lat, p.lon], { radius: 8, color: "#0f5c4d", fillColor: "#4f9d8b", fillOpacity: 0.8 });
      m.bindTooltip(p.name);
      m.addTo(map);
    });
    document.getElementById("ewaste-map").dataset.markers = String(points.length);
    document.getElementById("points-meta").textContent = N.num(points.length);
  }

  function start() {
    var geo = null;
    Promise.all([
      getJSON(cfg.i18nUrl).catch(function () { return { messages: {} }; }),
      cfg.geoUrl ? getJSON(cfg.geoUrl).catch(function () { return null; }) : Promise.resolve(null),
    ])
      .then(function (first) {
        N.setMessages(first[0].messages);
        geo = first[1];
        setStatus(t("Loading…"));
        return Promise.all([cityApi("/collection-rate"), cityApi("/points"), N.loadCities(cfg.city)]);
      })
      .then(function (res) {
        // model up to the last year with collection data, so that both show side by side
        var last = 0;
        (res[0].items || []).forEach(function (r) { last = Math.max(last, r.year); });
        return cityApi("/generation" + (last ? "?to=" + last : ""))
          .catch(function (e) { return e.status === 404 || e.status === 422 ? null : Promise.reject(e); })
          .then(function (gen) { return [gen, res[0], res[1]]; });
      })
      .then(function (res) {
        var gen = res[0], rates = res[1], points = res[2].items || [];
        if (gen) drawChart(gen, rates);
        fillTable(rates);
        drawMap(points, geo);
        body.dataset.state = "ready";
        setStatus(gen ? "" : t("No put-on-market data for this city yet."));
      })
      .catch(function (e) {
        if (window.console) console.error(e);
        body.dataset.state = "error";
        setStatus(e.status === 404 ? t("City not found, or not visible to you.") : t("Could not load the data."), true);
      });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
