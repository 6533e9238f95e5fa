// The analysts' answer on screen: the count and range above it (with the parts a range crossing
// the index's retention came from), the table of reports and its pager. A row's place button
// puts a pin on the map (`onPlace`). Which rows a page holds and how they read: analytics_answer.js.
import { estimateNotes, pageSpan, wordsSummary } from "./analytics_answer.js";

const MAX_CITIZENS_SHOWN = 8;
const MAX_WORDS_SHOWN = 12;
const ENGINE_NAMES = { archive: "the archive", embedded: "the embedded index", elasticsearch: "the search index" };

/**
 * `state` is the page's: `pager` (CursorPager), `frozen` (the query the answer ran), `total`,
 * and `result` (the page on screen), which `hits` sets.
 */
export function createResults({ A, state, threshold, timeNode, citizenUrl, onPlace }) {
  const { el, formatCount, formatScore, announce } = A;
  const $ = (id) => document.getElementById(id);
  const dom = {
    count: $("result-count"),
    range: $("result-range"),
    sources: $("result-sources"),
    tbody: document.querySelector("#results-table tbody"),
    empty: $("results-empty"),
    pageInfo: $("page-info"),
    prev: $("page-prev"),
    next: $("page-next"),
    title: $("results-title"),
  };

  dom.tbody.addEventListener("click", (event) => {
    const button = event.target.closest("button.link-button");
    if (button) onPlace(Number(button.dataset.lat), Number(button.dataset.lon));
  });

  /** Where the count goes: "Searching…", why a query did not run, what the page shows. */
  function say(text, { polite = false } = {}) {
    if (polite) announce(dom.count, text);
    else dom.count.textContent = text;
  }

  function summary(result) {
    const total = result.total;
    announce(dom.count, total === 1 ? "1 report matches." : formatCount(total) + " reports match.");
    dom.count.dataset.total = String(total);
    const range = result.query || {};
    dom.range.replaceChildren(
      "From ",
      timeNode(range.from),
      " to ",
      timeNode(range.to),
      ...(result.as_of ? [" · as of ", timeNode(result.as_of)] : []),
      " · " + (result.engine || "engine") + ", " + formatCount(result.took_ms) + " ms"
    );
    dom.range.title = result.as_of
      ? "Counted as of this moment: pages and exports of this answer count the same reports; run the query again for reports that arrived since."
      : "";
    sources(result.sources || [], result.approximate || {});
  }

  /** Which engine answered which part of a range that crosses the index's retention, and what is estimated. */
  function sources(parts, approximate) {
    dom.sources.hidden = parts.length < 2;
    if (parts.length < 2) {
      dom.sources.replaceChildren();
      return;
    }
    const text = ["Answered in parts: "];
    parts.forEach((source, i) => {
      if (i) text.push("; ");
      text.push(
        timeNode(source.from), " to ", timeNode(source.to),
        " from " + (ENGINE_NAMES[source.engine] || source.engine) + " (" + formatCount(source.total) + ")"
      );
    });
    const notes = estimateNotes(approximate, formatCount);
    text.push(notes.length ? ". Where the parts meet, " + notes.join(", ") + "." : ".");
    dom.sources.replaceChildren(...text);
  }

  function pageText() {
    const page = state.pager.page;
    const span = pageSpan(page, state.frozen ? state.frozen.size : 0, state.result ? state.result.hits.length : 0);
    if (!span) return "Page " + page + ": no rows.";
    return "Page " + page + ": reports " + formatCount(span.first) + "–" + formatCount(span.last) + " of " + formatCount(state.total);
  }

  /** Enable the buttons that lead somewhere (not disabled while a page loads: a page turn is ignored then). */
  function updatePager() {
    state.pager.syncButtons(dom.prev, dom.next, dom.title);
  }

  function hits(result) {
    state.result = result;
    const rows = result.hits.map(hitRow);
    dom.tbody.replaceChildren(...rows);
    dom.empty.hidden = rows.length > 0;
    dom.pageInfo.textContent = pageText();
    updatePager();
  }

  /** No answer on screen: `reason` where the count was. */
  function clear(reason) {
    dom.count.textContent = reason;
    delete dom.count.dataset.total;
    dom.range.replaceChildren();
    sources([], {});
    dom.tbody.replaceChildren();
    dom.empty.hidden = true;
    dom.pageInfo.textContent = "";
    updatePager();
  }

  function hitRow(hit) {
    const timeCell = el("td", {}, timeNode(hit.observed_at));
    if (hit.alert) timeCell.append(" ", el("span", { class: "badge alert-badge", text: "alert" }));
    if (hit.time_source === "broker") {
      timeCell.append(el("span", { class: "hint", title: "No time from the drone: when the broker received it" }, " *"));
    }
    const locate = el("button", {
      type: "button",
      class: "link-button",
      dataset: { lat: hit.location.lat, lon: hit.location.lon },
      "aria-label": "Show " + A.formatLatLon(hit.location) + " on the map",
      text: A.formatLatLon(hit.location),
    });
    const words = wordsSummary(hit.words, MAX_WORDS_SHOWN);
    return el(
      "tr",
      { class: hit.alert ? "is-alert" : null, dataset: { reportId: hit.report_id } },
      timeCell,
      el("td", { class: "mono", text: hit.drone_id }),
      el("td", {}, locate),
      el("td", {}, citizenList(hit.citizens)),
      el("td", { class: "words" }, words === null ? el("span", { class: "hint", text: "none" }) : words)
    );
  }

  function citizenList(citizens) {
    if (!citizens.length) return el("span", { class: "hint", text: "none" });
    const list = el("ul", { class: "citizens" });
    for (const person of citizens.slice(0, MAX_CITIZENS_SHOWN)) {
      const low = person.peacescore < threshold;
      list.append(
        el(
          "li",
          {},
          el("a", { href: citizenUrl(person.name, person.key), text: person.name, title: "Timeline of " + person.name }),
          " ",
          el("span", { class: "score" + (low ? " is-low" : ""), text: formatScore(person.peacescore) })
        )
      );
    }
    if (citizens.length > MAX_CITIZENS_SHOWN) {
      list.append(el("li", { class: "hint", text: "+" + (citizens.length - MAX_CITIZENS_SHOWN) + " more" }));
    }
    return list;
  }

  return { say, summary, hits, clear, pageText, updatePager };
}
