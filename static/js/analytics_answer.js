// What the analysts' page says about an answer, without the DOM: which rows a page holds,
// what the parts of a range crossing the index's retention estimate, how a row's words read.

/** The rows a page shows, numbered from 1 across pages; null when the page is empty. */
export function pageSpan(page, size, rows) {
  if (!rows) return null;
  const first = (page - 1) * size + 1;
  return { first, last: first + rows - 1 };
}

const ESTIMATE_NAMES = { top_citizens: "top citizens", top_drones: "top drones", top_words: "top words" };

/** What is estimated where the parts of an answer meet: `approximate` as the search returns it. */
export function estimateNotes(approximate, formatCount) {
  return Object.entries(approximate || {}).map(([name, info]) =>
    name === "score"
      ? "score percentiles are estimated"
      : (ESTIMATE_NAMES[name] || name) + " counts may be short by up to " + formatCount(info.count_error_upper_bound)
  );
}

/** A row's words, the first `max` of them and how many more; null when it has none. */
export function wordsSummary(words, max) {
  if (!words.length) return null;
  const shown = words.slice(0, max).join(", ");
  return words.length > max ? shown + " … +" + (words.length - max) + " more" : shown;
}
