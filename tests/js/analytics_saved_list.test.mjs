// The saved-queries list pages through the API on the page's own origin and names other analysts' entries.
import assert from "node:assert/strict";
import { test } from "node:test";

import { localPath, ownerName, savedPage } from "../../static/js/analytics_saved_list.js";

const PAGE = "https://peacewatch.example/analytics/";

test("an API link becomes a path on the page's own origin, its query kept", () => {
  assert.equal(localPath("http://backend:8000/api/v1/saved-queries/?page=2", PAGE), "/api/v1/saved-queries/?page=2");
  assert.equal(localPath("/api/v1/saved-queries/7/", PAGE), "/api/v1/saved-queries/7/");
  assert.equal(localPath(null, PAGE), null);
});

test("a page of saved queries keeps where it came from and where the next and previous pages are", () => {
  const page = savedPage(
    { next: "http://backend:8000/api/v1/saved-queries/?page=3", previous: null, results: [{ id: 1, name: "Night shift" }] },
    "/api/v1/saved-queries/?page=2",
    PAGE
  );
  assert.deepEqual(page, {
    url: "/api/v1/saved-queries/?page=2",
    next: "/api/v1/saved-queries/?page=3",
    previous: null,
    items: [{ id: 1, name: "Night shift" }],
  });
  assert.deepEqual(savedPage({}, "/api/v1/saved-queries/", PAGE).items, []);
});

test("another analyst's entry is named by username, name or id, whatever the API sends", () => {
  assert.equal(ownerName({ id: 4, username: "kim" }), "kim");
  assert.equal(ownerName({ id: 4, name: "Kim Lee" }), "Kim Lee");
  assert.equal(ownerName({ id: 4 }), "4");
  assert.equal(ownerName(4), "4");
  assert.equal(ownerName(null), "someone");
});
