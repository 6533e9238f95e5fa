// The officers' page's calls to the REST API: reading pages of JSON, sending a change to an alert, and
// telling a signed-out session (401/403, or a redirect to the sign-in page) from any other failure.

export const LOGIN_URL = "/accounts/login/";

/** The session has ended: the page stops its feed and offers to sign in again. */
export class SignedOutError extends Error {}

export function alertsUrl(base, params) {
  return base + "?" + new URLSearchParams(params).toString();
}

/**
 * DRF builds `next` as an absolute URL from the Host header; behind a TLS proxy
 * it can say http://. Keep only path and query and stay on this origin.
 */
export function sameOriginPath(next) {
  if (!next) return null;
  const url = new URL(next, window.location.href);
  return url.pathname + url.search;
}

export async function getJson(url) {
  const response = await fetch(url, {
    credentials: "same-origin",
    headers: { Accept: "application/json" },
  });
  const toLogin = response.redirected && new URL(response.url).pathname.startsWith(LOGIN_URL);
  if (response.status === 401 || response.status === 403 || toLogin) throw new SignedOutError();
  if (!response.ok) throw new Error("HTTP " + response.status + " for " + url);
  return { body: await response.json(), date: response.headers.get("Date") };
}

/** Every row of a paged list, following `next` to the end. */
export async function getAllResults(url) {
  const rows = [];
  let next = url;
  while (next) {
    const { body } = await getJson(next);
    rows.push(...(body.results || []));
    next = sameOriginPath(body.next);
  }
  return rows;
}

/** PATCH `change` to `url`: {ok, status, body} (body null when not JSON); rejects when the server is unreachable. */
export async function patchJson(url, change) {
  const response = await fetch(url, {
    method: "PATCH",
    credentials: "same-origin",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/json",
      "X-CSRFToken": window.PeaceWatchDom.csrfToken(),
    },
    body: JSON.stringify(change),
  });
  const body = await response.json().catch(() => null);
  return { ok: response.ok, status: response.status, body };
}
