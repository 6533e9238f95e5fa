// Times on the analysts' pages, always in the force's display zone and always saying which.
//
// DISPLAY_TIME_ZONE (an IANA name, UTC unless set) is one zone for the whole force:
// two analysts comparing notes, or a report quoted in a file, read the same clock.
// Every time shown carries its zone ("28 Nov 2026, 14:05 CET"), and the times an
// analyst types (a custom range) are read in that zone too. Pure: no DOM.

const PARTS = {
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
};

function valid(iso) {
  const date = new Date(iso);
  return iso && !Number.isNaN(date.getTime()) ? date : null;
}

/** The zone's short name at that instant ("UTC", "CET", "GMT+2"). */
export function zoneName(zone, iso, locale) {
  const date = valid(iso) || new Date();
  const part = new Intl.DateTimeFormat(locale || "en-GB", { timeZone: zone, timeZoneName: "short" })
    .formatToParts(date)
    .find((p) => p.type === "timeZoneName");
  return part ? part.value : zone;
}

/** An instant as "28 Nov 2026, 14:05 CET" (`seconds`: with seconds). */
export function formatInstant(iso, zone, { locale, seconds = false } = {}) {
  const date = valid(iso);
  if (!date) return "unknown";
  return new Intl.DateTimeFormat(locale, {
    timeZone: zone,
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: seconds ? "2-digit" : undefined,
    hourCycle: "h23",
    timeZoneName: "short",
  }).format(date);
}

/** A chart axis label: the time of day, or the day for intervals of a day or more; the axis title names the zone. */
export function axisLabel(iso, interval, zone, locale) {
  const date = valid(iso);
  if (!date) return "";
  const options = /d$/.test(interval || "")
    ? { month: "short", day: "numeric" }
    : { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  return new Intl.DateTimeFormat(locale, { timeZone: zone, ...options }).format(date);
}

/** How far the zone's wall clock is ahead of UTC at epoch ms `ms`, in ms. */
export function zoneOffsetMs(ms, zone) {
  const parts = {};
  for (const p of new Intl.DateTimeFormat("en-US", { timeZone: zone, ...PARTS }).formatToParts(new Date(ms))) {
    parts[p.type] = p.value;
  }
  const wall = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour % 24, +parts.minute, +parts.second);
  return wall - Math.floor(ms / 1000) * 1000;
}

/** A wall-clock time typed in the zone ("2026-11-28T14:05", a datetime-local value) as an RFC 3339 instant. */
export function zonedToIso(value, zone) {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value || "");
  if (!match) return null;
  const [, y, mo, d, h, mi, s] = match;
  const wall = Date.UTC(+y, +mo - 1, +d, +h, +mi, +(s || 0));
  // The offset at the wall time read as UTC, then at the instant that gives (right across a DST change).
  let instant = wall - zoneOffsetMs(wall, zone);
  instant = wall - zoneOffsetMs(instant, zone);
  return new Date(instant).toISOString();
}

/** An instant as the zone's wall clock, in a datetime-local input's format ("2026-11-28T14:05"). */
export function isoToZoned(iso, zone) {
  const date = valid(iso);
  if (!date) return "";
  const local = new Date(date.getTime() + zoneOffsetMs(date.getTime(), zone));
  return local.toISOString().slice(0, 16);
}
