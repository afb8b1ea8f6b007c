// The gate's service worker (scope /gate): keeps the scanner page and its assets so that a gate
// with no network still opens its page. The server prefixes this file with `const KEEP = [...]`,
// the hashed addresses of the current assets; a release with new assets is a new worker, which
// replaces the old copies. The page keeps its own data (configuration, queued check-ins) in
// IndexedDB; nothing here stores a decision or a check-in.
"use strict";

// Named after the assets' content hashes (`/assets/gate.<hash>.js`).
const CACHE = "healthcode-gate-" + KEEP.map((p) => p.split(".")[1]).join("-");
const PAGE = "/gate";
/// How long a navigation waits for the network before the kept page is shown.
const NETWORK_WAIT_MS = 3000;

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      await cache.addAll(KEEP);
      const page = await fetch(PAGE, { credentials: "same-origin", cache: "no-store" });
      if (page.ok) await cache.put(PAGE, page);
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith("healthcode-gate-") && name !== CACHE) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

function withTimeout(promise, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("timeout")), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

async function page(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await withTimeout(fetch(request), NETWORK_WAIT_MS);
    if (response.ok) await cache.put(PAGE, response.clone());
    return response;
  } catch (e) {
    const kept = await cache.match(PAGE);
    if (kept) return kept;
    throw e;
  }
}

async function asset(request) {
  const cache = await caches.open(CACHE);
  const kept = await cache.match(request);
  if (kept) return kept;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (url.origin !== self.location.origin || event.request.method !== "GET") return;
  if (event.request.mode === "navigate" && url.pathname === PAGE) {
    event.respondWith(page(event.request));
  } else if (KEEP.includes(url.pathname)) {
    event.respondWith(asset(event.request));
  }
});
