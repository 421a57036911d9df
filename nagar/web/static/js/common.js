/* Nagar dashboard: the helpers every page script shares, as window.Nagar.
 *
 * Loaded (deferred) by _base.html before the page's own script. Configuration from the data-*
 * attributes of <body>, words from /i18n/<lang>.json (t(), after setMessages), data from the JSON API
 * with the session cookie and, for writes, the CSRF header. No inline script or style (strict CSP).
 */
(function () {
  "use strict";

  var data = document.body.dataset;
  var cfg = {
    api: data.api || "/api/v1",
    lang: data.lang || "en",
    locale: data.locale || "en-GB",
    i18nUrl: data.i18nUrl,
    geoUrl: data.geoUrl || "",
    tileUrl: data.tileUrl || "",
    city: data.city || "dhaka",
  };

  var MESSAGES = {};
  function setMessages(messages) {
    MESSAGES = messages || {};
  }
  function t(msgid) {
    return MESSAGES[msgid] || msgid;
  }
  /** The digits 0-9 of the page's language (Bengali digits for bn), from the browser's Intl. */
  var DIGITS = (function () {
    var f = new Intl.NumberFormat(cfg.locale, { useGrouping: false });
    var out = [];
    for (var i = 0; i < 10; i++) out.push(f.format(i));
    return out;
  })();
  /** text with its ASCII digits written in the page's digits: years, counts and other numbers that are
   *  not formatted by Intl (a year must not get a thousands separator). */
  function digits(text) {
    return String(text).replace(/[0-9]/g, function (c) { return DIGITS[+c]; });
  }
  /** Put values into a translated text's {placeholders}; numbers are written in the page's digits
   *  (without grouping: pass a formatted string for a large amount). */
  function fmt(text, values) {
    return text.replace(/\{(\w+)\}/g, function (whole, key) {
      if (!Object.prototype.hasOwnProperty.call(values, key)) return whole;
      var v = values[key];
      return typeof v === "number" ? digits(String(v)) : String(v);
    });
  }

  var nf = new Intl.NumberFormat(cfg.locale, { maximumFractionDigits: 0 });
  function num(v) {
    return v === null || v === undefined || isNaN(v) ? "–" : nf.format(Math.round(v));
  }
  /** A number with at most `max` significant decimals, but never a non-zero amount shown as 0: an amount
   *  below what `max` decimals can show gets two significant digits (0.004 rather than 0). */
  function amount(v, max) {
    if (v === null || v === undefined || isNaN(v)) return "–";
    var decimals = max === undefined ? 1 : max;
    if (v !== 0 && Math.abs(v) < 0.5 * Math.pow(10, -decimals)) {
      return new Intl.NumberFormat(cfg.locale, { maximumSignificantDigits: 2 }).format(v);
    }
    return new Intl.NumberFormat(cfg.locale, { maximumFractionDigits: decimals }).format(v);
  }

  // Short axis numbers ("20B"). Not the browser's compact form for bn: Chromium's ICU compact patterns for
  // bn-BD are wrong above 10^9 (2×10^10 came out as "২শত কো", which reads 200 crore = 2×10^9; checked in
  // Chromium 156). Bengali pages get the number in lakh (10^5) or crore (10^7), the units of the South
  // Asian numbering used in Bangladesh, written out: 2×10^10 is "২,০০০ কোটি".
  var COMPACT_UNITS = { bn: [[1e7, "কোটি"], [1e5, "লাখ"]] };
  var compact = new Intl.NumberFormat(cfg.locale, { notation: "compact", maximumFractionDigits: 1 });
  var oneDecimal = new Intl.NumberFormat(cfg.locale, { maximumFractionDigits: 1 });
  function short(v) {
    if (v === null || v === undefined || isNaN(v)) return "–";
    var units = COMPACT_UNITS[cfg.lang];
    if (!units) return compact.format(v);
    for (var i = 0; i < units.length; i++) {
      if (Math.abs(v) >= units[i][0]) return oneDecimal.format(v / units[i][0]) + "\u00a0" + units[i][1];
    }
    return num(v);
  }

  /** A date formatter in the city's time zone (24-hour clock in every language: bn-BD's 12-hour pattern
   *  mixes Bengali digits with a Latin "AM"); without a valid zone, the browser's. */
  function dateFormatter(timeZone, options) {
    var opts = Object.assign({ hourCycle: "h23" }, options || { dateStyle: "medium", timeStyle: "short" });
    if (timeZone) opts.timeZone = timeZone;
    try {
      return new Intl.DateTimeFormat(cfg.locale, opts);
    } catch (e) {
      delete opts.timeZone;
      return new Intl.DateTimeFormat(cfg.locale, opts);
    }
  }
  /** The zone as shown to people: its IANA id and its current offset ("Asia/Dhaka (GMT+6)"). */
  function zoneLabel(timeZone) {
    if (!timeZone) return "";
    var label = timeZone;
    try {
      var parts = new Intl.DateTimeFormat(cfg.locale, { timeZone: timeZone, timeZoneName: "shortOffset" })
        .formatToParts(new Date());
      for (var i = 0; i < parts.length; i++) {
        if (parts[i].type === "timeZoneName") label += " (" + parts[i].value + ")";
      }
    } catch (e) { /* the zone's id alone */ }
    return label;
  }

  // Charts: numbers on axes and in tooltips in the page's locale (Bengali digits for bn).
  if (typeof window.Chart !== "undefined") window.Chart.defaults.locale = cfg.locale;

  /** The air parameters of nagar.core.units (codes 1-8: particles and gases); temperature, humidity and
   *  metered electricity are measured by stations too but are no air pollution. */
  var AIR_POLLUTANTS = ["pm25", "pm10", "pm1", "o3", "no2", "no", "so2", "co"];
  /** Whether a station (of /api/v1/stations) measures an air pollutant: the air-quality pages list only
   *  those (a rooftop-solar meter is a station of the city, but not an air-quality station). A station
   *  whose parameters are not known is kept. */
  function measuresAir(station) {
    var params = station && station.parameters;
    if (!params || !params.length) return true;
    return params.some(function (p) { return AIR_POLLUTANTS.indexOf(p) >= 0; });
  }

  function getJSON(url, options) {
    var opts = Object.assign({ headers: { Accept: "application/json" }, credentials: "same-origin" }, options || {});
    return fetch(url, opts).then(function (r) {
      if (!r.ok) {
        var err = new Error(r.status + " " + url);
        err.status = r.status;
        throw err;
      }
      return r.json();
    });
  }
  function api(path, params) {
    var q = new URLSearchParams();
    Object.keys(params || {}).forEach(function (k) {
      if (params[k] !== null && params[k] !== undefined && params[k] !== "") q.set(k, params[k]);
    });
    var qs = q.toString();
    return getJSON(cfg.api + path + (qs ? "?" + qs : ""));
  }
  function csrfHeader() {
    var m = /(?:^|;\s*)nagar_csrf=([^;]+)/.exec(document.cookie);
    return m ? { "X-CSRF-Token": decodeURIComponent(m[1]) } : {};
  }
  function postJSON(path, payload) {
    return getJSON(cfg.api + path, {
      method: "POST",
      headers: Object.assign({ Accept: "application/json", "Content-Type": "application/json" }, csrfHeader()),
      body: JSON.stringify(payload),
    });
  }

  function setStatus(text, isError) {
    var el = document.getElementById("status");
    el.textContent = text || "";
    el.classList.toggle("error", !!isError);
    el.hidden = !text;
  }

  /** The page's error state: the error to the console, the status line red with notFound (when the
   *  server answered 404 and the page has its own words for that) or the generic message. */
  function fail(err, notFound) {
    if (window.console) console.error(err);
    document.body.dataset.state = "error";
    setStatus(notFound && err && err.status === 404 ? notFound : t("Could not load data from the server."), true);
  }

  /** Fill el with a translated text whose {command} is shown as code (a command name is never translated). */
  function textWithCode(el, text, command) {
    el.textContent = "";
    var parts = text.split("{command}");
    parts.forEach(function (part, i) {
      if (i > 0) {
        var code = document.createElement("code");
        code.textContent = command;
        el.appendChild(code);
      }
      if (part) el.appendChild(document.createTextNode(part));
    });
  }

  /** Append one table cell (a row header when head) holding text to the row tr. */
  function cell(tr, text, cls, head) {
    var c = document.createElement(head ? "th" : "td");
    if (head) c.scope = "row";
    if (cls) c.className = cls;
    c.textContent = text;
    tr.appendChild(c);
    return c;
  }

  /** Fill the page's #city-select with the cities (names through t()), `current` selected; with
   *  submitOnChange, choosing another city submits the controls form. */
  function fillCities(cities, current, submitOnChange) {
    var select = document.getElementById("city-select");
    if (!select) return;
    if (cities.length) {
      select.textContent = "";
      cities.forEach(function (c) {
        var opt = document.createElement("option");
        opt.value = c.id;
        opt.textContent = t(c.name);
        if (c.id === current) opt.selected = true;
        select.appendChild(opt);
      });
    }
    if (submitOnChange) select.addEventListener("change", function () { select.form.submit(); });
  }
  /** Load the cities the caller may see into #city-select (an empty list when that fails). */
  function loadCities(current) {
    return getJSON(cfg.api + "/cities").then(
      function (r) { fillCities(r.items || [], current, true); },
      function () { fillCities([], current, true); });
  }

  window.Nagar = {
    cfg: cfg,
    setMessages: setMessages,
    t: t,
    fmt: fmt,
    digits: digits,
    num: num,
    amount: amount,
    short: short,
    dateFormatter: dateFormatter,
    zoneLabel: zoneLabel,
    getJSON: getJSON,
    api: api,
    csrfHeader: csrfHeader,
    postJSON: postJSON,
    setStatus: setStatus,
    fail: fail,
    cell: cell,
    textWithCode: textWithCode,
    fillCities: fillCities,
    loadCities: loadCities,
    measuresAir: measuresAir,
  };
})();
