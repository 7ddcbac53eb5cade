// Starts Swagger UI on /api/docs. A file, not an inline script, so the page's CSP can
// forbid inline script.
"use strict";

window.addEventListener("DOMContentLoaded", () => {
  const container = document.getElementById("swagger-ui-container");
  window.ui = window.SwaggerUIBundle({
    url: container.dataset.specUrl,
    dom_id: "#swagger-ui-container",
  });
});
