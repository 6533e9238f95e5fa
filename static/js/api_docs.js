/*
 * PeaceWatch — starts Swagger UI (static/vendor/swagger-ui) on /api/docs/.
 *
 * A static file because the Content-Security-Policy allows no inline script.
 * The schema URL comes from the page (data-schema-url). Requests made with
 * "Try it out" ride on the signed-in session, so unsafe methods need the CSRF
 * token, added here from the csrftoken cookie or the page's sign-out form.
 */
(function () {
  "use strict";

  const node = document.getElementById("swagger-ui");
  if (!node || typeof window.SwaggerUIBundle !== "function") return;

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]*)/);
    if (match) return decodeURIComponent(match[1]);
    const field = document.querySelector('input[name="csrfmiddlewaretoken"]');
    return field ? field.value : "";
  }

  window.peacewatchApiDocs = window.SwaggerUIBundle({
    url: node.dataset.schemaUrl || "/api/schema/",
    domNode: node,
    deepLinking: true,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    // Leave schema validation to the page: the public validator is a call to the internet.
    validatorUrl: null,
    requestInterceptor(request) {
      const method = (request.method || "GET").toUpperCase();
      if (!["GET", "HEAD", "OPTIONS", "TRACE"].includes(method)) request.headers["X-CSRFToken"] = csrfToken();
      request.credentials = "same-origin";
      return request;
    },
  });
})();
