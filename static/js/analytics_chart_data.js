// The analysts' charts and heat map as data, without the DOM, Chart.js or Leaflet: what each
// draws from the search's aggregations (analytics/query.py), so the drawing stays thin.

/** The time chart's buckets: their instants (for a click or a drag), counts, and the busiest one. */
export function histogramSeries(histogram) {
  const buckets = (histogram && histogram.buckets) || [];
  const interval = (histogram && histogram.interval) || "";
  // The first of equal counts: the earliest of the busiest intervals.
  const peak = buckets.reduce((best, b) => (b.count > (best ? best.count : -1) ? b : best), null);
  return { buckets, interval, keys: buckets.map((b) => b.key), values: buckets.map((b) => b.count), peak };
}

/** The bucket index under a fractional axis position, the nearest one off the ends; null with none. */
export function bucketIndex(position, count) {
  const index = Math.round(position);
  return count && Number.isFinite(index) ? Math.max(0, Math.min(count - 1, index)) : null;
}

/** Citizens are counted by key (their id when there is one) and shown by name; drones and words by key. */
export function topLabel(name, bucket) {
  return name === "top_citizens" ? bucket.name : bucket.key;
}

/** A top list's bars, and the few that lead it (for the chart's accessible description). */
export function topSeries(name, buckets) {
  buckets = buckets || [];
  return {
    buckets,
    labels: buckets.map((b) => topLabel(name, b)),
    values: buckets.map((b) => b.count),
    leaders: buckets.slice(0, 3).map((b) => ({ label: topLabel(name, b), count: b.count })),
    more: buckets.length > 3,
  };
}

/** The score chart's bars: the extremes and the percentiles between them, null where the answer has none. */
export function scoreStats(score) {
  score = score || {};
  const p = score.percentiles || {};
  return [
    ["lowest", score.min],
    ["5 %", p["5"]],
    ["25 %", p["25"]],
    ["median", p["50"]],
    ["75 %", p["75"]],
    ["95 %", p["95"]],
    ["99 %", p["99"]],
    ["highest", score.max],
  ].map(([label, value]) => [label, typeof value === "number" ? value : null]);
}

/** The citizen charts' captions name the query's peacescore range: they count only the citizens in it. */
export function scoreRange(score) {
  if (!score || (score.min == null && score.max == null)) return "";
  // As the analyst typed them (30, not 30.0).
  if (score.min == null) return " (citizens scoring up to " + String(score.max) + ")";
  if (score.max == null) return " (citizens scoring from " + String(score.min) + ")";
  return " (citizens scoring " + String(score.min) + " to " + String(score.max) + ")";
}

/**
 * The heat map's classes: upper bounds on a logarithmic scale (counts per cell are skewed),
 * one per colour at most; with fewer classes than colours, the darker end of the ramp.
 */
export function heatClasses(max, colours) {
  const steps = colours.length;
  const bounds = [];
  for (let i = 1; i <= steps; i++) {
    const bound = Math.ceil(Math.pow(max, i / steps));
    if (!bounds.length || bound > bounds[bounds.length - 1]) bounds.push(bound);
  }
  bounds[bounds.length - 1] = max;
  const offset = steps - bounds.length;
  return bounds.map((upper, i) => ({ lower: i === 0 ? 1 : bounds[i - 1] + 1, upper, colour: colours[i + offset] }));
}

/** The colour of a cell's count: its class's, the last class's above them all. */
export function heatColour(classes, count) {
  return (classes.find((c) => count <= c.upper) || classes[classes.length - 1]).colour;
}

/** The aggregations a query can ask for (analytics/query.py), one panel each but the heat map's. */
export const AGGS = ["histogram", "top_citizens", "top_drones", "top_words", "score", "grid"];
export const TOPS = ["top_citizens", "top_drones", "top_words"];
