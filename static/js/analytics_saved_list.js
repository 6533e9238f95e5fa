// The saved-queries list on the analysts' page, without the DOM: one page of it as the API
// returns it, and who owns an entry shared by someone else.

/** An API link as a same-origin path: the page asks its own origin, whatever host the API named. */
export function localPath(url, base) {
  if (!url) return null;
  const parsed = new URL(url, base);
  return parsed.pathname + parsed.search;
}

/** One page of saved queries (a paginated API answer), fetched from `url`. */
export function savedPage(page, url, base) {
  return {
    url,
    next: localPath(page.next, base),
    previous: localPath(page.previous, base),
    items: page.results || [],
  };
}

/** The owner's name, whether the API sends a user object or an id. */
export function ownerName(owner) {
  if (owner && typeof owner === "object") return owner.username || owner.name || String(owner.id || "");
  return String(owner ?? "someone");
}
