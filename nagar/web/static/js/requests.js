/* Nagar service-requests page: open requests on a map (coloured by service), counts per service and
 * status, and the requests past their service-level target.
 *
 * Configuration from data-* attributes of <body>, words from /i18n/<lang>.json (t()), data from the
 * JSON API. No inline script or style (strict Content-Security-Policy).
 */
(function () {
  "use strict";

  var body = document.body;
  var N = window.Nagar;
  var cfg = N.cfg;
  var COLOURS = ["#b5462f", "#7a4b9c", "#1f78b4", "#2a9d8f", "#8c6d1f", "#c9a227", "#555555"];

  var t = N.t;
  var fmt = N.fmt;
  var nf = new Intl.NumberFormat(cfg.locale, { maximumFractionDigits: 1 });
  var df = N.dateFormatter(null);  // in the city's zone once the city is known

  var getJSON = N.getJSON;
  function api(path, params) {
    return getJSON(cfg.api + path + "?" + new URLSearchParams(params).toString());
  }
  function setStatus(text) {
    document.getElementById("status").textContent = text || "";
  }
  var cell = N.cell;

  function drawMap(geo, summary, colourOf, centre) {
    var map = L.map("requests-map", { zoomControl: true, minZoom: 3, maxZoom: 18 }).setView(centre, 11);
    if (cfg.tileUrl) {
      L.tileLayer(cfg.tileUrl, { maxZoom: 19, attribution: t("Map tiles as configured by the city") }).addTo(map);
    }
    if (geo) {
      L.geoJSON(geo, {
        interactive: false,
        style: { color: "#9fb3ad", weight: 0.6, fillColor: "#eef2ef", fillOpacity: cfg.tileUrl ? 0 : 1 },
      }).addTo(map);
    }
    var bounds = [];
    summary.open.forEach(function (r) {
      if (r.lat === null || r.long === null) return;
      var c = colourOf(r.service_code);
      var m = L.circleMarker([r.lat, r.long], {
        radius: 7, color: c, weight: 1.5, fillColor: c, fillOpacity: 0.6, className: "request-marker",
      }).addTo(map);
      var when = r.requested_datetime ? df.format(new Date(r.requested_datetime)) : "";
      m.bindTooltip(t(r.service_name) + " · " + when + (r.status_notes ? " · " + r.status_notes : ""));
      bounds.push([r.lat, r.long]);
    });
    if (bounds.length) map.fitBounds(bounds, { padding: [30, 30], maxZoom: 15 });
    L.control.scale({ imperial: false }).addTo(map);
    document.getElementById("requests-map").dataset.markers = String(bounds.length);
    document.getElementById("map-meta").textContent = fmt(t("{n} open"), { n: bounds.length });
  }

  function drawCounts(summary, colourOf) {
    var tbody = document.querySelector("#counts-table tbody");
    var legend = document.getElementById("service-legend");
    tbody.textContent = "";
    legend.textContent = "";
    var open = {}, closed = {};
    var OPEN = { new: 1, acknowledged: 1, in_progress: 1 };
    summary.counts.forEach(function (c) {
      var bucket = OPEN[c.status] ? open : closed;
      bucket[c.service_code] = (bucket[c.service_code] || 0) + c.n;
    });
    summary.services.forEach(function (s) {
      var tr = document.createElement("tr");
      cell(tr, t(s.service_name));
      cell(tr, N.num(open[s.service_code] || 0), "num");
      cell(tr, N.num(closed[s.service_code] || 0), "num");
      tbody.appendChild(tr);
      var li = document.createElement("li");
      var sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.backgroundColor = colourOf(s.service_code);
      li.appendChild(sw);
      li.appendChild(document.createTextNode(t(s.service_name)));
      legend.appendChild(li);
    });
  }

  function drawBreaches(items) {
    var tbody = document.querySelector("#sla-table tbody");
    tbody.textContent = "";
    items.forEach(function (b) {
      var tr = document.createElement("tr");
      cell(tr, "#" + N.digits(b.service_request_id));
      cell(tr, t(b.service_name));
      cell(tr, nf.format(b.hours_overdue), "num");
      tbody.appendChild(tr);
    });
    document.getElementById("sla-meta").textContent = items.length ? "" : t("None");
  }

  function start() {
    Promise.all([
      getJSON(cfg.i18nUrl).catch(function () { return { messages: {} }; }),
      cfg.geoUrl ? getJSON(cfg.geoUrl).catch(function () { return null; }) : Promise.resolve(null),
      getJSON(cfg.api + "/cities").catch(function () { return { items: [] }; }),
      api("/service-requests/summary", { city: cfg.city }),
      api("/service-requests/sla-breaches", { city: cfg.city }),
    ])
      .then(function (res) {
        N.setMessages(res[0].messages);
        N.fillCities(res[2].items || [], cfg.city, true);  // by name, not id
        var summary = res[3];
        var index = {};
        summary.services.forEach(function (s, i) { index[s.service_code] = i; });
        function colourOf(code) {
          return COLOURS[(index[code] === undefined ? COLOURS.length - 1 : index[code]) % COLOURS.length];
        }
        var here = (res[2].items || []).filter(function (c) { return c.id === cfg.city; })[0];
        if (here && here.timezone) df = N.dateFormatter(here.timezone);
        drawMap(res[1], summary, colourOf, here ? [here.lat, here.lon] : [23.78, 90.4]);
        drawCounts(summary, colourOf);
        drawBreaches(res[4].items || []);
        body.dataset.state = "ready";
        setStatus("");
      })
      .catch(function (err) {
        if (window.console) console.error(err);
        body.dataset.state = "error";
        setStatus(err && err.status === 404 ? t("No such city, or it does not publish its data.")
                                             : t("Could not load data from the server."));
      });
  }

  if (typeof L === "undefined") {
    body.dataset.state = "error";
    setStatus(t("Could not load data from the server."));
    return;
  }
  start();
})();
