/*
 * PeaceWatch — helpers shared by the analysts' pages (analytics.js, analytics_citizen.js).
 *
 * Plain script, no build step, loaded after the vendored Leaflet. It defines one
 * global, `window.PeaceWatchAnalytics`, with small pure helpers: DOM building
 * (never HTML from data: a strict Content-Security-Policy applies and names come
 * from drones), JSON calls with the CSRF token, formatting, the offline map
 * background, and a cursor pager that pages forward with the API's `next` cursor
 * and back with a stack of the cursors already used.
 */
(function () {
  "use strict";

  const LOGIN_URL = "/accounts/login/";

  const { el } = window.PeaceWatchDom; // static/js/dom.js, loaded first

  function readConfig(id) {
    const node = document.getElementById(id || "analytics-config");
    try {
      return JSON.parse(node ? node.textContent : "{}") || {};
    } catch (error) {
      return {};
    }
  }

  /** An API refusal worth showing: `message`, and the query `field` it names (400s). */
  class ApiError extends Error {
    constructor(message, { status = 0, field = "", problem = null } = {}) {
      super(message);
      this.status = status;
      this.field = field;
      this.problem = problem; // the RFC 9457 problem as answered, with its `errors` list
    }
  }

  class SignedOutError extends ApiError {
    constructor() {
      super("You are signed out, or your account may not do this. Sign in again to continue.", { status: 403 });
    }
  }

  /**
   * Call a JSON endpoint of our API. Resolves to the decoded body (null for 204);
   * rejects with SignedOutError (401/403/redirect to the login page) or ApiError
   * carrying the server's `error`/`field` when it gave them.
   */
  async function api(url, { method = "GET", body, signal } = {}) {
    const headers = { Accept: "application/json" };
    if (method !== "GET") {
      headers["X-CSRFToken"] = window.PeaceWatchDom.csrfToken();
      if (body !== undefined) headers["Content-Type"] = "application/json";
    }
    let response;
    try {
      response = await fetch(url, {
        method,
        headers,
        credentials: "same-origin",
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
    } catch (error) {
      if (error.name === "AbortError") throw error;
      throw new ApiError("The server cannot be reached. Check the connection and try again.");
    }
    const toLogin = response.redirected && new URL(response.url).pathname.startsWith(LOGIN_URL);
    if (response.status === 401 || response.status === 403 || toLogin) throw new SignedOutError();
    if (response.status === 204) return null;
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      const detail = data && (data.error || data.detail || firstFieldError(data, ""));
      throw new ApiError(detail ? String(detail) : "The server answered " + response.status + ".", {
        status: response.status,
        field: (data && data.field) || "",
        problem: data && typeof data === "object" ? data : null,
      });
    }
    return data;
  }

  /** DRF's {"name": ["This field is required."]} as "name: This field is required." */
  function firstFieldError(data, prefix) {
    if (typeof data === "string") return prefix ? prefix + ": " + data : data;
    if (Array.isArray(data)) {
      for (const item of data) {
        const text = firstFieldError(item, prefix);
        if (text) return text;
      }
      return "";
    }
    if (!data || typeof data !== "object") return "";
    if (typeof data.error === "string") return data.error; // a query error nested in a field
    for (const [key, value] of Object.entries(data)) {
      const text = firstFieldError(value, key === "non_field_errors" ? prefix : key);
      if (text) return text;
    }
    return "";
  }

  // ------------------------------------------------------------------ formatting

  const numberFormat = new Intl.NumberFormat();

  function formatCount(n) {
    return typeof n === "number" && Number.isFinite(n) ? numberFormat.format(n) : "—";
  }

  function formatScore(score) {
    return typeof score === "number" && Number.isFinite(score) ? score.toFixed(1) : "—";
  }

  function formatTime(iso) {
    const date = new Date(iso);
    if (!iso || Number.isNaN(date.getTime())) return "unknown";
    return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
  }

  function formatShortTime(iso) {
    const date = new Date(iso);
    if (!iso || Number.isNaN(date.getTime())) return "unknown";
    return date.toLocaleString(undefined, { dateStyle: "short", timeStyle: "short" });
  }

  function formatLatLon(location) {
    if (!location || !Number.isFinite(location.lat) || !Number.isFinite(location.lon)) return "unknown";
    return location.lat.toFixed(4) + ", " + location.lon.toFixed(4);
  }

  function plural(n, one, many) {
    return formatCount(n) + " " + (n === 1 ? one : many);
  }

  /** The timeline of one citizen: shown by name, found by key (the id when there is one) if given. */
  function citizenUrl(base, name, key) {
    return base + "?name=" + encodeURIComponent(name) + (key ? "&key=" + encodeURIComponent(key) : "");
  }

  /** A time element showing local time, with the exact UTC instant in datetime. */
  function timeNode(iso, short) {
    return el("time", { datetime: iso, text: short ? formatShortTime(iso) : formatTime(iso) });
  }

  // ----------------------------------------------------------------------- map

  /**
   * A Leaflet map over the city's streets (a force's tile server, or the offline
   * base map of static/js/base_map.js, loaded before this file), fitted to the
   * city, keyboard-pannable.
   */
  function makeMap(node, cityBounds) {
    const bounds = L.latLngBounds(cityBounds);
    const map = L.map(node, { minZoom: 3, maxZoom: 18, zoomSnap: 0.5, keyboard: true });
    map.attributionControl.setPrefix("Leaflet");
    map.fitBounds(bounds, { padding: [8, 8] });
    L.control.scale({ imperial: false }).addTo(map);
    window.PeaceWatchBaseMap.addTo(map, { cityBounds });
    return map;
  }

  // --------------------------------------------------------------------- pager

    /** Announce in a polite live region; the same text twice is still read. */
  function announce(node, text) {
    if (!node) return;
    node.textContent = "";
    window.setTimeout(() => {
      node.textContent = text;
    }, 50);
  }

  // ------------------------------------------------------------ purpose of access

  const PURPOSE_KEY = "peacewatch.purpose";
  const PURPOSE_MIN = 3;
  const PURPOSE_MAX = 200;

  function storedPurpose() {
    try {
      return sessionStorage.getItem(PURPOSE_KEY) || "";
    } catch (error) {
      return ""; // storage refused (privacy settings): the field is asked again on each page
    }
  }

  /**
   * The purpose of access typed in `input` (whitespace runs made one space), kept
   * for this tab. Throws ApiError naming the field "purpose" when it is required
   * and missing, or not 3-200 characters: the page shows it like a query error.
   */
  function takePurpose(input, required) {
    const text = String(input.value || "").trim().split(/\s+/).filter(Boolean).join(" ");
    if (!text) {
      if (!required) return "";
      throw new ApiError("Say why you look first: a case reference or reason (3–200 characters), under Purpose of access.", { field: "purpose" });
    }
    if (text.length < PURPOSE_MIN || text.length > PURPOSE_MAX) {
      throw new ApiError("The purpose of access must be 3–200 characters.", { field: "purpose" });
    }
    try {
      sessionStorage.setItem(PURPOSE_KEY, text);
    } catch (error) {
      // kept in the field only
    }
    return text;
  }

  /** Fill the purpose field from this tab's last one; `onUse` runs when the analyst submits it. */
  function bindPurpose(form, input, onUse) {
    input.value = storedPurpose();
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      onUse();
    });
  }

  window.PeaceWatchAnalytics = Object.freeze({
    el,
    readConfig,
    api,
    ApiError,
    SignedOutError,
    formatCount,
    formatScore,
    formatTime,
    formatShortTime,
    formatLatLon,
    plural,
    citizenUrl,
    timeNode,
    makeMap,
    announce,
    takePurpose,
    bindPurpose,
  });
})();
