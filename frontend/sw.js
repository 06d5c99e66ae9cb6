// The service worker: the app shell, precached per version, so SCC Payments opens (and logs
// payments into its outbox) without a connection. It follows the shape of Workbox's precaching
// (workbox-precaching: one list of URLs with one revision, a cache per revision, install fills
// the new cache completely before the version can take over, activate deletes the caches of
// older versions, the app shell's index.html answers navigations) in a few lines instead of
// the library.
//
//   * VERSION: "dev" here; whoever serves this file (the local gateway, make deploy-frontend;
//     devstack/shell_version.py) fills in a hash of the app's files, so every change to the
//     app is a new version. The browser installs a new version when this file's bytes
//     change; a new VERSION means a new cache, filled
//     whole from the network (bypassing the HTTP cache) before the version may activate. If
//     any file fails, the install fails and the old version stays in charge, complete.
//   * The new version waits until the page asks it to take over (pwa.js: at once when no
//     dialog is open), and the page then reloads: HTML and modules always come from one
//     version's cache, never a mix.
//   * Precached files are served from the cache (cache first), navigations to the app get
//     the cached index.html. Nothing else is touched: /api/* and every other request go to
//     the network as if there were no worker (never cached).
//   * Every cached response carries `X-SCC-Shell: <VERSION>`, so anyone can see which
//     version's cache served it.

const VERSION = "dev";
const CACHE_PREFIX = "scc-shell-";
const CACHE = `${CACHE_PREFIX}${VERSION}`;
const SHELL = [
  "index.html",
  "app.css",
  "app.js",
  "api.js",
  "auth.js",
  "dom.js",
  "ids.js",
  "money.js",
  "people.js",
  "session.js",
  "closeout.js",
  "export.js",
  "idb.js",
  "outbox.js",
  "sync.js",
  "pwa.js",
  "manifest.webmanifest",
  "icons/icon.svg",
  "icons/icon-192.png",
  "icons/icon-512.png",
];

const SCOPE = new URL("./", self.location.href);
const INDEX = new URL("index.html", SCOPE).href;
const SHELL_URLS = new Set(SHELL.map((path) => new URL(path, SCOPE).href));

async function fetchForCache(url) {
  const response = await fetch(new Request(url, { cache: "reload", credentials: "same-origin" }));
  if (!response.ok || response.redirected) {
    throw new Error(`precaching ${url} failed: ${response.status}${response.redirected ? " (redirected)" : ""}`);
  }
  const headers = new Headers(response.headers);
  headers.set("X-SCC-Shell", VERSION);
  // A fresh response (not "redirected", own headers), as Workbox stores them too.
  return new Response(await response.blob(), { status: response.status, statusText: response.statusText, headers });
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      // Everything is fetched first; only a complete set is written to the new cache.
      const urls = [...SHELL_URLS];
      const responses = await Promise.all(urls.map(fetchForCache));
      const cache = await caches.open(CACHE);
      await Promise.all(urls.map((url, index) => cache.put(url, responses[index])));
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      const names = await caches.keys();
      await Promise.all(
        names.filter((name) => name.startsWith(CACHE_PREFIX) && name !== CACHE).map((name) => caches.delete(name)),
      );
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("message", (event) => {
  const type = event.data && event.data.type;
  if (type === "SKIP_WAITING") self.skipWaiting();
  else if (type === "VERSION" && event.source) event.source.postMessage({ type: "VERSION", version: VERSION, cache: CACHE });
});

async function fromCache(key, request) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(key);
  // Missing only if the browser evicted it: the network, as without a worker.
  return cached || fetch(request);
}

self.addEventListener("fetch", (event) => {
  const { request } = event;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== SCOPE.origin) return;
  let key = null;
  if (request.mode === "navigate") {
    if (url.pathname === SCOPE.pathname || url.href.split(/[?#]/)[0] === INDEX) key = INDEX;
  } else if (!url.search) {
    const bare = url.href.split("#")[0];
    if (SHELL_URLS.has(bare)) key = bare;
  }
  if (key) event.respondWith(fromCache(key, request));
  // Anything else (the API above all) is not handled here: straight to the network.
});
