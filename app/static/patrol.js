// The patrol view (phone width): today's route of the signed-in officer (or their station), its stops with
// "visited", their own location, and "report a problem here" with a photo and a category (channel patrol).
(function () {
  "use strict";
  var NH = window.NH, el = NH.el, t = NH.t, ctx = NH.ctx, map = window.nhMap;
  var routeLayer = L.layerGroup().addTo(map);
  var me = null, here = null, categories = [];

  function today() { return ctx.today; }  // the town's day (Beijing), from the server: not the phone's clock

  function findRoute() {
    var mine = "/api/v1/patrols?date=" + today() + "&assignee=me";
    return NH.api(mine).then(function (fc) {
      if (fc.features.length || !ctx.user.station) { return fc; }
      return NH.api("/api/v1/patrols?date=" + today() + "&station=" + encodeURIComponent(ctx.user.station));
    });
  }

  function stopItem(route, f) {
    var p = f.properties;
    var done = !!p.visited_at;
    var button = el("button", {type: "button", "data-seq": p.seq, disabled: done, text: done ? t("visited") + " ✓" : t("mark_visited"),
      onclick: function () {
        NH.api("/api/v1/patrols/" + route + "/stops/" + p.seq + "/visited", {method: "POST", json: {}})
          .then(function () { button.textContent = t("visited") + " ✓"; button.disabled = true; })
          .catch(function (err) { button.after(NH.message(err.message, "error")); });
      }});
    return el("li", {}, el("strong", {text: String(p.seq) + ". "}), (p.label || p.name || p.kind || "") + " ", button);
  }

  function drawRoute(summary) {
    return NH.api("/api/v1/patrols/" + summary.id).then(function (fc) {
      routeLayer.clearLayers();
      var stops = fc.features.filter(function (f) { return f.properties.feature === "stop"; });
      L.geoJSON(fc, {
        style: {color: "#c0392b", weight: 4, opacity: 0.8},
        pointToLayer: function (f, latlng) {
          return L.marker(latlng, {icon: L.divIcon({className: "stop-icon", iconSize: [20, 20],
            html: "<span>" + Number(f.properties.seq) + "</span>"})});
        }
      }).addTo(routeLayer);
      if (routeLayer.getLayers().length) { map.fitBounds(L.geoJSON(fc).getBounds(), {padding: [20, 20]}); }
      document.body.dataset.patrolStops = String(stops.length);
      return el("div", {class: "route"},
        el("p", {text: (fc.station_name || fc.station_code) + " · " + (fc.length_m / 1000).toFixed(1) + " " + t("km") +
                       " · " + Math.round(fc.duration_s / 60) + " " + t("minutes")}),
        el("p", {}, el("a", {href: "/api/v1/patrols/" + summary.id + ".gpx", text: "GPX"}), " · ",
                    el("a", {href: "/api/v1/patrols/" + summary.id + ".geojson", text: "GeoJSON"})),
        el("h4", {text: t("stops")}), el("ul", {class: "stops"}, stops.map(function (f) { return stopItem(summary.id, f); })));
    });
  }

  function reportForm() {
    var form = el("form", {id: "patrol-report"},
      el("h4", {text: t("report_here")}),
      el("label", {}, t("category"), el("select", {name: "category", required: true}, categories.map(function (c) {
        return el("option", {value: c.code, text: c.code + " " + (ctx.lang === "zh" ? c.name : c.name_en)}); }))),
      el("label", {}, t("description"), el("textarea", {name: "description", rows: 2, maxlength: 4000, required: true})),
      el("label", {}, t("photo"), el("input", {type: "file", name: "photos", accept: "image/*", capture: "environment"})),
      el("button", {type: "submit", text: t("submit")}));
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var data = new FormData(form);
      var at = here || map.getCenter();
      var body = new FormData();
      body.append("report", JSON.stringify({channel: "patrol", category: data.get("category"),
        description: data.get("description"), lon: Number(at.lng.toFixed(7)), lat: Number(at.lat.toFixed(7))}));
      var file = data.get("photos");
      if (file && file.size) { body.append("photos", file, file.name); }
      fetch("/api/v1/reports", {method: "POST", body: body, credentials: "same-origin",
                                headers: {"X-CSRFToken": ctx.csrf, "Accept": "application/json"}})
        .then(function (r) { return r.json().then(function (j) { if (!r.ok) { throw new Error(j.message); } return j; }); })
        .then(function (answer) {
          form.reset();
          form.appendChild(NH.message(t("sent") + " #" + answer.case_id));
          document.body.dataset.patrolReport = String(answer.report_id);
        })
        .catch(function (err) { form.appendChild(NH.message(err.message, "error")); });
    });
    return form;
  }

  function locate() {
    if (!navigator.geolocation) { return; }
    navigator.geolocation.watchPosition(function (pos) {
      here = L.latLng(pos.coords.latitude, pos.coords.longitude);
      if (!me) { me = L.circleMarker(here, {radius: 7, color: "#2980b9", fillOpacity: 1}).addTo(map).bindTooltip(t("my_location")); }
      else { me.setLatLng(here); }
      document.body.dataset.located = "1";
    }, function (err) { console.warn("no location:", err.message); }, {enableHighAccuracy: true});
  }

  var panel = el("div", {class: "patrol"}, el("h3", {text: t("route_today")}), el("div", {id: "route-box", text: t("loading")}));
  NH.show(panel);
  Promise.all([findRoute(), NH.api("/api/v1/categories")]).then(function (answers) {
    categories = answers[1].categories;
    var routes = answers[0].features;
    var box = document.getElementById("route-box");
    panel.appendChild(reportForm());
    if (!routes.length) { box.replaceChildren(el("p", {text: t("no_route")})); document.body.dataset.patrolStops = "0"; return; }
    return drawRoute(routes[0].properties).then(function (node) { box.replaceChildren(node); });
  }).catch(function (err) { document.getElementById("route-box").replaceChildren(NH.message(err.message, "error")); });
  locate();
})();
