// Starts the vendored Swagger UI on /docs (nagar.security.http.docs_router).
// The page carries no inline script (it runs under the strict Content-Security-Policy of the HTTP edge),
// so the settings live here and the page passes only the schema's address, in data-openapi-url.
// Nothing is loaded from outside the server: no validator badge, no spec URL taken from the query string.
(function () {
  "use strict";

  function start() {
    var root = document.getElementById("swagger-ui");
    if (!root || typeof window.SwaggerUIBundle !== "function") {
      document.body.setAttribute("data-state", "error");
      return;
    }
    window.ui = window.SwaggerUIBundle({
      url: root.getAttribute("data-openapi-url") || "/openapi.json",
      dom_id: "#swagger-ui",
      layout: "BaseLayout",
      presets: [window.SwaggerUIBundle.presets.apis],
      deepLinking: true,
      displayRequestDuration: true,
      showExtensions: true,
      showCommonExtensions: true,
      queryConfigEnabled: false, // ?url=... must not point the page at another server's schema
      validatorUrl: null, // the default badge is an image from validator.swagger.io
      onComplete: function () {
        document.body.setAttribute("data-state", "ready");
      },
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
