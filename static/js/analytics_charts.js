// The analysts' charts (Chart.js, static/vendor/chart.js): the time histogram, with a click on
// a bar or a drag across it narrowing the time range; the top lists, whose drones and words
// narrow the query and whose citizens open their timeline; the peacescore chart. Each chart
// has a table or list beside it that the keyboard reaches. What they draw comes from
// analytics_chart_data.js; narrowing the query is the page's (onTime, onNarrow).
import { addDrone, addWord } from "./analytics_drill.js";
import { AGGS, TOPS, bucketIndex, histogramSeries, scoreRange, scoreStats, topLabel, topSeries } from "./analytics_chart_data.js";
import { axisLabel, zoneName } from "./analytics_time.js";

const DRAG_PX = 8; // a shorter move across the time chart is a click on a bar
const CHART_COLOUR = "#1f5fbf";
const ALERT_COLOUR = "#8f1111";

/**
 * The charts of the page. `onTime(keys, first, last, interval)` narrows to the buckets first..last;
 * `onNarrow(kind, change)` narrows the query by `change(query)` (analytics_drill.js).
 */
export function createCharts({ A, zone, threshold, when, timeNode, citizenUrl, onTime, onNarrow }) {
  const { el, formatCount, formatScore } = A;
  const $ = (id) => document.getElementById(id);
  const visuals = document.querySelector(".visuals");
  const tops = document.querySelector(".tops");
  const histogramCanvas = $("chart-histogram");
  const charts = {};
  let histogram = { keys: [], interval: "", dragged: false }; // the time chart's buckets, for a click or a drag on it

  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = "#1b2430";
  Chart.defaults.animation = false; // instant: reduced motion and quick re-renders

  function chart(name, build) {
    if (!charts[name]) charts[name] = new Chart($("chart-" + name), build());
    return charts[name];
  }

  function setChart(name, labels, values, build, description) {
    const instance = chart(name, build);
    instance.data.labels = labels;
    instance.data.datasets[0].data = values;
    instance.update();
    $("chart-" + name).setAttribute("aria-label", description);
  }

  function barOptions({ horizontal = false, onClick = null } = {}) {
    return {
      indexAxis: horizontal ? "y" : "x",
      responsive: true,
      maintainAspectRatio: false,
      plugins: { legend: { display: false } },
      scales: {
        x: { beginAtZero: true, ticks: { precision: 0, autoSkip: true, maxRotation: 0 } },
        y: { beginAtZero: true, ticks: { precision: 0, autoSkip: !horizontal } },
      },
      onClick,
      onHover: onClick ? (event, items) => (event.native.target.style.cursor = items.length ? "pointer" : "default") : undefined,
    };
  }

  function bars(label, backgroundColor) {
    return { type: "bar", data: { labels: [], datasets: [{ label, data: [], backgroundColor, borderRadius: 2 }] } };
  }

  // ------------------------------------------------------------------ time

  /** The histogram bucket under x (canvas pixels), the nearest one off the ends. */
  function bucketAt(instance, x) {
    return bucketIndex(instance.scales.x.getValueForPixel(x), histogram.keys.length);
  }

  function narrowTime(first, last) {
    onTime(histogram.keys, first, last, histogram.interval);
  }

  function renderHistogram(aggregation) {
    const { buckets, interval, keys, values, peak } = histogramSeries(aggregation);
    setChart(
      "histogram",
      buckets.map((b) => axisLabel(b.key, interval, zone)),
      values,
      () => ({ ...bars("Reports", CHART_COLOUR), options: histogramOptions() }),
      "Reports per " + interval + ", " + buckets.length + " intervals" +
        (peak ? "; most at " + when(peak.key) + " with " + formatCount(peak.count) : "")
    );
    // Tooltips and the axis title say the zone: the whole time, not the bare label.
    const instance = charts.histogram;
    instance.$keys = keys;
    histogram = { keys, interval, dragged: false };
    instance.options.scales.x.title.text = "Time (" + zoneName(zone, buckets.length ? buckets[0].key : null) + ")";
    instance.update();
    document.querySelector("#histogram-table tbody").replaceChildren(
      ...buckets.map((b, i) => {
        const narrow = el(
          "button",
          { type: "button", class: "link-button", "aria-label": when(b.key) + ": narrow the time range to this interval" },
          timeNode(b.key)
        );
        narrow.addEventListener("click", () => narrowTime(i, i));
        return el("tr", {}, el("td", {}, narrow), el("td", { text: formatCount(b.count) }));
      })
    );
  }

  function histogramOptions() {
    const options = barOptions();
    // A click anywhere in a bar's column picks it: short bars are hard to hit.
    options.onClick = (event, items, instance) => {
      if (histogram.dragged) {
        histogram.dragged = false;
        return;
      }
      const area = instance.chartArea;
      if (event.x < area.left || event.x > area.right || event.y < area.top || event.y > area.bottom) return;
      const index = bucketAt(instance, event.x);
      if (index !== null) narrowTime(index, index);
    };
    options.scales.x.title = { display: true, text: "Time" };
    options.plugins.tooltip = {
      callbacks: {
        title: (items) => {
          const keys = items.length ? items[0].chart.$keys : null;
          return keys ? "From " + when(keys[items[0].dataIndex]) : "";
        },
      },
    };
    return options;
  }

  /** Drag across the time chart to zoom in on the span: whole buckets, as a custom range. */
  function bindTimeDrag() {
    const canvas = histogramCanvas;
    const band = el("div", { class: "drag-band", hidden: true });
    canvas.parentNode.append(band);
    let drag = null;
    const xOf = (event) => event.clientX - canvas.getBoundingClientRect().left;
    canvas.addEventListener("pointerdown", (event) => {
      histogram.dragged = false;
      if (event.button !== 0 || !charts.histogram) return;
      drag = { start: xOf(event), end: xOf(event) };
      canvas.setPointerCapture(event.pointerId);
    });
    canvas.addEventListener("pointermove", (event) => {
      if (!drag) return;
      drag.end = xOf(event);
      const left = Math.min(drag.start, drag.end);
      const width = Math.abs(drag.end - drag.start);
      band.hidden = width < DRAG_PX;
      band.style.left = left + "px"; // CSSOM, allowed under the CSP
      band.style.width = width + "px";
    });
    const finish = (cancelled) => {
      if (!drag) return;
      const { start, end } = drag;
      drag = null;
      band.hidden = true;
      if (cancelled || Math.abs(end - start) < DRAG_PX) return;
      histogram.dragged = true; // the click the browser sends next ends the drag, it picks no bar
      const instance = charts.histogram;
      const [first, last] = [bucketAt(instance, start), bucketAt(instance, end)];
      if (first !== null && last !== null) narrowTime(first, last);
    };
    canvas.addEventListener("pointerup", () => finish(false));
    canvas.addEventListener("pointercancel", () => finish(true));
  }

  // ------------------------------------------------------------------ tops

  function renderTop(name, aggregation) {
    const { buckets, labels, values, leaders, more } = topSeries(name, aggregation);
    const isCitizens = name === "top_citizens";
    const timeline = (b) => citizenUrl(b.name, b.key);
    // Drones and words narrow the query; a citizen's bar opens their timeline.
    const [kind, narrowBy, action] =
      name === "top_drones" ? ["drone", addDrone, "add to the drones filter"] : ["word", addWord, "add to the words filter"];
    const pick = (b) => onNarrow(kind, (query) => narrowBy(query, b.key));
    const onClick = (event, items) => {
      if (!items.length) return;
      const bucket = buckets[items[0].index];
      if (isCitizens) window.location.assign(timeline(bucket));
      else pick(bucket);
    };
    setChart(
      name,
      labels,
      values,
      () => ({ ...bars("Reports", CHART_COLOUR), options: barOptions({ horizontal: true, onClick }) }),
      leaders.length ? leaders.map((b) => b.label + " " + formatCount(b.count)).join(", ") + (more ? ", …" : "") : "No data"
    );
    const list = $(name + "-list");
    list.replaceChildren(
      ...buckets.map((b) =>
        el("li", {}, isCitizens ? el("a", { href: timeline(b), text: topLabel(name, b) }) : pickButton(b), " — " + formatCount(b.count))
      )
    );
    if (!buckets.length) list.append(el("li", { class: "hint", text: "No data" }));

    function pickButton(b) {
      const button = el("button", { type: "button", class: "link-button", "aria-label": b.key + ": " + action, text: b.key });
      button.addEventListener("click", () => pick(b));
      return button;
    }
  }

  // ----------------------------------------------------------------- score

  function renderScore(score) {
    score = score || {};
    const p = score.percentiles || {};
    const stats = scoreStats(score);
    setChart(
      "score",
      stats.map(([label]) => label),
      stats.map(([, value]) => value),
      () => ({
        ...bars("Peacescore", (ctx) => (ctx.raw !== null && ctx.raw < threshold ? ALERT_COLOUR : CHART_COLOUR)),
        options: {
          ...barOptions(),
          scales: { x: { ticks: { maxRotation: 0, autoSkip: false } }, y: { beginAtZero: true, max: 100 } },
        },
      }),
      score.count
        ? formatCount(score.count) + " citizen sightings; median " + formatScore(p["50"]) + ", average " + formatScore(score.avg)
        : "No peacescores"
    );
    const rows = [["sightings", formatCount(score.count)], ["average", formatScore(score.avg)]].concat(
      stats.map(([label, value]) => [label, formatScore(value)])
    );
    document
      .querySelector("#score-table tbody")
      .replaceChildren(...rows.map(([label, value]) => el("tr", {}, el("td", { text: label }), el("td", { text: value }))));
  }

  // ---------------------------------------------------------------- panels

  /** No charts: every panel hidden (the heat map is the map's, not a panel). */
  function hide() {
    visuals.classList.add("no-charts");
    for (const name of AGGS) {
      const panel = name === "grid" ? null : $("panel-" + name);
      if (panel) panel.hidden = true;
    }
    tops.hidden = true;
  }

  /** The charts the query asked for; none, with "No reports match" said, when nothing matched. */
  function show(query, aggs, total) {
    const empty = total === 0;
    $("no-match").hidden = !empty;
    visuals.classList.toggle("no-charts", empty);
    if (empty) {
      hide();
      return;
    }
    const wanted = new Set(query.aggs);
    for (const name of AGGS) {
      const panel = name === "grid" ? null : $("panel-" + name);
      if (panel) panel.hidden = !wanted.has(name);
    }
    tops.hidden = !TOPS.some((n) => wanted.has(n));
    if (wanted.has("histogram")) renderHistogram(aggs.histogram);
    // With a peacescore range, the citizen charts count the citizens in it, not everyone in the reports.
    const range = scoreRange(query.score);
    $("score-caption").textContent = "Peacescores seen" + range;
    $("top-citizens-caption").textContent = "Top citizens" + range;
    if (wanted.has("score")) renderScore(aggs.score);
    for (const name of TOPS) if (wanted.has(name)) renderTop(name, aggs[name]);
  }

  bindTimeDrag();
  return { show, hide };
}
