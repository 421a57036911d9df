/* Nagar air-quality dashboard.
 *
 * Reads its configuration from data-* attributes of <body>, its words from /i18n/<lang>.json and its
 * data from the JSON API. No inline script or style anywhere (strict Content-Security-Policy): colours
 * are set through the DOM's style properties. Every word shown goes through t(), whose msgids are
 * extracted into the gettext catalogues (nagar/web/translations).
 */
(function () {
  "use strict";

  var body = document.body;
  var N = window.Nagar;
  var cfg = N.cfg;
  var t = N.t;
  var fmt = N.fmt;

  var NO_DATA_COLOUR = "#9aa5a1";
  var HOUR = 3600 * 1000;
  var DAY = 24 * HOUR;

  var POLLUTANTS = {
    pm25: function () { return t("Fine particulate matter (PM2.5)"); },
    pm10: function () { return t("Coarse particulate matter (PM10)"); },
    o3: function () { return t("Ozone (O₃)"); },
    no2: function () { return t("Nitrogen dioxide (NO₂)"); },
    so2: function () { return t("Sulphur dioxide (SO₂)"); },
    co: function () { return t("Carbon monoxide (CO)"); },
    nh3: function () { return t("Ammonia (NH₃)"); },
    pb: function () { return t("Lead (Pb)"); },
  };

  // Short names of the standards Nagar ships (the API's name is long: it becomes the option's tooltip).
  var STANDARD_LABELS = {
    "bd-doe": function () { return t("Bangladesh DoE"); },
    "us-epa-2024": function () { return t("US EPA (2024)"); },
    "us-epa-2012": function () { return t("US EPA (2012)"); },
    "in-naqi-2014": function () { return t("India NAQI (2014)"); },
  };
  function standardName(std) {
    if (!std) return "";
    var label = STANDARD_LABELS[std.id];
    return label ? label() : t(std.name || std.id);
  }

  /** "pm25_24h", "PM2.5", "o3_8h" -> a translated pollutant name. */
  function pollutantName(code) {
    if (!code) return "–";
    var key = String(code).toLowerCase().replace(/\./g, "").replace(/_\d+h$/, "").replace(/_.*$/, "");
    var name = POLLUTANTS[key];
    return name ? name() : t(String(code));
  }

  var state = {
    cities: [],
    standards: [],
    city: null, // city object
    standard: null, // standard object
    standardChosen: false, // the user picked a standard (else: the city's own)
    stations: [],
    latest: [], // items of /aqi/latest
    stationId: null,
    series: null,
  };
  var loadToken = 0;
  var chartToken = 0;

  var nf = new Intl.NumberFormat(cfg.locale, { maximumFractionDigits: 0 });
  function formatNumber(value) {
    return value === null || value === undefined || isNaN(value) ? "–" : nf.format(Math.round(value));
  }
  /** common.js's formatter in the shown city's zone (24-hour clock in every language). */
  function dateFormatter(options) {
    return N.dateFormatter(state.city && state.city.timezone, options);
  }

  /** Dark or white text, whichever reads better on a background colour. */
  function textColourOn(colour) {
    var m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(String(colour || "").trim());
    if (!m) return "#102420";
    var rgb = [m[1], m[2], m[3]].map(function (h) {
      var c = parseInt(h, 16) / 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    var lum = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2];
    return lum > 0.22 ? "#102420" : "#ffffff";
  }

  function paintChip(el, colour) {
    el.style.backgroundColor = colour || NO_DATA_COLOUR;
    el.style.color = textColourOn(colour || NO_DATA_COLOUR);
  }

  // ---------------------------------------------------------------------------------------- data

  var getJSON = N.getJSON;
  var api = N.api;
  var setStatus = N.setStatus;

  function setBusy(busy) {
    body.dataset.state = busy ? "loading" : "ready";
    if (busy) setStatus(t("Loading…"));
    else setStatus("");
  }

  var fail = N.fail;

  // ------------------------------------------------------------------------------- URL and links

  function syncUrl() {
    var params = new URLSearchParams(window.location.search);
    if (state.city) params.set("city", state.city.id);
    if (state.standardChosen && state.standard) params.set("standard", state.standard.id);
    else params.delete("standard");
    if (state.stationId) params.set("station", state.stationId);
    else params.delete("station");
    params.delete("lang");
    var base = params.toString();
    window.history.replaceState(null, "", "?" + base);
    document.querySelectorAll(".languages a.lang-link").forEach(function (a) {
      var p = new URLSearchParams(base);
      p.set("lang", a.dataset.lang);
      a.setAttribute("href", "?" + p.toString());
    });
  }

  // ------------------------------------------------------------------------------------ controls

  function fillSelect(select, items, valueOf, labelOf, selected) {
    select.textContent = "";
    items.forEach(function (item) {
      var opt = document.createElement("option");
      opt.value = valueOf(item);
      opt.textContent = labelOf(item);
      if (opt.value === selected) opt.selected = true;
      select.appendChild(opt);
    });
    select.disabled = items.length === 0;
  }

  function standardLabel(std) {
    var name = standardName(std);
    if (state.city && std.id === state.city.standard) return fmt(t("{name} (city standard)"), { name: name });
    return name;
  }

  function renderControls() {
    fillSelect(
      document.getElementById("city-select"),
      state.cities,
      function (c) { return c.id; },
      function (c) { return t(c.name); },
      state.city ? state.city.id : null
    );
    var stdSelect = document.getElementById("standard-select");
    fillSelect(
      stdSelect,
      state.standards,
      function (s) { return s.id; },
      standardLabel,
      state.standard ? state.standard.id : null
    );
    Array.prototype.forEach.call(stdSelect.options, function (opt, i) {
      var std = state.standards[i];
      if (std) opt.title = [std.name, std.source].filter(Boolean).join(" — ");
    });
  }

  function findStandard(id) {
    for (var i = 0; i < state.standards.length; i++) if (state.standards[i].id === id) return state.standards[i];
    return null;
  }

  function sortedCategories(std) {
    return ((std && std.categories) || []).slice().sort(function (a, b) { return a.lo - b.lo; });
  }

  function renderLegend() {
    var list = document.getElementById("legend");
    list.textContent = "";
    var std = state.standard;
    document.getElementById("legend-standard").textContent = std ? "(" + standardName(std) + ")" : "";
    list.dataset.standard = std ? std.id : "";
    sortedCategories(std).forEach(function (c) {
      var li = document.createElement("li");
      li.dataset.category = c.key;
      var swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.backgroundColor = c.colour;
      var name = document.createElement("span");
      name.className = "legend-name";
      name.textContent = t(c.name);
      var range = document.createElement("span");
      range.className = "legend-range";
      range.textContent = c.hi === null || c.hi === undefined ? formatNumber(c.lo) + "+" : formatNumber(c.lo) + "–" + formatNumber(c.hi);
      li.appendChild(swatch);
      li.appendChild(name);
      li.appendChild(range);
      list.appendChild(li);
    });
    var li = document.createElement("li");
    li.dataset.category = "none";
    var swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.backgroundColor = NO_DATA_COLOUR;
    var name = document.createElement("span");
    name.className = "legend-name";
    name.textContent = t("No recent data");
    li.appendChild(swatch);
    li.appendChild(name);
    list.appendChild(li);
  }

  // ----------------------------------------------------------------------------------------- map

  var map = null;
  var outlines = null;
  var markerLayer = null;
  var markers = {};

  function initMap(geo) {
    map = L.map("map", { zoomControl: true, minZoom: 3, maxZoom: 17, worldCopyJump: false });
    map.attributionControl.setPrefix(false);
    if (cfg.tileUrl) {
      L.tileLayer(cfg.tileUrl, { maxZoom: 19, attribution: t("Map tiles as configured by the city") }).addTo(map);
    }
    if (geo) {
      outlines = L.geoJSON(geo, {
        interactive: false,
        attribution: t("Natural Earth"),
        style: function (feature) {
          var home = feature.properties && feature.properties.name === "Bangladesh";
          return {
            color: "#8c9b95",
            weight: 1,
            fillColor: home ? "#f7f3e6" : "#ece8dc",
            fillOpacity: cfg.tileUrl ? 0 : 1,
          };
        },
      }).addTo(map);
    }
    L.control.scale({ imperial: false }).addTo(map);
    markerLayer = L.layerGroup().addTo(map);
    map.setView([23.7, 90.4], 6);
  }

  function latestFor(stationId) {
    for (var i = 0; i < state.latest.length; i++) if (state.latest[i].station === stationId) return state.latest[i];
    return null;
  }

  function markerIcon(station, item, selected) {
    var el = document.createElement("div");
    var hasAqi = item && item.aqi !== null && item.aqi !== undefined;
    var colour = hasAqi ? item.colour : NO_DATA_COLOUR;
    el.className = "aqi-marker" + (selected ? " selected" : "");
    el.textContent = hasAqi ? formatNumber(item.aqi) : "–";
    paintChip(el, colour);
    el.dataset.station = station.id;
    el.dataset.colour = colour;
    el.dataset.category = hasAqi ? item.category_key || "" : "none";
    var size = selected ? 44 : 36;
    return L.divIcon({ html: el, className: "aqi-marker-wrap", iconSize: [size, size], iconAnchor: [size / 2, size / 2], popupAnchor: [0, -size / 2] });
  }

  /** Where markers overlap, the selected station is on top, then the worse air. */
  function markerZ(stationId) {
    var item = latestFor(stationId);
    var aqi = item && item.aqi !== null && item.aqi !== undefined ? Math.min(item.aqi, 5000) : 0;
    return (stationId === state.stationId ? 10000 : 0) + Math.round(aqi);
  }

  function popupContent(station, item) {
    var root = document.createElement("div");
    root.className = "popup";
    var title = document.createElement("strong");
    title.className = "popup-title";
    title.textContent = t(station.name);
    root.appendChild(title);
    var row = document.createElement("div");
    row.className = "popup-aqi";
    var chip = document.createElement("span");
    chip.className = "chip";
    var hasAqi = item && item.aqi !== null && item.aqi !== undefined;
    chip.textContent = t("AQI") + " " + (hasAqi ? formatNumber(item.aqi) : "–");
    paintChip(chip, hasAqi ? item.colour : NO_DATA_COLOUR);
    var cat = document.createElement("span");
    cat.className = "popup-category";
    cat.textContent = hasAqi ? t(item.category) : t("No recent data");
    row.appendChild(chip);
    row.appendChild(cat);
    root.appendChild(row);
    var dom = document.createElement("div");
    dom.className = "popup-dominant";
    dom.textContent = t("Dominant pollutant") + ": " + (hasAqi ? pollutantName(item.dominant) : "–");
    root.appendChild(dom);
    return root;
  }

  function renderMarkers(fit) {
    markerLayer.clearLayers();
    markers = {};
    var bounds = [];
    state.stations.forEach(function (station) {
      var item = latestFor(station.id);
      var lat = station.lat, lon = station.lon;
      if (lat === null || lon === null || lat === undefined || lon === undefined) return;
      var marker = L.marker([lat, lon], {
        icon: markerIcon(station, item, station.id === state.stationId),
        title: t(station.name),
        alt: t(station.name),
        riseOnHover: true,
        keyboard: true,
        zIndexOffset: markerZ(station.id),
      });
      marker.bindPopup(function () { return popupContent(station, latestFor(station.id)); }, { closeButton: true });
      marker.on("click", function () { selectStation(station.id); });
      marker.addTo(markerLayer);
      markers[station.id] = marker;
      bounds.push([lat, lon]);
    });
    if (fit) {
      if (bounds.length > 1) map.fitBounds(bounds, { padding: [48, 48], maxZoom: 13 });
      else if (bounds.length === 1) map.setView(bounds[0], 12);
      else if (state.city && state.city.lat !== null && state.city.lat !== undefined) map.setView([state.city.lat, state.city.lon], 11);
    }
  }

  function restyleMarkers() {
    state.stations.forEach(function (station) {
      var marker = markers[station.id];
      if (!marker) return;
      var selected = station.id === state.stationId;
      marker.setIcon(markerIcon(station, latestFor(station.id), selected));
      marker.setZIndexOffset(markerZ(station.id));
      if (marker.isPopupOpen()) marker.setPopupContent(popupContent(station, latestFor(station.id)));
    });
  }

  // -------------------------------------------------------------------------------- station card

  function renderStationCard() {
    var station = null;
    for (var i = 0; i < state.stations.length; i++) if (state.stations[i].id === state.stationId) station = state.stations[i];
    var item = station ? latestFor(station.id) : null;
    var hasAqi = item && item.aqi !== null && item.aqi !== undefined;
    document.getElementById("station-card").dataset.station = station ? station.id : "";
    document.getElementById("station-name").textContent = station ? t(station.name) : t("Select a station on the map");
    document.getElementById("aqi-value").textContent = hasAqi ? formatNumber(item.aqi) : "–";
    paintChip(document.getElementById("aqi-badge"), hasAqi ? item.colour : NO_DATA_COLOUR);
    document.getElementById("station-category").textContent = station ? (hasAqi ? t(item.category) : t("No recent data")) : "–";
    document.getElementById("station-dominant").textContent = hasAqi ? pollutantName(item.dominant) : "–";
    document.getElementById("station-time").textContent =
      item && item.time ? dateFormatter({ dateStyle: "medium", timeStyle: "short" }).format(new Date(item.time)) : "–";
  }

  function renderTable() {
    var tbody = document.querySelector("#station-table tbody");
    tbody.textContent = "";
    var rows = state.stations.map(function (s) { return { station: s, item: latestFor(s.id) }; });
    rows.sort(function (a, b) {
      var x = a.item && a.item.aqi !== null && a.item.aqi !== undefined ? a.item.aqi : -1;
      var y = b.item && b.item.aqi !== null && b.item.aqi !== undefined ? b.item.aqi : -1;
      return y - x || String(a.station.name).localeCompare(String(b.station.name));
    });
    rows.forEach(function (row) {
      var tr = document.createElement("tr");
      tr.dataset.station = row.station.id;
      if (row.station.id === state.stationId) tr.className = "selected";
      var hasAqi = row.item && row.item.aqi !== null && row.item.aqi !== undefined;

      var th = document.createElement("th");
      th.scope = "row";
      var button = document.createElement("button");
      button.type = "button";
      button.className = "link";
      button.textContent = t(row.station.name);
      button.addEventListener("click", function () {
        selectStation(row.station.id);
        var marker = markers[row.station.id];
        if (marker) {
          map.panTo(marker.getLatLng());
          marker.openPopup();
        }
      });
      th.appendChild(button);
      tr.appendChild(th);

      var aqi = document.createElement("td");
      aqi.className = "num";
      aqi.textContent = hasAqi ? formatNumber(row.item.aqi) : "–";
      tr.appendChild(aqi);

      var cat = document.createElement("td");
      var chip = document.createElement("span");
      chip.className = "chip";
      chip.textContent = hasAqi ? t(row.item.category) : t("No recent data");
      paintChip(chip, hasAqi ? row.item.colour : NO_DATA_COLOUR);
      cat.appendChild(chip);
      tr.appendChild(cat);

      var dom = document.createElement("td");
      dom.textContent = hasAqi ? pollutantName(row.item.dominant) : "–";
      tr.appendChild(dom);
      tbody.appendChild(tr);
    });
  }

  function renderUpdated() {
    var newest = null;
    state.latest.forEach(function (i) {
      if (i.time && (!newest || i.time > newest)) newest = i.time;
    });
    document.getElementById("map-updated").textContent = newest
      ? fmt(t("Latest reading: {time}"), { time: dateFormatter({ dateStyle: "medium", timeStyle: "short" }).format(new Date(newest)) })
      : "";
  }

  // --------------------------------------------------------------------------------------- chart

  var chart = null;

  /** Draws each category of the standard as a coloured horizontal band behind the line. */
  var bandsPlugin = {
    id: "aqiBands",
    beforeDatasetsDraw: function (c, args, options) {
      var cats = options.categories || [];
      var area = c.chartArea;
      var y = c.scales.y;
      if (!area || !y) return;
      var ctx = c.ctx;
      ctx.save();
      cats.forEach(function (cat, i) {
        var next = cats[i + 1];
        var top = next ? next.lo : (cat.hi !== null && cat.hi !== undefined ? Math.max(cat.hi, y.max) : y.max);
        if (cat.lo >= y.max) return;
        var yTop = Math.max(area.top, y.getPixelForValue(Math.min(top, y.max)));
        var yBottom = Math.min(area.bottom, y.getPixelForValue(Math.max(cat.lo, y.min)));
        if (yBottom - yTop < 0.5) return;
        ctx.globalAlpha = 0.28;
        ctx.fillStyle = cat.colour;
        ctx.fillRect(area.left, yTop, area.right - area.left, yBottom - yTop);
        if (yBottom - yTop >= 15) {
          ctx.globalAlpha = 0.8;
          ctx.fillStyle = "#243b35";
          ctx.font = "11px system-ui, sans-serif";
          ctx.textBaseline = "top";
          ctx.textAlign = "right";
          ctx.fillText(t(cat.name), area.right - 6, yTop + 3);
        }
      });
      ctx.restore();
    },
  };

  function chartRange() {
    var item = latestFor(state.stationId);
    var end = item && item.time ? Date.parse(item.time) : NaN;
    if (isNaN(end)) {
      state.latest.forEach(function (i) {
        var v = i.time ? Date.parse(i.time) : NaN;
        if (!isNaN(v) && (isNaN(end) || v > end)) end = v;
      });
    }
    if (isNaN(end)) end = Date.now();
    end = Math.ceil(end / HOUR) * HOUR + HOUR;
    return { start: end - 7 * DAY, end: end };
  }

  function yMaximum(values, cats, scaleMax) {
    var dataMax = values.length ? Math.max.apply(null, values) : 0;
    if (!cats.length) return Math.max(50, Math.ceil(dataMax * 1.1));
    var idx = 0;
    for (var i = 0; i < cats.length; i++) if (dataMax >= cats[i].lo) idx = i;
    idx = Math.max(idx, Math.min(1, cats.length - 1));
    var next = cats[idx + 1];
    var cat = cats[idx];
    var top = cat.hi !== null && cat.hi !== undefined ? cat.hi : next ? next.lo : scaleMax || dataMax;
    if (scaleMax && top > scaleMax) top = scaleMax;
    return Math.max(top, Math.ceil(dataMax * 1.05));
  }

  function localHour(ms, hourFmt) {
    var parts = hourFmt.formatToParts(new Date(ms));
    for (var i = 0; i < parts.length; i++) if (parts[i].type === "hour") return parseInt(parts[i].value, 10) % 24;
    return new Date(ms).getHours();
  }

  function renderChart() {
    var box = document.getElementById("chart-box");
    var empty = document.getElementById("chart-empty");
    var series = state.series;
    var items = series && series.items ? series.items : [];
    var points = [];
    var colours = [];
    var labels = [];
    items.forEach(function (it) {
      var x = Date.parse(it.time);
      if (isNaN(x)) return;
      var y = it.aqi === null || it.aqi === undefined ? null : it.aqi;
      points.push({ x: x, y: y });
      colours.push(it.colour || NO_DATA_COLOUR);
      labels.push(it.category ? t(it.category) : "");
    });
    var values = points.filter(function (p) { return p.y !== null; }).map(function (p) { return p.y; });
    box.dataset.points = String(values.length);
    box.dataset.standard = state.standard ? state.standard.id : "";
    box.dataset.station = state.stationId || "";
    box.dataset.max = values.length ? String(Math.max.apply(null, values)) : "";
    empty.hidden = values.length > 0;

    var cats = sortedCategories(state.standard);
    var range = series && series.range ? series.range : chartRange();
    var yMax = yMaximum(values, cats, state.standard && state.standard.scale_max);
    var tooltipDate = dateFormatter({ weekday: "short", day: "numeric", month: "short", hour: "numeric", minute: "2-digit" });
    var tickDate = dateFormatter({ weekday: "short", day: "numeric" });
    // the hour is read as a number, so format it with Latin digits whatever the page language
    var hourOpts = { hour: "numeric", hourCycle: "h23", numberingSystem: "latn" };
    if (state.city && state.city.timezone) hourOpts.timeZone = state.city.timezone;
    var hourFmt = new Intl.DateTimeFormat("en-US", hourOpts);

    var data = {
      datasets: [
        {
          label: t("AQI"),
          data: points,
          parsing: false,
          borderColor: "#1d2b28",
          borderWidth: 2,
          pointRadius: 0,
          pointHoverRadius: 5,
          pointHitRadius: 6,
          pointBackgroundColor: colours,
          pointBorderColor: "#1d2b28",
          tension: 0.25,
          spanGaps: false,
        },
      ],
    };
    var options = {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      interaction: { mode: "nearest", axis: "x", intersect: false },
      scales: {
        x: {
          type: "linear",
          min: range.start,
          max: range.end,
          grid: { color: "rgba(0,0,0,0.06)" },
          afterBuildTicks: function (axis) {
            var ticks = [];
            for (var v = Math.ceil(range.start / HOUR) * HOUR; v <= range.end; v += HOUR) {
              if (localHour(v, hourFmt) === 0) ticks.push({ value: v });
            }
            if (!ticks.length) for (var w = range.start; w <= range.end; w += DAY) ticks.push({ value: w });
            axis.ticks = ticks;
          },
          ticks: {
            autoSkip: true,
            autoSkipPadding: 10,
            maxRotation: 0,
            callback: function (value) { return tickDate.format(new Date(value)); },
          },
        },
        y: {
          min: 0,
          max: yMax,
          title: { display: true, text: t("AQI") },
          grid: { color: "rgba(0,0,0,0.06)" },
          ticks: { callback: function (value) { return formatNumber(value); } },
        },
      },
      plugins: {
        legend: { display: false },
        aqiBands: { categories: cats },
        tooltip: {
          callbacks: {
            title: function (ctx) { return ctx.length ? tooltipDate.format(new Date(ctx[0].parsed.x)) : ""; },
            label: function (ctx) {
              var label = labels[ctx.dataIndex];
              return t("AQI") + " " + formatNumber(ctx.parsed.y) + (label ? " — " + label : "");
            },
          },
        },
      },
    };
    if (chart) {
      chart.data = data;
      chart.options = options;
      chart.update("none");
    } else {
      chart = new Chart(document.getElementById("chart"), { type: "line", data: data, options: options, plugins: [bandsPlugin] });
    }
  }

  function loadChart() {
    var token = ++chartToken;
    if (!state.stationId || !state.standard) {
      state.series = null;
      renderChart();
      return Promise.resolve();
    }
    var range = chartRange();
    return api("/aqi", {
      station: state.stationId,
      start: new Date(range.start).toISOString(),
      end: new Date(range.end).toISOString(),
      standard: state.standard.id,
      resolution: "hour",
    }).then(function (series) {
      if (token !== chartToken) return;
      series.range = range;
      state.series = series;
      renderChart();
    });
  }

  // ------------------------------------------------------------------------------------ behaviour

  function selectStation(id) {
    if (state.stationId === id && state.series) return;
    state.stationId = id;
    syncUrl();
    restyleMarkers();
    renderStationCard();
    renderTable();
    setBusy(true);
    loadChart().then(function () { setBusy(false); }, fail);
  }

  function defaultStation() {
    var best = null;
    state.stations.forEach(function (s) {
      var item = latestFor(s.id);
      var aqi = item && item.aqi !== null && item.aqi !== undefined ? item.aqi : -1;
      if (!best || aqi > best.aqi) best = { id: s.id, aqi: aqi };
    });
    return best ? best.id : null;
  }

  /** Load the stations and latest AQI of the chosen city under the chosen standard, then redraw. */
  function loadCity(fit, wantedStation) {
    var token = ++loadToken;
    setBusy(true);
    var cityId = state.city.id;
    return Promise.all([
      api("/stations", { city: cityId }),
      api("/aqi/latest", { city: cityId, standard: state.standard ? state.standard.id : null }),
    ])
      .then(function (res) {
        if (token !== loadToken) return null;
        state.stations = (res[0].items || []).filter(N.measuresAir);  // not a rooftop-solar meter
        state.latest = res[1].items || [];
        var ids = state.stations.map(function (s) { return s.id; });
        if (wantedStation && ids.indexOf(wantedStation) >= 0) state.stationId = wantedStation;
        else if (ids.indexOf(state.stationId) < 0) state.stationId = defaultStation();
        renderControls();
        renderLegend();
        renderMarkers(fit);
        renderStationCard();
        renderTable();
        renderUpdated();
        syncUrl();
        return loadChart();
      })
      .then(function () {
        if (token === loadToken) setBusy(false);
      }, fail);
  }

  function onCityChange(event) {
    var id = event.target.value;
    state.city = state.cities.filter(function (c) { return c.id === id; })[0] || state.city;
    remember(CITY_KEY, state.city.id);
    if (!state.standardChosen) state.standard = findStandard(state.city.standard) || state.standard;
    state.stationId = null;
    state.series = null;
    loadCity(true, null);
  }

  function onStandardChange(event) {
    var std = findStandard(event.target.value);
    if (!std) return;
    state.standard = std;
    state.standardChosen = !(state.city && std.id === state.city.standard);
    state.series = null;
    loadCity(false, state.stationId);
  }

  function start() {
    var params = new URLSearchParams(window.location.search);
    Promise.all([
      getJSON(cfg.i18nUrl).catch(function () { return { messages: {} }; }),
      api("/cities"),
      api("/standards"),
      cfg.geoUrl ? getJSON(cfg.geoUrl).catch(function () { return null; }) : Promise.resolve(null),
    ])
      .then(function (res) {
        N.setMessages(res[0].messages);
        state.cities = res[1].items || [];
        state.standards = res[2].items || [];
        initMap(res[3]);
        if (!state.cities.length) {
          renderControls();
          body.dataset.state = "ready";
          setStatus(t("No cities are set up yet."));
          return null;
        }
        return chooseCity(params.get("city")).then(function (city) {
          state.city = city;
          return begin(params);
        });
      })
      .catch(fail);
  }

  var CITY_KEY = "nagar.city";
  function remember(key, value) {
    try { window.localStorage.setItem(key, value); } catch (e) { /* private mode: not remembered */ }
  }
  function recall(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return null; }
  }

  /** The city asked for in the URL, else the one last looked at, else the one with most stations. */
  function chooseCity(wanted) {
    function byId(id) { return state.cities.filter(function (c) { return c.id === id; })[0]; }
    var city = byId(wanted) || byId(recall(CITY_KEY));
    if (city || state.cities.length === 1) return Promise.resolve(city || state.cities[0]);
    return api("/stations", {}).then(
      function (res) {
        var count = {};
        (res.items || []).forEach(function (s) { count[s.city] = (count[s.city] || 0) + 1; });
        var best = state.cities[0];
        state.cities.forEach(function (c) { if ((count[c.id] || 0) > (count[best.id] || 0)) best = c; });
        return best;
      },
      function () { return state.cities[0]; }
    );
  }

  function begin(params) {
    var wantedStandard = findStandard(params.get("standard"));
    state.standardChosen = !!wantedStandard;
    state.standard = wantedStandard || findStandard(state.city.standard) || state.standards[0] || null;
    document.getElementById("city-select").addEventListener("change", onCityChange);
    document.getElementById("standard-select").addEventListener("change", onStandardChange);
    document.getElementById("controls").addEventListener("submit", function (e) { e.preventDefault(); });
    return loadCity(true, params.get("station"));
  }

  if (typeof L === "undefined" || typeof Chart === "undefined") {
    fail(new Error("map or chart library missing"));
    return;
  }
  start();
})();
