/* Nagar alerts page: the city's alert history (onsets and recoveries, newest first) and its rules.
 * Configuration from data-* attributes of <body>, words through t(), no inline script or style.
 */
(function () {
  "use strict";

  var body = document.body;
  var cfg = {
    api: body.dataset.api || "/api/v1",
    locale: body.dataset.locale || "en-GB",
    i18nUrl: body.dataset.i18nUrl,
    city: body.dataset.city || "dhaka",
  };
  var MESSAGES = {};
  function t(msgid) {
    return MESSAGES[msgid] || msgid;
  }
  var dtf = new Intl.DateTimeFormat(cfg.locale, { dateStyle: "medium", timeStyle: "short" });

  function getJSON(url) {
    return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" }).then(function (r) {
      if (!r.ok) {
        var err = new Error(r.status + " " + url);
        err.status = r.status;
        throw err;
      }
      return r.json();
    });
  }
  function setStatus(text, isError) {
    var el = document.getElementById("status");
    el.textContent = text || "";
    el.classList.toggle("error", !!isError);
    el.hidden = !text;
  }
  function cell(tr, text) {
    var td = document.createElement("td");
    td.textContent = text;
    tr.appendChild(td);
  }

  function drawEvents(items) {
    var tbody = document.querySelector("#events-table tbody");
    tbody.textContent = "";
    items.forEach(function (e) {
      var tr = document.createElement("tr");
      tr.className = e.kind === "onset" ? "alert-onset" : "alert-recovery";
      cell(tr, dtf.format(new Date(e.time)));
      cell(tr, e.kind === "onset" ? t("Alert began") : t("Alert ended"));
      cell(tr, e.scope_key === "city" ? t("Anywhere in the city") : e.scope_key);
      cell(tr, e.suppressed ? t("No (quiet hours)") : t("Yes"));
      cell(tr, e.message);
      tbody.appendChild(tr);
    });
    document.getElementById("events-meta").textContent = items.length ? "" : t("No alerts yet.");
    document.getElementById("events-table").dataset.rows = String(items.length);
  }

  function drawRules(items) {
    var tbody = document.querySelector("#rules-table tbody");
    tbody.textContent = "";
    items.forEach(function (r) {
      var tr = document.createElement("tr");
      cell(tr, r.name);
      cell(tr, r.description);
      cell(tr, r.spec.station || t("Anywhere in the city"));
      cell(tr, r.enabled ? t("Yes") : t("No"));
      tbody.appendChild(tr);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var base = cfg.api + "/cities/" + encodeURIComponent(cfg.city) + "/alerts";
    getJSON(cfg.i18nUrl).catch(function () { return { messages: {} }; }).then(function (m) {
      MESSAGES = m.messages || {};
      setStatus(t("Loading…"));
      return Promise.all([getJSON(base + "/events?limit=200"), getJSON(base + "/rules")]);
    }).then(function (res) {
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
