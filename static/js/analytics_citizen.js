/*
 * PeaceWatch — one citizen's timeline (templates/analytics/citizen.html).
 *
 * POST /api/v1/reports/search with {"citizen": {"key"}} when the page has a key
 * (one person, as top lists count them) or {"citizen": {"name", "match":
 * "exact"}} (everyone seen under that name), and "sort": "oldest": the reports
 * that saw this citizen, oldest first, one page
 * at a time by cursor (the time range frozen after the first page, as on the
 * query page). The map shows the page's sightings as numbered points joined in
 * time order; the table says when, where, with which score and with whom.
 *
 * A name matches without regard to case or accents (the server folds it, as
 * foldName does here to pick the person out of each report), and is suggested as
 * it is typed. Every time shown is in the force's display zone, and says so.
 */
import { foldName } from "./analytics_form.js";
import { formatInstant } from "./analytics_time.js";
import { attachSuggest } from "./citizen_suggest.js";

(function () {
  "use strict";

  const A = window.PeaceWatchAnalytics;
  const { el, api, SignedOutError, formatCount, formatScore, announce } = A;

  const PAGE_SIZE = 50;
  const RANGES = ["24h", "7d", "30d", "365d"];
  const LOW = "#8f1111";
  const NORMAL = "#1f5fbf";

  const config = A.readConfig();
  const threshold = typeof config.threshold === "number" ? config.threshold : 20;
  const name = config.citizen || "";
  const key = config.citizen_key || "";
  const zone = config.display_time_zone || "UTC";
  const when = (iso) => formatInstant(iso, zone);
  const folded = foldName(name);
  const isThem = (c) => (key ? c.key === key : foldName(c.name) === folded);
  const params = new URLSearchParams(window.location.search);
  const last = RANGES.includes(params.get("last")) ? params.get("last") : "30d";

  const $ = (id) => document.getElementById(id);
  const dom = {
    range: $("c-range"),
    error: $("citizen-error"),
    count: $("citizen-count"),
    tbody: document.querySelector("#sightings-table tbody"),
    results: document.querySelector(".results"),
    empty: $("results-empty"),
    pageInfo: $("page-info"),
    prev: $("page-prev"),
    next: $("page-next"),
  };

  const state = { frozen: null, total: 0, result: null, busy: false, pager: new A.CursorPager() };

  const map = A.makeMap($("citizen-map"), config.city_bounds);
  const trail = L.layerGroup().addTo(map);

  function scoreOf(hit) {
    const person = hit.citizens.find(isThem);
    return person ? person.peacescore : null;
  }

  function firstIndex() {
    return (state.pager.page - 1) * PAGE_SIZE + 1;
  }

  async function load(direction) {
    if (state.busy) return;
    const after = direction === null ? null : state.pager.target(direction);
    if (direction > 0 && !after) return;
    const base = state.frozen || {
      time: { last },
      citizen: key ? { key } : { name, match: "exact" },
      sort: "oldest",
      size: PAGE_SIZE,
      aggs: [],
    };
    let purpose;
    try {
      purpose = A.takePurpose($("purpose"), config.require_purpose);
    } catch (error) {
      dom.error.replaceChildren(error.message);
      $("purpose").focus();
      return;
    }
    state.busy = true;
    dom.results.setAttribute("aria-busy", "true");
    let result;
    try {
      const body = purpose ? { ...base, after, purpose } : { ...base, after };
      result = await api(config.search_api, { method: "POST", body });
    } catch (error) {
      dom.error.replaceChildren(error.message);
      if (error instanceof SignedOutError) {
        dom.error.append(" ", el("a", { href: "/accounts/login/?next=" + encodeURIComponent(location.pathname + location.search), text: "Sign in" }));
      }
      return;
    } finally {
      state.busy = false;
      dom.results.setAttribute("aria-busy", "false");
      updatePager();
    }
    dom.error.replaceChildren();
    if (direction === null) {
      state.frozen = { ...base, time: { from: result.query.from, to: result.query.to } };
      state.pager.reset();
      state.pager.landed(0, result.next);
      state.total = result.total;
    } else {
      state.pager.landed(direction, result.next);
    }
    state.result = result;
    render(result, direction === null);
  }

  /** As on the query page: focus never drops with a disabled button (CursorPager.syncButtons). */
  function updatePager() {
    state.pager.syncButtons(dom.prev, dom.next, $("sightings-title"));
  }

  function pageText(rows) {
    if (!rows) return "";
    const first = firstIndex();
    return "Page " + state.pager.page + ": sightings " + formatCount(first) + "–" + formatCount(first + rows - 1) + " of " + formatCount(state.total);
  }

  function render(result, first) {
    const hits = result.hits;
    const rangeLabel = dom.range.options[dom.range.selectedIndex].textContent;
    if (first) {
      announce(dom.count, (state.total === 1 ? "1 sighting" : formatCount(state.total) + " sightings") + " of " + (name || key) + " in the " + rangeLabel + ".");
    } else {
      announce(dom.count, pageText(hits.length) + ".");
    }
    dom.pageInfo.textContent = pageText(hits.length);
    dom.empty.hidden = hits.length > 0;
    dom.tbody.replaceChildren(...hits.map((hit, i) => row(hit, firstIndex() + i)));
    drawTrail(hits);
    updatePager();
  }

  function row(hit, number) {
    const score = scoreOf(hit);
    const others = hit.citizens.filter((c) => !isThem(c));
    const with_ = others.length
      ? el(
          "ul",
          { class: "citizens" },
          ...others.slice(0, 6).map((c) =>
            el("li", {}, el("a", { href: A.citizenUrl(config.citizen_url, c.name, c.key), text: c.name }), " ", el("span", { class: "score" + (c.peacescore < threshold ? " is-low" : ""), text: formatScore(c.peacescore) }))
          ),
          others.length > 6 ? el("li", { class: "hint", text: "+" + (others.length - 6) + " more" }) : null
        )
      : el("span", { class: "hint", text: "alone" });
    const locate = el("button", {
      type: "button",
      class: "link-button",
      dataset: { lat: hit.location.lat, lon: hit.location.lon, number },
      // The visible coordinates start the accessible name (WCAG 2.5.3: speech users say what they see).
      "aria-label": A.formatLatLon(hit.location) + ": show sighting " + number + " on the map",
      text: A.formatLatLon(hit.location),
    });
    return el(
      "tr",
      { class: score !== null && score < threshold ? "is-alert" : null },
      el("td", { text: String(number) }),
      el("td", {}, el("time", { datetime: hit.observed_at, text: when(hit.observed_at) })),
      el("td", {}, el("span", { class: "score" + (score !== null && score < threshold ? " is-low" : ""), text: formatScore(score) })),
      el("td", { class: "mono", text: hit.drone_id }),
      el("td", {}, locate),
      el("td", {}, with_),
      el("td", { class: "words", text: hit.words.slice(0, 10).join(", ") + (hit.words.length > 10 ? " …" : "") })
    );
  }

  function drawTrail(hits) {
    trail.clearLayers();
    const points = hits
      .filter((hit) => Number.isFinite(hit.location.lat) && Number.isFinite(hit.location.lon))
      .map((hit) => [hit.location.lat, hit.location.lon]);
    $("citizen-map").dataset.points = String(points.length);
    if (!points.length) return;
    L.polyline(points, { color: "#142033", weight: 2, opacity: 0.6, dashArray: "4 4", interactive: false }).addTo(trail);
    hits.forEach((hit, i) => {
      const score = scoreOf(hit);
      const number = firstIndex() + i;
      L.circleMarker([hit.location.lat, hit.location.lon], {
        radius: 6,
        color: "#fff",
        weight: 2,
        fillColor: score !== null && score < threshold ? LOW : NORMAL,
        fillOpacity: 1,
      })
        .bindTooltip("#" + number + " · " + when(hit.observed_at) + " · score " + formatScore(score) + " · " + hit.drone_id)
        .addTo(trail);
    });
    map.fitBounds(L.latLngBounds(points), { padding: [24, 24], maxZoom: 16 });
  }

  function showOnMap(button) {
    const lat = Number(button.dataset.lat);
    const lon = Number(button.dataset.lon);
    if (!Number.isFinite(lat) || !Number.isFinite(lon)) return;
    map.setView([lat, lon], Math.max(map.getZoom(), 16));
    trail.eachLayer((layer) => {
      if (layer instanceof L.CircleMarker && layer.getLatLng().equals([lat, lon])) layer.openTooltip();
    });
    announce(dom.count, "Sighting " + button.dataset.number + " shown on the map.");
  }

  dom.range.value = last;
  // A name typed in is a search by name: the key of the person shown so far no longer applies.
  $("c-name").addEventListener("input", () => {
    const kept = $("c-key");
    if (kept) kept.remove();
  });
  attachSuggest($("c-name"), {
    fetchNames: async (prefix, signal, limit) => {
      let purpose;
      try {
        purpose = A.takePurpose($("purpose"), config.require_purpose);
      } catch (error) {
        return []; // every suggestion is audited with a purpose: none without one
      }
      const params = new URLSearchParams({ prefix, limit: String(limit) });
      if (purpose) params.set("purpose", purpose);
      const answer = await api(config.suggest_api + "?" + params.toString(), { signal });
      return answer.results || [];
    },
    onPick: () => {
      const kept = $("c-key");
      if (kept) kept.remove();
    },
  });
  dom.prev.addEventListener("click", () => load(-1));
  dom.next.addEventListener("click", () => load(1));
  dom.tbody.addEventListener("click", (event) => {
    const button = event.target.closest("button.link-button");
    if (button) showOnMap(button);
  });

  window.peacewatchCitizen = Object.freeze({
    get busy() {
      return state.busy;
    },
    get result() {
      return state.result;
    },
  });

  A.bindPurpose($("purpose-form"), $("purpose"), () => {
    if (name || key) load(null);
  });
  if (name || key) load(null);
  else dom.count.textContent = "Give a citizen's name to see where and when they were seen.";
})();
