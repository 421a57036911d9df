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
  /** Dates in the city's time zone (named), 24-hour clock in every language (bn-BD's default
   * 12-hour pattern mixes Bengali digits with a Latin "AM"). */
  function dateFormatter(timeZone) {
    var opts = { dateStyle: "medium", timeStyle: "short", hourCycle: "h23" };
    if (timeZone) opts.timeZone = timeZone;
    try {
      return new Intl.DateTimeFormat(cfg.locale, opts);
    } catch (e) {
      delete opts.timeZone;
      return new Intl.DateTimeFormat(cfg.locale, opts);
    }
  }
  var dtf = dateFormatter(null);
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
  var ctx = { city: null, standards: [], rules: {} };

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
  function describe(spec) {
    if (!spec || !COMPARISONS[spec.comparison || "gt"]) return null;
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
    var n = spec.duration || 1;
    var span = spec.kind === "water"
      ? (n === 1 ? t("in 1 sample") : fmt(t("in {n} samples in a row"), { n: nf.format(n) }))
      : (n === 1 ? t("for 1 hour") : fmt(t("for {n} hours"), { n: nf.format(n) }));
    return fmt(COMPARISONS[spec.comparison || "gt"](), { what: what, bound: bound }) + " " + span;
  }

  function where(scopeKey) {
    return scopeKey === "city" || !scopeKey ? t("Anywhere in the city") : scopeKey;
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
      text = fmt(t("{rule}: over"), { rule: rule.name });
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
      cell(tr, e.kind === "onset" ? t("Alert began") : t("Alert ended"));
      cell(tr, where(e.scope_key));
      cell(tr, e.suppressed ? t("No (quiet hours)") : t("Yes"));
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
      cell(tr, r.spec.station || t("Anywhere in the city"));
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
      ]);
    }).then(function (res) {
      ctx.city = res[2];
      ctx.standards = res[3].items || [];
      res[1].items.forEach(function (r) { ctx.rules[r.id] = r; });
      if (ctx.city && ctx.city.timezone) {
        dtf = dateFormatter(ctx.city.timezone);
        zoneName = ctx.city.timezone;
        try {
          var parts = new Intl.DateTimeFormat(cfg.locale, { timeZone: ctx.city.timezone, timeZoneName: "shortOffset" })
            .formatToParts(new Date());
          for (var i = 0; i < parts.length; i++) {
            if (parts[i].type === "timeZoneName") zoneName += " (" + parts[i].value + ")";
          }
        } catch (e) { /* the zone's id alone */ }
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
