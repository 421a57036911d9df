/* Nagar climate page: a city's GPC inventory (stacked by scope) and its BAU / portfolio pathway.
 *
 * Configuration from data-* attributes of <body>, words from /i18n/<lang>.json (t()), data from the
 * JSON API. No inline script or style (strict Content-Security-Policy).
 */
(function () {
  "use strict";

  var body = document.body;
  var N = window.Nagar;
  var cfg = Object.assign({ year: body.dataset.year || "" }, N.cfg);
  var t = N.t;
  var fmt = N.fmt;

  var SECTORS = {
    I: function () { return t("Stationary energy"); },
    II: function () { return t("Transportation"); },
    III: function () { return t("Waste"); },
    IV: function () { return t("Industrial processes and product use"); },
    V: function () { return t("Agriculture, forestry and other land use"); },
  };
  var SCOPES = [
    { key: "scope1_t", label: function () { return t("Scope 1"); }, colour: "#0f5c4d" },
    { key: "scope2_t", label: function () { return t("Scope 2"); }, colour: "#4f9d8b" },
    { key: "scope3_t", label: function () { return t("Scope 3"); }, colour: "#c9a227" },
  ];
  var MILESTONES = [2041, 2050];

  var num = N.num;
  var getJSON = N.getJSON;
  var api = N.api;
  var csrfHeader = N.csrfHeader;
  var postJSON = N.postJSON;
  var setStatus = N.setStatus;
  function fail(err) {
    N.fail(err, t("No inventory for this city and year."));
  }

  // ------------------------------------------------------------------------------- inventory

  function drawInventory(inv) {
    var sectors = inv.totals.sectors || {};
    var codes = Object.keys(sectors);
    document.getElementById("total-basic").textContent = num(inv.totals.basic_t);
    document.getElementById("total-basic-plus").textContent = num(inv.totals.basic_plus_t);
    document.getElementById("inventory-meta").textContent = fmt(t("{year}, GWP {gwp}"), {
      year: inv.year, gwp: String(inv.gwp || "").toUpperCase(),
    });
    var labels = codes.map(function (c) { return SECTORS[c] ? SECTORS[c]() : t(sectors[c].name || c); });
    var datasets = SCOPES.map(function (s) {
      return {
        label: s.label(),
        data: codes.map(function (c) { return sectors[c][s.key] || 0; }),
        backgroundColor: s.colour,
        stack: "scope",
      };
    });
    var canvas = document.getElementById("inventory-chart");
    new Chart(canvas, {
      type: "bar",
      data: { labels: labels, datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: {
          x: { stacked: true },
          y: { stacked: true, title: { display: true, text: t("t CO₂e") }, ticks: { callback: function (v) { return num(v); } } },
        },
        plugins: {
          tooltip: { callbacks: { label: function (c) { return c.dataset.label + ": " + num(c.parsed.y); } } },
        },
      },
    });
    document.getElementById("inventory-box").dataset.bars = String(codes.length);
  }

  // --------------------------------------------------------------------------------- pathway

  /** Vertical dashed lines and labels at the 2041 and 2050 milestones. */
  var milestonePlugin = {
    id: "milestones",
    afterDatasetsDraw: function (chart) {
      var x = chart.scales.x, area = chart.chartArea, ctx = chart.ctx;
      var labels = chart.data.labels;
      ctx.save();
      MILESTONES.forEach(function (year) {
        var i = labels.indexOf(year);
        if (i < 0) return;
        var px = x.getPixelForValue(i);
        ctx.strokeStyle = "#7a4b9c";
        ctx.setLineDash([5, 4]);
        ctx.lineWidth = 1.5;
        ctx.beginPath();
        ctx.moveTo(px, area.top);
        ctx.lineTo(px, area.bottom);
        ctx.stroke();
        ctx.setLineDash([]);
        ctx.fillStyle = "#7a4b9c";
        ctx.font = "12px system-ui, sans-serif";
        ctx.textAlign = px > area.right - 30 ? "right" : "left";
        ctx.fillText(N.digits(year), px + (ctx.textAlign === "right" ? -4 : 4), area.top + 12);
      });
      ctx.restore();
    },
  };

  function series(path, name) {
    var s = (path.chart.series || []).filter(function (x) { return x.name === name; })[0];
    return s ? s.values : [];
  }

  /** Why abatement falls: each project counts from its start year for its lifetime only (no renewal is
   * assumed: nagar.climate.pathways.portfolio_abatement), so the note names the year the last one ends. */
  function lifetimeNote(projects) {
    var last = null;
    projects.forEach(function (p) {
      var end = p.start_year + p.lifetime - 1;
      if (last === null || end > last) last = end;
    });
    return last === null ? t("No funded projects: the pathway is business as usual.")
      : fmt(t("Each funded project abates from its start year for its lifetime only; no renewal or replacement is assumed, so abatement ends after {year}, when the last of them ends."), { year: last });
  }

  function drawPathway(path, projects) {
    var nProjects = projects.length;
    var labels = path.chart.labels || [];
    var canvas = document.getElementById("pathway-chart");
    new Chart(canvas, {
      type: "line",
      data: {
        labels: labels,
        datasets: [
          { label: t("Business as usual"), data: series(path, "bau_t"), borderColor: "#b5462f", backgroundColor: "#b5462f", pointRadius: 0, borderWidth: 2 },
          { label: t("With the portfolio"), data: series(path, "pathway_t"), borderColor: "#0f5c4d", backgroundColor: "#0f5c4d", pointRadius: 0, borderWidth: 2 },
        ],
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          // the years of a category axis are labels, not numbers Chart.js formats: written in the page's digits
          x: { ticks: { callback: function (v) { return N.digits(this.getLabelForValue(v)); } } },
          y: { title: { display: true, text: t("t CO₂e") }, ticks: { callback: function (v) { return num(v); } } },
        },
        plugins: { tooltip: { callbacks: {
          title: function (items) { return items.length ? N.digits(items[0].label) : ""; },
          label: function (c) { return c.dataset.label + ": " + num(c.parsed.y); },
        } } },
      },
      plugins: [milestonePlugin],
    });
    document.getElementById("pathway-box").dataset.points = String(labels.length);
    document.getElementById("pathway-meta").textContent = fmt(t("From {year}, {n} funded projects"), {
      year: path.base_year, n: nProjects,
    });
    var d = path.drivers || {};
    var pf = new Intl.NumberFormat(cfg.locale, { style: "percent", maximumFractionDigits: 1, signDisplay: "exceptZero" });
    var pct = function (r) { return typeof r === "number" ? pf.format(r) : t("by year"); };
    // The rates as figures and where they come from as a note of its own: the stored source note (the
    // demo's cites UN DESA and names its assumptions) restates the rates, so they are not put into a
    // sentence that then repeats them.
    var drivers = document.getElementById("pathway-drivers");
    drivers.textContent = "";
    [
      [t("Population"), d.population_growth], [t("GDP"), d.gdp_growth],
      [t("Emission intensity of GDP"), d.intensity_change], [t("Grid emission factor"), d.grid_change],
    ].forEach(function (row) {
      var div = document.createElement("div");
      var dt = document.createElement("dt");
      dt.textContent = row[0];
      var dd = document.createElement("dd");
      dd.textContent = pct(row[1]);
      div.appendChild(dt);
      div.appendChild(dd);
      drivers.appendChild(div);
    });
    document.getElementById("pathway-source").textContent = path.drivers_source
      ? fmt(t("Source: {source}"), { source: t(path.drivers_source) }) : "";
    var tbody = document.querySelector("#milestone-table tbody");
    tbody.textContent = "";
    (path.milestones || []).forEach(function (m) {
      var tr = document.createElement("tr");
      if (MILESTONES.indexOf(m.year) >= 0) tr.className = "key-milestone";
      [N.digits(m.year), num(m.bau_t), num(m.pathway_t), num(m.abatement_t)].forEach(function (text, i) {
        var cell = document.createElement(i === 0 ? "th" : "td");
        if (i === 0) cell.scope = "row"; else cell.className = "num";
        cell.textContent = text;
        tr.appendChild(cell);
      });
      tbody.appendChild(tr);
    });
    document.getElementById("lifetime-note").textContent = lifetimeNote(projects);
  }

  /** The city's funded projects as pathway projects (none when the funding API is not there). */
  function fundedProjects() {
    return api("/funding/projects", { city: cfg.city, status: "funded" }).then(
      function (res) {
        return (res.items || []).slice(0, 500).map(function (p) {
          return {
            name: String(p.name || p.id).slice(0, 80),
            start_year: p.start_year,
            annual_abatement_t: p.annual_abatement || 0,
            lifetime: Math.max(1, Math.min(100, Math.round(p.lifetime_years || 1))),
          };
        });
      },
      function () { return []; }
    );
  }

  function start() {
    Promise.all([
      getJSON(cfg.i18nUrl).catch(function () { return { messages: {} }; }),
      api("/cities").catch(function () { return { items: [] }; }),
    ])
      .then(function (res) {
        N.setMessages(res[0].messages);
        setStatus(t("Loading…"));
        N.fillCities(res[1].items || [], cfg.city);
        return api("/climate/inventory", { city: cfg.city, year: cfg.year, format: "json" });
      })
      .then(function (inv) {
        drawInventory(inv);
        if (!cfg.year) document.getElementById("year-input").value = inv.year;
        return fundedProjects().then(function (projects) {
          return postJSON("/climate/pathway", { city: cfg.city, base_year: inv.year, gwp: inv.gwp || "ar5", projects: projects })
            .then(function (path) { drawPathway(path, projects); });
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
