/* Nagar alerts page: the city's alert history (onsets and recoveries, newest first) and its rules.
 * Configuration from data-* attributes of <body>, words through t(), no inline script or style.
 */
(function () {
  "use strict";

  var body = document.body;
  var N = window.Nagar;
  var cfg = N.cfg;
  var t = N.t;
  var fmt = N.fmt;
  var nf = new Intl.NumberFormat(cfg.locale, { maximumFractionDigits: 1 });
  // Dates in the city's time zone (named in the table's note), 24-hour clock in every language.
  var dtf = N.dateFormatter(null);
  var dayFmt = N.dateFormatter("UTC", { dateStyle: "medium" });  // a forecast's day is a calendar date
  var zoneName = "";

  // Short names of the air parameters (chemical notation, the same in every language).
  var PARAMETERS = { pm25: "PM2.5", pm10: "PM10", o3: "O₃", no2: "NO₂", so2: "SO₂", co: "CO" };
  // Water parameters (nagar.water.parameters), named through the catalogue (data messages).
  var WATER = {
    ph: "pH", do: "Dissolved oxygen", bod: "Biochemical oxygen demand (5 d, 20 °C)", cod: "Chemical oxygen demand",
    tds: "Total dissolved solids", turbidity: "Turbidity", ammonia: "Ammonia", nitrate: "Nitrate",
    ecoli: "E. coli / coliforms", arsenic: "Arsenic", lead: "Lead",
  };
  var COMPARISONS = {
    gt: function () { return t("{what} above {bound}"); },
    ge: function () { return t("{what} at or above {bound}"); },
    lt: function () { return t("{what} below {bound}"); },
    le: function () { return t("{what} at or below {bound}"); },
  };
  var AVERAGING = {
    "1h": function () { return t("1-hour mean"); },
    "8h": function () { return t("8-hour mean"); },
    "24h": function () { return t("24-hour mean"); },
  };
  // The opposite of each comparison: how an episode's end reads ("above 150" ends "at or below 150").
  var INVERSE = { gt: "le", ge: "lt", lt: "ge", le: "gt" };
  var ctx = { city: null, standards: [], rules: {}, waterUnits: {}, stationNames: {} };

  function parameterName(spec) {
    var p = spec.parameter || "";
    if (spec.kind === "water") return WATER[p] ? t(WATER[p]) : p;
    return PARAMETERS[p] || p;
  }
  function standardOf(spec) {
    var id = spec.standard || (ctx.city && ctx.city.standard);
    for (var i = 0; i < ctx.standards.length; i++) if (ctx.standards[i].id === id) return ctx.standards[i];
    return null;
  }
  function categoryName(spec) {
    var std = standardOf(spec);
    var cats = (std && std.categories) || [];
    for (var i = 0; i < cats.length; i++) if (cats[i].key === spec.category) return t(cats[i].name);
    return spec.category;
  }
  function unitOf(spec) {
    if (spec.kind === "water") {
      var u = ctx.waterUnits[spec.parameter] || "";
      return u === "pH" ? "" : u;  // "pH below 6.5", not "6.5 pH"
    }
    var std = standardOf({});
    var pols = (std && std.pollutants) || [];
    for (var i = 0; i < pols.length; i++) if (pols[i].parameter === spec.parameter) return pols[i].unit;
    return "";
  }
  function withUnit(value, spec) {
    var unit = spec.kind === "aqi" ? "" : unitOf(spec);
    return nf.format(value) + (unit ? "\u00a0" + unit : "");
  }

  /** A rule's condition as a sentence of the page's language, from its structured fields; null when
   * the rule has a kind this page does not know (the server's text is shown then). */
  function describe(spec, comparison, steps) {
    comparison = comparison || (spec && spec.comparison) || "gt";
    if (!spec || !COMPARISONS[comparison]) return null;
    var what;
    if (spec.kind === "aqi") {
      var std = standardOf(spec);
      what = spec.standard && std ? fmt(t("AQI ({standard})"), { standard: std.id }) : t("AQI (city standard)");
    } else if (spec.kind === "observation") {
      var avg = AVERAGING[spec.averaging || "1h"];
      what = fmt(t("{parameter}, {averaging}"), { parameter: parameterName(spec), averaging: avg ? avg() : spec.averaging });
    } else if (spec.kind === "water") {
      what = fmt(t("Water: {parameter}"), { parameter: parameterName(spec) });
    } else if (spec.kind === "forecast") {
      what = fmt(t("Forecast {parameter}"), { parameter: parameterName(spec) });
    } else {
      return null;
    }
    var bound = spec.threshold !== null && spec.threshold !== undefined
      ? withUnit(spec.threshold, spec)
      : fmt(t("category “{category}”"), { category: categoryName(spec) });
    var n = steps || spec.duration || 1;
    var win = spec.window || { days_ahead: 1, from_hour: 6, to_hour: 12 };  // the default of nagar/alerts
    var span = spec.kind === "forecast"
      ? fmt(t("in any hour from {from}:00 to {to}:00 local time"), { from: win.from_hour, to: win.to_hour })
      : spec.kind === "water"
      ? (n === 1 ? t("in 1 sample") : fmt(t("in {n} samples in a row"), { n: nf.format(n) }))
      : (n === 1 ? t("for 1 hour") : fmt(t("for {n} hours"), { n: nf.format(n) }));
    return fmt(COMPARISONS[comparison](), { what: what, bound: bound }) + " " + span;
  }

  function isForecast(e) {
    var rule = ctx.rules[e.rule_id];
    return !!((rule && rule.spec.kind === "forecast") || e.forecast_date);
  }

  /** Where an event happened: the station by its name (air or water station), or the whole city; for a
   * forecast, the day it is for. */
  function where(e) {
    var station = e.station === undefined ? (e.scope_key === "city" ? null : String(e.scope_key).split("@")[0]) : e.station;
    var place = station ? (e.station_name || ctx.stationNames[station] || station) : t("Anywhere in the city");
    if (e.forecast_date) {
      var day = dayFmt.format(new Date(e.forecast_date + "T12:00:00Z"));
      return fmt(t("{place}, forecast for {day}"), { place: place, day: day });
    }
    return place;
  }

  /** What became of the event's notification, from the stored deliveries (nagar/alerts/views.py). */
  function notified(e) {
    var d = e.deliveries || {};
    switch (e.notified) {
      case "quiet_hours": return t("No (quiet hours)");
      case "no_receiver": return t("No (no webhook receiver)");
      case "delivered": return fmt(t("Yes, to {n} receivers"), { n: d.delivered || 0 });
      case "sending": return fmt(t("Sending ({n} pending)"), { n: d.pending || 0 });
      case "failed": return fmt(t("Failed ({n} of {total} receivers)"), {
        n: d.dead || 0, total: (d.dead || 0) + (d.delivered || 0) + (d.pending || 0) });
      case undefined: return e.suppressed ? t("No (quiet hours)") : "–";  // an API without the field
      default: return "–";
    }
  }

  function eventLabel(e) {
    if (isForecast(e)) return e.kind === "onset" ? t("Expected from (forecast)") : t("Forecast withdrawn");
    return e.kind === "onset" ? t("Alert began") : t("Alert ended");
  }

  /** An event as a sentence: the rule's name and condition (onset) or its end (recovery), and the value. */
  function eventMessage(e) {
    var rule = ctx.rules[e.rule_id];
    if (!rule) return e.message;
    var text;
    if (e.kind === "onset") {
      var cond = describe(rule.spec);
      if (!cond) return e.message;
      text = rule.name + ": " + cond;
    } else if (e.kind === "recovery") {
      if (rule.spec.kind === "forecast") {
        return fmt(t("{rule}: withdrawn, the revised forecast no longer meets the condition"), { rule: rule.name });
      }
      // the end of an episode: the opposite condition held for the rule's recovery steps
      var back = describe(rule.spec, INVERSE[rule.spec.comparison || "gt"], rule.spec.recovery || 1);
      if (!back) return e.message;
      text = fmt(t("{rule}: ended, {condition}"), { rule: rule.name, condition: back });
    } else {
      return e.message;
    }
    if (e.value !== null && e.value !== undefined && !rule.spec.category) {
      text += " " + fmt(t("(value {value})"), { value: withUnit(e.value, rule.spec) });
    }
    return text;
  }

  var getJSON = N.getJSON;
  var setStatus = N.setStatus;
  /** The city <select>: every city the caller may see, by its translated name; choosing one reloads the page. */

  var cell = N.cell;

  function drawEvents(items) {
    var tbody = document.querySelector("#events-table tbody");
    tbody.textContent = "";
    items = items.slice().sort(function (a, b) {
      var d = Date.parse(b.time) - Date.parse(a.time);
      return d || (b.id || 0) - (a.id || 0);
    });
    items.forEach(function (e) {
      var tr = document.createElement("tr");
      tr.dataset.time = e.time;
      tr.className = e.kind === "onset" ? "alert-onset" : "alert-recovery";
      cell(tr, dtf.format(new Date(e.time)));
      cell(tr, eventLabel(e));
      cell(tr, where(e));
      cell(tr, notified(e));
      cell(tr, eventMessage(e));
      tbody.appendChild(tr);
    });
    document.getElementById("events-meta").textContent = items.length
      ? (zoneName ? fmt(t("Times in {zone}"), { zone: zoneName }) : "")
      : t("No alerts yet.");
    document.getElementById("events-table").dataset.rows = String(items.length);
  }

  function drawRules(items) {
    var tbody = document.querySelector("#rules-table tbody");
    tbody.textContent = "";
    items.forEach(function (r) {
      var tr = document.createElement("tr");
      cell(tr, r.name);
      cell(tr, describe(r.spec) || r.description);
      cell(tr, r.spec.station ? (ctx.stationNames[r.spec.station] || r.spec.station) : t("Anywhere in the city"));
      cell(tr, r.enabled ? t("Yes") : t("No"));
      tbody.appendChild(tr);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var base = cfg.api + "/cities/" + encodeURIComponent(cfg.city) + "/alerts";
    getJSON(cfg.i18nUrl).catch(function () { return { messages: {} }; }).then(function (m) {
      N.setMessages(m.messages);
      setStatus(t("Loading…"));
      return Promise.all([
        getJSON(base + "/events?limit=200"),
        getJSON(base + "/rules"),
        getJSON(cfg.api + "/cities/" + encodeURIComponent(cfg.city)),
        getJSON(cfg.api + "/standards").catch(function () { return { items: [] }; }),
        N.loadCities(cfg.city),
        getJSON(cfg.api + "/stations?city=" + encodeURIComponent(cfg.city)).catch(function () { return { items: [] }; }),
        getJSON(cfg.api + "/cities/" + encodeURIComponent(cfg.city) + "/water/stations").catch(function () { return { items: [] }; }),
        getJSON(cfg.api + "/cities/" + encodeURIComponent(cfg.city) + "/water/parameters").catch(function () { return { items: [] }; }),
      ]);
    }).then(function (res) {
      ctx.city = res[2];
      ctx.standards = res[3].items || [];
      res[1].items.forEach(function (r) { ctx.rules[r.id] = r; });
      (res[5].items || []).concat(res[6].items || []).forEach(function (s) { ctx.stationNames[s.id] = s.name; });
      (res[7].items || []).forEach(function (p) { ctx.waterUnits[p.key] = p.unit; });
      if (ctx.city && ctx.city.timezone) {
        dtf = N.dateFormatter(ctx.city.timezone);
        zoneName = N.zoneLabel(ctx.city.timezone);
      }
      drawEvents(res[0].items);
      drawRules(res[1].items);
      setStatus("");
      body.dataset.state = "ready";
    }).catch(function (err) {
      if (window.console) console.error(err);
      setStatus(err && err.status === 404 ? t("This city has no alerts you may see.") : t("Could not load the data."), true);
      body.dataset.state = "error";
    });
  });
})();
