/*
 * PeaceWatch — building DOM elements, shared by every page's script.
 *
 * Pages never build HTML from data (a strict Content-Security-Policy applies,
 * and names and words come from drones): `el` makes elements and sets text.
 * `csrfToken` is what every page's changes send.
 * Defines one global, `window.PeaceWatchDom`.
 */
(function () {
  "use strict";

  /** Build an element: el("span", {class: "x", dataset: {a: 1}}, "text", child). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "dataset") Object.assign(node.dataset, value);
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  /**
   * The CSRF token that unsafe requests carry (X-CSRFToken): from the csrftoken cookie or, when the
   * cookie cannot be read (CSRF_COOKIE_HTTPONLY, a Secure cookie over plain http), from the token
   * base.html's sign-out form carries.
   */
  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]*)/);
    if (match) return decodeURIComponent(match[1]);
    const field = document.querySelector('input[name="csrfmiddlewaretoken"]');
    return field ? field.value : "";
  }

  window.PeaceWatchDom = Object.freeze({ el, csrfToken });
})();
