// Every map console: a layer switch that folds away (folded from the start on narrow screens), and the names
// of roads and places drawn from our own layers at the zooms where they can be read (no tiles needed).
(function () {
  "use strict";
  var NH = window.NH, map = window.nhMap, t = NH.t, el = NH.el;
  if (!map) { return; }
  var ROAD_ZOOM = 16, PLACE_ZOOM = 14;  // below these the names would cover the map
  var MAX_ROAD_LABELS = 60, MAX_PLACE_LABELS = 80, NARROW_PX = 700;

  // ---- the layer switch: a button folds its list away ---------------------------------------------------------
  function foldable() {
    var box = document.querySelector(".leaflet-control-layers");
    if (!box || box.querySelector(".nh-fold")) { return; }
    var button = el("button", {type: "button", class: "nh-fold", "aria-expanded": "true"});
    function set(open) {
      box.classList.toggle("nh-folded", !open);
      button.setAttribute("aria-expanded", open ? "true" : "false");
      button.textContent = open ? t("layers_hide") : t("layers_show");
      document.body.dataset.layersFolded = open ? "0" : "1";
    }
    button.addEventListener("click", function (e) {
      e.preventDefault(); e.stopPropagation();
      set(box.classList.contains("nh-folded"));
    });
    box.insertBefore(button, box.firstChild);
    L.DomEvent.disableClickPropagation(button);
    set(window.innerWidth >= NARROW_PX);
    var legend = document.querySelector("details.map-legend");
    if (legend && window.innerWidth < NARROW_PX) { legend.open = false; }
  }

  // ---- names of roads and places --------------------------------------------------------------------------------
  map.createPane("nhLabels");
  map.getPane("nhLabels").style.zIndex = 450;  // above the areas and roads, below markers and tooltips
  map.getPane("nhLabels").style.pointerEvents = "none";
  var labels = L.layerGroup().addTo(map);

  function label(latlng, text, kind, angle) {
    var span = el("span", {class: "nh-label nh-label-" + kind, text: text});
    if (angle) { span.style.transform = "translate(-50%, -50%) rotate(" + angle.toFixed(1) + "deg)"; }
    return L.marker(latlng, {icon: L.divIcon({className: "nh-label-anchor", html: span, iconSize: null}),
                             pane: "nhLabels", interactive: false, keyboard: false});
  }

  // the middle of a road piece and its direction on the screen, kept readable (never upside down)
  function middle(latlngs) {
    var pts = latlngs.map(function (ll) { return map.latLngToLayerPoint(ll); });
    var total = 0, i;
    for (i = 1; i < pts.length; i++) { total += pts[i].distanceTo(pts[i - 1]); }
    var half = total / 2, run = 0;
    for (i = 1; i < pts.length; i++) {
      var step = pts[i].distanceTo(pts[i - 1]);
      if (run + step >= half && step > 0) {
        var f = (half - run) / step;
        var at = L.point(pts[i - 1].x + f * (pts[i].x - pts[i - 1].x), pts[i - 1].y + f * (pts[i].y - pts[i - 1].y));
        var angle = Math.atan2(pts[i].y - pts[i - 1].y, pts[i].x - pts[i - 1].x) * 180 / Math.PI;
        if (angle > 90) { angle -= 180; } else if (angle < -90) { angle += 180; }
        return {latlng: map.layerPointToLatLng(at), angle: angle, length: total};
      }
      run += step;
    }
    return null;
  }

  function roadLabels(bounds, out) {
    var roads = window.nhLayers && window.nhLayers.roads;
    if (!roads || !map.hasLayer(roads) || map.getZoom() < ROAD_ZOOM) { return; }
    var best = {};  // per road name, its longest piece in view: one name per road and view
    roads.eachLayer(function (piece) {
      var name = piece.feature && piece.feature.properties && piece.feature.properties.name;
      if (!name || !piece.getBounds || !bounds.intersects(piece.getBounds())) { return; }
      var flat = piece.getLatLngs();
      if (flat.length && Array.isArray(flat[0])) { flat = flat[0]; }
      var inView = flat.filter(function (ll) { return bounds.contains(ll); });
      var m = middle(inView.length >= 2 ? inView : flat);
      if (m && m.length > 8 * name.length + 20 && (!best[name] || best[name].length < m.length)) { best[name] = m; }
    });
    Object.keys(best).slice(0, MAX_ROAD_LABELS).forEach(function (name) {
      out.push(label(best[name].latlng, name, "road", best[name].angle));
    });
  }

  function placeLabels(bounds, out) {
    var places = window.nhLayers && window.nhLayers.places;
    if (!places || !map.hasLayer(places) || map.getZoom() < PLACE_ZOOM) { return; }
    var n = 0;
    places.eachLayer(function (p) {
      var name = p.feature && p.feature.properties && p.feature.properties.name;
      if (!name || !p.getLatLng || n >= MAX_PLACE_LABELS || !bounds.contains(p.getLatLng())) { return; }
      n += 1;
      out.push(label(p.getLatLng(), name, "place", 0));
    });
  }

  var pending = null;
  function redraw() {
    pending = null;
    var bounds = map.getBounds(), out = [];
    roadLabels(bounds, out);
    placeLabels(bounds, out);
    labels.clearLayers();
    out.forEach(function (m) { labels.addLayer(m); });
    document.body.dataset.mapLabels = String(out.length);
  }
  function soon() { if (pending === null) { pending = setTimeout(redraw, 150); } }
  map.on("moveend zoomend overlayadd overlayremove", soon);
  // the basemap layers arrive after the page: draw the names once they are there
  var tries = 0;
  (function wait() {
    foldable();
    var ready = window.nhLayers && window.nhLayers.roads && window.nhLayers.roads.getLayers().length;
    if (ready || tries++ > 40) { soon(); } else { setTimeout(wait, 250); }
  })();
})();
