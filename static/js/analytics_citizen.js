/*
 * PeaceWatch — one citizen's timeline (templates/analytics/citizen.html).
 *
 * POST /api/v1/reports/search with {"citizen": {"key"}} when the page has a key
 * (one person, as top lists count them) or {"citizen": {"name", "match":
 * "exact"}} (everyone seen under that name), and "sort": "oldest": the reports
 * that saw this citizen, oldest first, one page
 * at a time by cursor (the time range frozen after the first page, as on the
 * query page). The map shows the page's sightings as numbered points joined in
 * time order, arrowheads on the way from each to the next (trail_geometry.js places
 * them, and which numbers show without covering each other, again at each zoom); the
 * table says when, where, with which score and with whom, and which is first and last.
 *
 * A name matches without regard to case or accents (the server folds it, as
 * foldName does here to pick the person out of each report), and is suggested as
 * it is typed. Every time shown is in the force's display zone, and says so.
 */
import { foldName } from "./analytics_form.js";
import { formatInstant } from "./analytics_time.js";
import { attachSuggest } from "./citizen_suggest.js";
import { CursorPager } from "./cursor_pager.js";
import { arrows, spacedLabels } from "./trail_geometry.js";

(function () {
  "use strict";

  const A = window.PeaceWatchAnalytics;
  const { el, api, SignedOutError, formatCount, formatScore, announce } = A;

  const PAGE_SIZE = 50;
  const RANGES = ["24h", "7d", "30d", "365d"];
  const LOW = "#8f1111";
  const NORMAL = "#1f5fbf";
  const ARROW_MIN_PX = 36; // a shorter segment has no room for an arrow between its two markers
  const LABEL_GAP_PX = 24; // number labels closer than this would cover each other

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
    legend: $("trail-legend"),
  };

  const state = { frozen: null, total: 0, result: null, busy: false, pager: new CursorPager() };

  const map = A.makeMap($("citizen-map"), config.city_bounds);
  const trail = L.layerGroup().addTo(map);
  const marks = L.layerGroup().addTo(map); // arrows and numbers, placed anew at each zoom
  let shown = []; // the page's sightings on the map: {latlng, number, low}

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
      el("td", {}, String(number), ...endBadge(number)),
      el("td", {}, el("time", { datetime: hit.observed_at, text: when(hit.observed_at) })),
      el("td", {}, el("span", { class: "score" + (score !== null && score < threshold ? " is-low" : ""), text: formatScore(score) })),
      el("td", { class: "mono", text: hit.drone_id }),
      el("td", {}, locate),
      el("td", {}, with_),
      el("td", { class: "words", text: hit.words.slice(0, 10).join(", ") + (hit.words.length > 10 ? " …" : "") })
    );
  }

  /** "first" and "last" beside the numbers of the citizen's first and latest sightings in the period. */
  function endBadge(number) {
    const word = number === 1 ? "first" : number === state.total ? "last" : null;
    return word ? [" ", el("span", { class: "badge end-badge", text: word })] : [];
  }

  function drawTrail(hits) {
    trail.clearLayers();
    const located = hits
      .map((hit, i) => ({ hit, number: firstIndex() + i }))
      .filter(({ hit }) => Number.isFinite(hit.location.lat) && Number.isFinite(hit.location.lon));
    const points = located.map(({ hit }) => [hit.location.lat, hit.location.lon]);
    $("citizen-map").dataset.points = String(points.length);
    shown = [];
    describeTrail(located);
    if (!points.length) {
      marks.clearLayers();
      return;
    }
    L.polyline(points, { color: "#142033", weight: 2, opacity: 0.7, interactive: false }).addTo(trail);
    for (const { hit, number } of located) {
      const score = scoreOf(hit);
      const low = score !== null && score < threshold;
      const latlng = L.latLng(hit.location.lat, hit.location.lon);
      shown.push({ latlng, number, low });
      L.circleMarker(latlng, { radius: 6, color: "#fff", weight: 2, fillColor: low ? LOW : NORMAL, fillOpacity: 1 })
        .bindTooltip("#" + number + " · " + when(hit.observed_at) + " · score " + formatScore(score) + " · " + hit.drone_id)
        .addTo(trail);
    }
    map.fitBounds(L.latLngBounds(points), { padding: [24, 24], maxZoom: 16 });
    placeMarks();
  }

  /** Arrowheads and number labels for the zoom shown: only where they fit. */
  function placeMarks() {
    marks.clearLayers();
    if (!shown.length) return;
    const pixels = shown.map((s) => map.latLngToLayerPoint(s.latlng));
    for (const arrow of arrows(pixels, ARROW_MIN_PX)) {
      const head = el("span", { class: "trail-arrow-head", "aria-hidden": "true", dataset: { from: shown[arrow.from].number } });
      head.style.transform = "translate(-50%, -50%) rotate(" + arrow.angle.toFixed(1) + "deg)"; // CSSOM, allowed under the CSP
      L.marker(map.layerPointToLatLng(L.point(arrow.x, arrow.y)), {
        icon: L.divIcon({ className: "trail-arrow", html: head, iconSize: [0, 0] }),
        interactive: false,
        keyboard: false,
      }).addTo(marks);
    }
    for (const i of spacedLabels(pixels, LABEL_GAP_PX)) {
      const { latlng, number, low } = shown[i];
      const label = el("span", { class: "trail-number-label" + (low ? " is-low" : ""), "aria-hidden": "true", text: String(number) });
      L.marker(latlng, {
        icon: L.divIcon({ className: "trail-number", html: label, iconSize: [0, 0] }),
        interactive: false,
        keyboard: false,
        zIndexOffset: i === 0 || i === shown.length - 1 ? 1000 : 0,
      }).addTo(marks);
    }
  }
  map.on("zoomend", placeMarks);

  /** Under the map: which number is the first and which the last, and what the arrows mean. */
  function describeTrail(located) {
    if (!located.length) {
      dom.legend.textContent = "";
      return;
    }
    const first = located[0];
    const last = located[located.length - 1];
    const ends = (entry) => "number " + entry.number + ", " + when(entry.hit.observed_at);
    dom.legend.textContent =
      "Numbered in time order: the first sighting on this page is " + ends(first) +
      (located.length > 1 ? "; the last is " + ends(last) + ". Arrows point from each sighting to the next." : ".") +
      " Where numbers would overlap, the table and the tooltips have them.";
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
