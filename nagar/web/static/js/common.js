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
  function fmt(text, values) {
    return text.replace(/\{(\w+)\}/g, function (whole, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : whole;
    });
  }

  var nf = new Intl.NumberFormat(cfg.locale, { maximumFractionDigits: 0 });
  function num(v) {
    return v === null || v === undefined || isNaN(v) ? "–" : nf.format(Math.round(v));
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
    num: num,
    getJSON: getJSON,
    api: api,
    csrfHeader: csrfHeader,
    postJSON: postJSON,
    setStatus: setStatus,
    fail: fail,
    cell: cell,
    fillCities: fillCities,
    loadCities: loadCities,
  };
})();
