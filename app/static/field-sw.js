// The field app's service worker (scope /field): the app shell and the basemap layers are cached when it installs,
// and every read the app makes (the day's route, stops and tasks, photos, layers) is answered from the network
// when there is one and from the cache when there is none. Writes are not touched: the page's outbox keeps them.
"use strict";
var CACHE = "nh-field-v2";
var SHELL = [
  "/field", "/static/nh.js", "/static/field.js", "/static/field.css", "/static/favicon.svg", "/field/manifest.webmanifest",
  "/vendor/leaflet/dist/leaflet.js", "/vendor/leaflet/dist/leaflet.css", "/vendor/dexie/dist/dexie.min.js",
  "/vendor/leaflet/dist/images/layers.png", "/vendor/leaflet/dist/images/layers-2x.png"
];
var LAYERS = ["/api/v1/categories", "/api/v1/layers/town", "/api/v1/basemap/water", "/api/v1/layers/roads", "/api/v1/layers/communities",
              "/api/v1/layers/workstations", "/api/v1/layers/stations", "/api/v1/basemap/places"];
var READS = [/^\/field(\/.*)?$/, /^\/static\//, /^\/vendor\//, /^\/api\/v1\/(layers|basemap)\//, /^\/api\/v1\/field\/day/,
             /^\/api\/v1\/categories$/, /^\/api\/v1\/cases\/\d+(\/evidence)?$/, /^\/api\/v1\/attachments\/\d+$/,
             /^\/api\/v1\/case-photos\/\d+$/, /^\/api\/v1\/patrols/];

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    // one by one: a layer that fails (signed out) must not keep the shell out of the cache
    return Promise.all(SHELL.concat(LAYERS).map(function (url) {
      return fetch(url, {credentials: "same-origin"}).then(function (r) { if (r.ok) { return cache.put(url, r); } })
        .catch(function () { return null; });
    }));
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k !== CACHE; }).map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

function cacheable(url) {
  return url.origin === self.location.origin && READS.some(function (re) { return re.test(url.pathname); });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  if (!cacheable(url)) { return; }
  event.respondWith(fetch(request).then(function (response) {
    if (response.ok && !response.redirected) {
      var copy = response.clone();
      caches.open(CACHE).then(function (cache) { return cache.put(request, copy); });
    }
    return response;
  }).catch(function () {
    return caches.open(CACHE).then(function (cache) {
      return cache.match(request).then(function (hit) {
        return hit || cache.match(request, {ignoreSearch: true}).then(function (loose) {
          return loose || new Response(JSON.stringify({error: "offline", message: "offline"}),
                                       {status: 503, headers: {"Content-Type": "application/json"}});
        });
      });
    });
  }));
});
