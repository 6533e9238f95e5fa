// A citizen's trail on the map, without the DOM: where its arrows go and which numbers fit.
//
// The timeline joins sightings in time order; an arrowhead at each segment's middle shows
// which way the citizen went. Everything here works on screen points ({x, y}, y growing
// downward, as Leaflet's layer points): on the Web Mercator map a screen angle is the
// compass bearing, and what overlaps is a matter of pixels at the zoom shown, so the page
// recomputes both after each zoom.

/** The compass bearing from a to b on screen, in degrees clockwise from up (north); null if a is b. */
export function screenBearing(a, b) {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  if (dx === 0 && dy === 0) return null;
  const degrees = (Math.atan2(dx, -dy) * 180) / Math.PI;
  return (degrees + 360) % 360;
}

export function midpoint(a, b) {
  return { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 };
}

/**
 * One arrowhead per segment long enough to show it beside the two markers (`minLength`
 * pixels): [{from, x, y, angle}], `from` the index of the earlier sighting.
 */
export function arrows(points, minLength) {
  const out = [];
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1];
    const b = points[i];
    if (Math.hypot(b.x - a.x, b.y - a.y) < minLength) continue;
    const { x, y } = midpoint(a, b);
    out.push({ from: i - 1, x, y, angle: screenBearing(a, b) });
  }
  return out;
}

/**
 * The indices whose number labels show without covering another's (`minGap` pixels
 * between centres): the first and the last always, then in time order each that is
 * clear of those already shown. The rest keep their number in the tooltip and the table.
 */
export function spacedLabels(points, minGap) {
  if (!points.length) return [];
  const last = points.length - 1;
  const shown = [0];
  if (last > 0) shown.push(last);
  const clear = (p) => shown.every((j) => Math.hypot(points[j].x - p.x, points[j].y - p.y) >= minGap);
  for (let i = 1; i < last; i++) if (clear(points[i])) shown.push(i);
  return shown.sort((a, b) => a - b);
}
