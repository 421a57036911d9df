/* Nagar climate-fund page: the latest plan's portfolio on a map and in a table, the efficient frontier
 * and the marginal-abatement-cost curve. Plans are for platform administrators: on 401/403 the page says
 * so. Configuration from data-* attributes of <body>, words through t(), no inline script or style.
 */
(function () {
  "use strict";

  var body = document.body;
  var N = window.Nagar;
  var cfg = N.cfg;
  var t = N.t;
  var fmt = N.fmt;

  var SECTORS = {
    solar_pv: { colour: "#e0a526", label: function () { return t("Solar power"); } },
    wind: { colour: "#3c8dbc", label: function () { return t("Wind power"); } },
    led_streetlight: { colour: "#8e6bbf", label: function () { return t("LED street lighting"); } },
    landfill_gas: { colour: "#7a5a3a", label: function () { return t("Landfill gas"); } },
    brt: { colour: "#d1495b", label: function () { return t("Bus rapid transit"); } },
    building_retrofit: { colour: "#2a9d8f", label: function () { return t("Building retrofit"); } },
    waste_to_energy: { colour: "#6c757d", label: function () { return t("Waste to energy"); } },
    e_bus: { colour: "#e76f51", label: function () { return t("Electric buses"); } },
    wastewater: { colour: "#264653", label: function () { return t("Wastewater treatment"); } },
  };
  function sectorLabel(id) {
    return SECTORS[id] ? SECTORS[id].label() : t(String(id || "–"));
  }
  function sectorColour(id) {
    return SECTORS[id] ? SECTORS[id].colour : "#9aa5a1";
  }

  var num = N.num;
  var short = N.short;  // compact ("20B"; in Bengali lakh and crore, the browser's compact form being wrong)

  var getJSON = N.getJSON;
  var api = N.api;
  var setStatus = N.setStatus;
  var fail = N.fail;
  function needAdmin() {
    body.dataset.state = "need-admin";
    setStatus("");
    document.getElementById("need-admin").hidden = false;
    document.getElementById("fund-main").hidden = true;
  }

  // ------------------------------------------------------------------------------------- map

  function drawMap(geo, items, cities) {
    var map = L.map("fund-map", { zoomControl: true, minZoom: 2, maxZoom: 12 }).setView([12, 108], 4);
    if (cfg.tileUrl) {
      L.tileLayer(cfg.tileUrl, { maxZoom: 19, attribution: t("Map tiles as configured by the city") }).addTo(map);
    }
    if (geo) {
      L.geoJSON(geo, {
        interactive: false,
        style: { color: "#9fb3ad", weight: 0.6, fillColor: "#eef2ef", fillOpacity: cfg.tileUrl ? 0 : 1 },
      }).addTo(map);
    }
    var byCity = {};
    items.forEach(function (p) {
      var c = byCity[p.city] || (byCity[p.city] = { abatement: 0, cost: 0, projects: 0 });
      c.abatement += p.lifetime_abatement || 0;
      c.cost += p.cost_base || 0;
      c.projects += 1;
    });
    var cityById = {};
    cities.forEach(function (c) { cityById[c.id] = c; });
    var max = 0;
    Object.keys(byCity).forEach(function (id) { max = Math.max(max, byCity[id].abatement); });
    var bounds = [];
    var count = 0;
    Object.keys(byCity).forEach(function (id) {
      var city = cityById[id];
      if (!city || city.lat === null || city.lat === undefined) return;
      var c = byCity[id];
      var radius = 5 + 25 * Math.sqrt(max > 0 ? c.abatement / max : 0);
      var marker = L.circleMarker([city.lat, city.lon], {
        radius: radius, color: "#0f5c4d", weight: 1.5, fillColor: "#2a9d8f", fillOpacity: 0.55,
        className: "fund-marker",
      }).addTo(map);
      marker.bindTooltip(
        t(city.name) + " · " + fmt(t("{n} projects, {t} t CO₂e"), { n: c.projects, t: num(c.abatement) })
      );
      bounds.push([city.lat, city.lon]);
      count += 1;
    });
    if (bounds.length) map.fitBounds(bounds, { padding: [30, 30], maxZoom: 8 });
    L.control.scale({ imperial: false }).addTo(map);
    document.getElementById("fund-map").dataset.markers = String(count);
  }

  // ----------------------------------------------------------------------------------- table

  function costPerTonne(p) {
    return p.lifetime_abatement > 0 ? p.cost_base / p.lifetime_abatement : null;
  }

  function drawTable(items, cities, currency) {
    var names = {};
    cities.forEach(function (c) { names[c.id] = t(c.name); });
    var tbody = document.querySelector("#portfolio-table tbody");
    tbody.textContent = "";
    items.forEach(function (p) {
      var tr = document.createElement("tr");
      [
        p.name || p.project, names[p.city] || p.city, sectorLabel(p.sector),
        num(p.cost_base) + " " + currency, num(p.annual_abatement), num(costPerTonne(p)) + " " + currency,
      ].forEach(function (text, i) {
        var td = document.createElement("td");
        if (i >= 3) td.className = "num";
        td.textContent = text;
        tr.appendChild(td);
      });
      tbody.appendChild(tr);
    });
  }

  // -------------------------------------------------------------------------------- frontier

  function drawFrontier(frontier, currency) {
    var pts = (frontier.items || []).filter(function (p) { return p.exact_abatement_t !== null; });
    var datasets = [
      {
        label: t("Best portfolio"), borderColor: "#0f5c4d", backgroundColor: "#0f5c4d", borderWidth: 2, pointRadius: 3,
        data: pts.map(function (p) { return { x: p.budget, y: p.exact_abatement_t }; }),
      },
      {
        label: t("Greedy ranking by cost per tonne"), borderColor: "#c9a227", backgroundColor: "#c9a227", borderWidth: 2,
        borderDash: [6, 4], pointRadius: 2,
        data: pts.map(function (p) { return { x: p.budget, y: p.greedy_abatement_t }; }),
      },
    ];
    new Chart(document.getElementById("frontier-chart"), {
      type: "line",
      data: { datasets: datasets },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        scales: {
          x: { type: "linear", title: { display: true, text: fmt(t("Budget ({currency})"), { currency: currency }) }, ticks: { callback: function (v) { return short(v); } } },
          y: { title: { display: true, text: t("Lifetime abatement (t CO₂e)") }, ticks: { callback: function (v) { return short(v); } } },
        },
      },
    });
    document.getElementById("frontier-box").dataset.points = String(pts.length);
    // the greedy ranking is not drawn where its portfolio breaks the plan's rules (usually city floors)
    var missed = pts.filter(function (p) { return p.greedy_abatement_t === null && p.greedy_violations > 0; }).length;
    var note = document.getElementById("frontier-note");
    note.hidden = missed === 0;
    note.textContent = missed ? fmt(t("The greedy ranking breaks the plan's rules (such as city floors) at {n} of {total} budgets and is not drawn there."), {
      n: missed, total: pts.length,
    }) : "";
  }

  // ------------------------------------------------------------------------------- MAC curve

  /** Draws one rectangle per project: x from the abatement before it to after it, y up to its cost per tonne. */
  var macPlugin = {
    id: "macBars",
    beforeDatasetsDraw: function (chart) {
      var bars = chart.options.plugins.macBars.bars;
      var x = chart.scales.x, y = chart.scales.y, ctx = chart.ctx;
      ctx.save();
      bars.forEach(function (b) {
        var left = x.getPixelForValue(b.x0), right = x.getPixelForValue(b.x1);
        var top = y.getPixelForValue(b.clipped ? y.max : b.cost), bottom = y.getPixelForValue(0);
        var w = Math.max(1, right - left);
        ctx.fillStyle = b.colour;
        ctx.fillRect(left, top, w, bottom - top);
        ctx.strokeStyle = "#ffffff";
        ctx.lineWidth = 0.5;
        ctx.strokeRect(left, top, w, bottom - top);
        if (b.clipped) {
          // a bar taller than the axis: a white break across it near the top and its real cost above
          ctx.strokeStyle = "#ffffff";
          ctx.lineWidth = 2;
          ctx.beginPath();
          ctx.moveTo(left, top + 9);
          ctx.lineTo(left + w, top + 5);
          ctx.moveTo(left, top + 14);
          ctx.lineTo(left + w, top + 10);
          ctx.stroke();
          ctx.fillStyle = "#102420";
          if (w >= 28) {
            ctx.font = "11px system-ui, sans-serif";
            ctx.textAlign = "center";
            ctx.textBaseline = "top";
            ctx.fillText("↑ " + short(b.cost), left + w / 2, top + 16);
          } else {
            ctx.beginPath();  // too narrow to carry its figure: a small arrowhead above it (hover for the cost)
            ctx.moveTo(left + w / 2 - 4, top - 1);
            ctx.lineTo(left + w / 2 + 4, top - 1);
            ctx.lineTo(left + w / 2, top - 7);
            ctx.fill();
          }
        }
      });
      ctx.restore();
    },
  };

  /** The cost axis' top. A MAC curve is read by area: when a few projects that abate little cost far more per
   * tonne than the rest, a full axis squashes the wide bars. So when the highest cost is more than three times
   * the 90th percentile of cost weighted by abatement (the cost below which 90 % of the curve's width lies),
   * the axis stops at a round number 1.5 times that percentile; taller bars are cut and marked.
   * null: no cut needed. */
  function macAxisMax(bars) {
    var pos = bars.filter(function (b) { return b.cost > 0 && b.x1 > b.x0; })
      .sort(function (a, b) { return a.cost - b.cost; });
    if (pos.length < 4) return null;
    var total = pos.reduce(function (sum, b) { return sum + (b.x1 - b.x0); }, 0);
    var acc = 0, p90 = pos[pos.length - 1].cost;
    for (var i = 0; i < pos.length; i++) {
      acc += pos[i].x1 - pos[i].x0;
      if (acc >= 0.9 * total) { p90 = pos[i].cost; break; }
    }
    var max = pos[pos.length - 1].cost;
    if (!(p90 > 0) || max <= 3 * p90) return null;
    var target = p90 * 1.5;
    var step = Math.pow(10, Math.floor(Math.log10(target)));
    return [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].map(function (m) { return m * step; })
      .filter(function (v) { return v >= target; })[0];
  }

  window.nagarFund = { macAxisMax: macAxisMax };  // for the page tests

  function drawMac(items, currency) {
    var sorted = items.filter(function (p) { return costPerTonne(p) !== null; })
      .sort(function (a, b) { return costPerTonne(a) - costPerTonne(b); });
    var x = 0, bars = [];
    sorted.forEach(function (p) {
      var w = p.lifetime_abatement;
      bars.push({ x0: x, x1: x + w, cost: costPerTonne(p), colour: sectorColour(p.sector), name: p.name || p.project });
      x += w;
    });
    var maxCost = bars.reduce(function (m, b) { return Math.max(m, b.cost); }, 0);
    var minCost = bars.reduce(function (m, b) { return Math.min(m, b.cost); }, 0);
    var yMax = macAxisMax(bars);
    var clipped = 0;
    bars.forEach(function (b) {
      b.clipped = yMax !== null && b.cost > yMax;
      if (b.clipped) clipped++;
    });
    new Chart(document.getElementById("mac-chart"), {
      type: "scatter",
      data: {
        datasets: [{
          label: t("Cost per tonne"), pointRadius: 0, pointHoverRadius: 0, showLine: false,
          data: bars.map(function (b) { return { x: (b.x0 + b.x1) / 2, y: b.clipped ? yMax : b.cost, cost: b.cost, name: b.name }; }),
        }],
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        scales: {
          x: { type: "linear", min: 0, max: x || 1, title: { display: true, text: t("Cumulative lifetime abatement (t CO₂e)") }, ticks: { callback: function (v) { return short(v); } } },
          y: {
            min: Math.min(0, minCost), max: yMax === null ? undefined : yMax, suggestedMax: maxCost * 1.05 || 1,
            title: {
              display: true,
              text: fmt(clipped ? t("Cost per tonne ({currency}/t CO₂e), axis cut at {max}") : t("Cost per tonne ({currency}/t CO₂e)"),
                { currency: currency, max: short(yMax) }),
            },
            ticks: { callback: function (v) { return short(v); } },
          },
        },
        plugins: {
          legend: { display: false },
          macBars: { bars: bars },
          tooltip: { callbacks: { label: function (c) { return c.raw.name + ": " + num(c.raw.cost) + " " + currency; } } },
        },
      },
      plugins: [macPlugin],
    });
    var legend = document.getElementById("mac-legend");
    legend.textContent = "";
    var seen = {};
    sorted.forEach(function (p) {
      if (seen[p.sector]) return;
      seen[p.sector] = true;
      var li = document.createElement("li");
      var sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.backgroundColor = sectorColour(p.sector);
      li.appendChild(sw);
      li.appendChild(document.createTextNode(sectorLabel(p.sector)));
      legend.appendChild(li);
    });
    var box = document.getElementById("mac-box");
    box.dataset.bars = String(bars.length);
    box.dataset.clipped = String(clipped);
    box.dataset.yMax = yMax === null ? "" : String(yMax);
    document.getElementById("mac-meta").textContent = clipped
      ? fmt(t("{n} bars taller than the axis are cut (marked ↑ with their cost)"), { n: clipped })
      : "";
  }

  // ----------------------------------------------------------------------------------- start

  function latestPlan(plans) {
    var adopted = plans.filter(function (p) { return p.adopted_at; });
    return (adopted.length ? adopted : plans)[0] || null;
  }

  function start() {
    var geo = null, cities = [];
    Promise.all([
      getJSON(cfg.i18nUrl).catch(function () { return { messages: {} }; }),
      cfg.geoUrl ? getJSON(cfg.geoUrl).catch(function () { return null; }) : Promise.resolve(null),
      api("/cities").catch(function () { return { items: [] }; }),
    ])
      .then(function (res) {
        N.setMessages(res[0].messages);
        geo = res[1];
        cities = res[2].items || [];
        setStatus(t("Loading…"));
        return api("/funding/plans");
      })
      .then(function (res) {
        var summary = latestPlan(res.items || []);
        if (!summary) {
          body.dataset.state = "ready";
          setStatus(t("No plan has been made yet."));
          return null;
        }
        return Promise.all([
          api("/funding/plans/" + encodeURIComponent(summary.id)),
          api("/funding/frontier", { plan: summary.id, points: 8 }),
        ]).then(function (both) {
          var plan = both[0], frontier = both[1];
          var currency = plan.base_currency || frontier.base_currency || "";
          var items = (plan.portfolio && plan.portfolio.items) || [];
          document.getElementById("plan-meta").textContent = fmt(
            plan.adopted_at ? t("Plan {id}, adopted") : t("Plan {id}, saved"), { id: plan.id }
          );
          document.getElementById("total-committed").textContent = num(plan.portfolio.committed) + " " + currency;
          document.getElementById("total-abatement").textContent = num(plan.portfolio.abatement_t);
          document.getElementById("total-projects").textContent = num(items.length);
          drawMap(geo, items, cities);
          drawTable(items, cities, currency);
          drawFrontier(frontier, currency);
          drawMac(items, currency);
          body.dataset.state = "ready";
          setStatus("");
        });
      })
      .catch(function (err) {
        if (err && (err.status === 401 || err.status === 403)) needAdmin();
        else fail(err);
      });
  }

  if (typeof L === "undefined" || typeof Chart === "undefined") {
    fail(new Error("map or chart library missing"));
    return;
  }
  start();
})();
