// The dispatcher console's layer of field staff positions: each officer's latest position (grey and dashed when
// older than ten minutes: stale), refreshed every ten seconds, and on request the officer's track of the day with
// its GPX export. Loaded by the console page after console.js; strings come from the page's catalogue.
(function () {
  "use strict";
  var NH = window.NH, el = NH.el, t = NH.t, map = window.nhMap;
  if (!map) { return; }
  var REFRESH_MS = 10000;
  var markers = L.layerGroup().addTo(map), trackLayer = L.layerGroup().addTo(map);
  var shown = true, list = null, count = null, trackOf = null;

  function icon(p) {
    var initial = (p.name || p.username || "?").slice(0, 1);
    return L.divIcon({className: "staff-icon" + (p.stale ? " stale" : ""), iconSize: [26, 26],
                      html: "<span>" + initial.replace(/[&<>"']/g, "") + "</span>"});
  }

  function ago(p) { return Math.round(p.age_minutes) + " " + t("minutes_ago"); }

  function draw(fc) {
    markers.clearLayers();
    list.replaceChildren();
    fc.features.forEach(function (f) {
      var p = f.properties, c = f.geometry.coordinates;
      var m = L.marker([c[1], c[0]], {icon: icon(p), keyboard: false, title: p.name + " · " + ago(p)}).addTo(markers);
      NH.tip(m, p.name + " · " + ago(p) + (p.stale ? " · " + t("stale") : ""));
      m.on("add", function () {
        var node = m.getElement();
        if (node) { node.dataset.user = p.username; node.dataset.lat = String(c[1]); node.dataset.lon = String(c[0]); }
      });
      var node = m.getElement();
      if (node) { node.dataset.user = p.username; node.dataset.lat = String(c[1]); node.dataset.lon = String(c[0]); }
      list.appendChild(el("li", {class: p.stale ? "stale" : "", "data-user": p.username},
        el("span", {text: p.name + " · " + ago(p) + (p.stale ? " · " + t("stale") : "")}), " ",
        el("button", {type: "button", text: t("show_track"), onclick: function () { showTrack(p.username); }}), " ",
        el("a", {href: "/api/v1/positions/track.gpx?user=" + encodeURIComponent(p.username), text: "GPX"})));
    });
    count.textContent = String(fc.features.length);
    document.body.dataset.staffPositions = JSON.stringify(fc.features.map(function (f) {
      return [f.properties.username, f.geometry.coordinates[0], f.geometry.coordinates[1], f.properties.stale]; }));
  }

  function showTrack(username) {
    trackOf = username;
    return NH.api("/api/v1/positions/track?user=" + encodeURIComponent(username)).then(function (fc) {
      trackLayer.clearLayers();
      L.geoJSON(fc, {style: {color: "#2471a3", weight: 3, opacity: 0.9},
                     pointToLayer: function (f, latlng) { return L.circleMarker(latlng, {radius: 3, color: "#2471a3", weight: 1}); }})
        .addTo(trackLayer);
      document.body.dataset.staffTrack = username + ":" + fc.features.filter(function (f) { return f.properties.feature === "position"; }).length;
    }).catch(function (err) { console.warn("track:", err.message); });
  }

  function reload() {
    if (!shown) { return Promise.resolve(); }
    return NH.api("/api/v1/positions/latest").then(function (fc) {
      draw(fc);
      if (trackOf) { return showTrack(trackOf); }
    }).catch(function (err) { console.warn("positions:", err.message); });
  }

  var Box = L.Control.extend({options: {position: "topleft"}, onAdd: function () {
    count = el("span", {class: "count", text: "0"});
    list = el("ul", {class: "staff-list"});
    var toggle = el("input", {type: "checkbox", checked: true, onchange: function () {
      shown = toggle.checked;
      if (shown) { markers.addTo(map); trackLayer.addTo(map); reload(); } else { markers.remove(); trackLayer.remove(); }
    }});
    var box = el("details", {class: "staff-box leaflet-bar", id: "staff-positions"},
      el("summary", {}, t("positions_layer") + " ", count),
      el("label", {}, toggle, " " + t("positions_layer")), list);
    L.DomEvent.disableClickPropagation(box);
    L.DomEvent.disableScrollPropagation(box);
    return box;
  }});
  new Box().addTo(map);
  reload();
  setInterval(function () { if (!document.hidden) { reload(); } }, REFRESH_MS);
  window.nhPositions = {reload: reload, showTrack: showTrack};
})();
