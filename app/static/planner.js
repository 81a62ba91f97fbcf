// The planner console: edit station coverage with Leaflet-Geoman (snapping to neighbours and, when shown,
// to grid cells), add an "X" station (a point and a territory carved out of the others), check the proposal
// (validation and impact) before saving it as a new boundary version, and compare versions on the map.
(function () {
  "use strict";
  var NH = window.NH, el = NH.el, t = NH.t, ctx = NH.ctx, map = window.nhMap;
  var editable = L.featureGroup().addTo(map);   // one layer per station territory, properties kept on the layer
  var stationsNew = [];                           // {code, name, lon, lat, parent_code}
  var openDraft = null;                           // the draft (from the siting tool) being edited, if any
  var baseVersion = null;                         // the boundary version the territories on screen come from
  var compare = L.layerGroup().addTo(map);
  var result = L.layerGroup().addTo(map);
  var COLOURS = ["#8e44ad", "#2980b9", "#27ae60", "#d35400", "#c0392b", "#16a085", "#f39c12", "#2c3e50"];

  map.pm.setGlobalOptions({snappable: true, snapDistance: 15, allowSelfIntersection: false});
  map.pm.addControls({position: "topleft", drawMarker: false, drawCircleMarker: false, drawPolyline: false,
    drawRectangle: false, drawCircle: false, drawText: false, cutPolygon: false, rotateMode: false,
    dragMode: false, drawPolygon: false, removalMode: false, editMode: true});
  // the coverage layer of the page is replaced by the editable one
  if (window.nhLayers.station_coverage) { map.removeLayer(window.nhLayers.station_coverage); }

  function style(code, i, carve) {
    return {color: COLOURS[i % COLOURS.length], weight: carve ? 3 : 2, fillOpacity: 0.12, dashArray: carve ? "6 4" : null};
  }

  function loadCoverage() {
    return NH.api("/api/v1/layers/station_coverage").then(function (fc) {
      editable.clearLayers();
      baseVersion = fc.features.length ? fc.features[0].properties.version : null;
      fc.features.forEach(function (f, i) {
        L.geoJSON(f, {style: style(f.properties.station_code, i)}).eachLayer(function (layer) {
          layer.nh = {station_code: f.properties.station_code, name: f.properties.name, carve: false};
          NH.tip(layer, f.properties.name + " (" + f.properties.station_code + ")", {sticky: true});
          editable.addLayer(layer);
        });
      });
      document.body.dataset.coverageLoaded = String(fc.features.length);
    });
  }

  function proposal() {
    return {
      coverage: {type: "FeatureCollection", features: editable.getLayers().map(function (layer) {
        var f = layer.toGeoJSON(15);
        f.properties = {station_code: layer.nh.station_code, carve: !!layer.nh.carve};
        return f;
      })},
      new_stations: stationsNew
    };
  }

  // ---- adding an X station -----------------------------------------------------------------
  function addStationForm() {
    var form = el("form", {id: "new-station"},
      el("h4", {text: t("new_station")}),
      el("label", {}, t("code"), el("input", {name: "code", required: true, placeholder: "JS-004", pattern: "[A-Z]{1,3}-[0-9A-Z]{1,6}"})),
      el("label", {}, t("name"), el("input", {name: "name", required: true, maxlength: 80})),
      el("p", {class: "hint", text: t("place_point")}),
      el("button", {type: "submit", text: t("next")}));
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var data = new FormData(form);
      var code = String(data.get("code")).trim(), name = String(data.get("name")).trim();
      form.replaceChildren(el("p", {class: "hint", id: "planner-step", text: t("place_point")}));
      map.getContainer().style.cursor = "crosshair";
      map.once("click", function (ev) {
        map.getContainer().style.cursor = "";
        var point = L.circleMarker(ev.latlng, {radius: 7, color: "#c0392b", fillOpacity: 1, pmIgnore: true}).addTo(result);
        NH.tip(point, name);
        stationsNew.push({code: code, name: name, lon: ev.latlng.lng, lat: ev.latlng.lat, parent_code: "TC"});
        form.replaceChildren(el("p", {class: "hint", id: "planner-step", text: t("draw_territory")}));
        map.pm.enableDraw("Polygon", {snappable: true, finishOn: "dblclick"});
        map.once("pm:create", function (created) {
          var layer = created.layer;
          map.removeLayer(layer);
          layer.setStyle(style(code, editable.getLayers().length, true));
          layer.nh = {station_code: code, name: name, carve: true};
          NH.tip(layer, name + " (" + code + ")", {sticky: true});
          editable.addLayer(layer);
          form.replaceChildren(NH.message(t("territory_drawn")));
          document.body.dataset.territoryDrawn = code;
        });
      });
    });
    return form;
  }

  // ---- checking and saving -------------------------------------------------------------------
  // A problem in the page's language (the server gives both), naming the station or the field.
  function problemText(p) { return ctx.lang === "zh" ? (p.message_zh || p.message_en) : p.message_en; }
  function errorText(err) {
    var b = err.body || {};
    return (ctx.lang === "zh" && b.message_zh) || err.message;
  }

  function impactTable(body) {
    var flows = el("table", {id: "impact-flows"}, el("tr", {}, el("th", {text: t("from")}), el("th", {text: t("to")}),
      el("th", {text: t("open_cases")}), el("th", {text: t("past_90")})),
      body.flows.map(function (f) {
        return el("tr", {}, el("td", {text: f.from}), el("td", {text: f.to}), el("td", {text: String(f.open)}),
                  el("td", {text: String(f.past_90_days)}));
      }));
    var stations = el("table", {id: "impact-stations"}, el("tr", {}, el("th", {text: t("station")}),
      el("th", {text: t("area_km2")}), el("th", {text: t("open_cases")}), el("th", {text: t("past_90")})),
      body.stations.map(function (s) {
        return el("tr", {}, el("td", {text: s.name}),
          el("td", {text: s.area_km2_before + " → " + s.area_km2_after}),
          el("td", {text: s.open_before + " → " + s.open_after}),
          el("td", {text: s.past_90_days_before + " → " + s.past_90_days_after}));
      }));
    return el("div", {class: "impact"}, el("h4", {text: t("impact")}), flows, stations);
  }

  function check() {
    var out = document.getElementById("planner-result");
    out.replaceChildren(el("p", {text: t("loading")}));
    return NH.api("/api/v1/planning/coverage/preview", {method: "POST", json: proposal()}).then(function (body) {
      result.eachLayer(function (l) { if (!(l instanceof L.CircleMarker)) { result.removeLayer(l); } });
      L.geoJSON(body.coverage, {style: {color: "#000", weight: 1, fill: false, dashArray: "2 3"}, pmIgnore: true}).addTo(result);
      NH.put(out,
        NH.message(body.valid ? t("valid") : t("invalid"), body.valid ? "" : "error"),
        body.errors.length ? el("ul", {class: "errors"}, body.problems.filter(function (p) {
          return p.severity === "error"; }).map(function (p) { return el("li", {text: problemText(p)}); })) : null,
        body.warnings.length ? el("div", {}, el("h4", {text: t("gaps")}),
          el("ul", {}, body.problems.filter(function (p) { return p.severity === "warning"; })
            .map(function (p) { return el("li", {text: problemText(p)}); }))) : null,
        impactTable(body), body.valid ? saveForm() : null);
      document.body.dataset.previewValid = String(body.valid);
    }).catch(function (err) { out.replaceChildren(NH.message(errorText(err), "error")); });
  }

  function saveForm() {
    var form = el("form", {id: "save-version"},
      el("label", {}, t("reason"), el("textarea", {name: "reason", required: true, rows: 2, maxlength: 500})),
      el("label", {class: "check"}, el("input", {type: "radio", name: "reassign", value: "move", checked: true}), t("move_open")),
      el("label", {class: "check"}, el("input", {type: "radio", name: "reassign", value: "keep"}), t("keep_open")),
      el("button", {type: "submit", text: t("save_version")}));
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var data = new FormData(form), body = proposal();
      body.reason = data.get("reason");
      body.reassign = data.get("reassign");
      body.base_version = baseVersion;
      NH.api("/api/v1/planning/coverage", {method: "POST", json: body}).then(function (answer) {
        if (openDraft) {  // the draft is now a boundary version
          NH.api("/api/v1/planning/drafts/" + openDraft, {method: "PUT", json: {status: "saved",
            saved_version_id: answer.boundary_version, proposal: proposal()}}).catch(function (err) {
            console.warn("draft not marked saved:", err.message); });
          openDraft = null;
        }
        stationsNew = [];
        result.clearLayers();
        form.replaceChildren(NH.message(t("saved") + " " + answer.boundary_version +
          (answer.reassigned ? " · " + t("moved") + " " + answer.reassigned.moved : "")));
        document.body.dataset.savedVersion = String(answer.boundary_version);
        loadCoverage();
        versions();
      }).catch(function (err) {
        form.appendChild(NH.message(errorText(err), "error"));
        if (err.status === 409) { document.body.dataset.saveConflict = String(err.body.current_version); }
      });
    });
    return form;
  }

  // ---- drafts proposed by the siting tool -------------------------------------------------------
  function drafts() {
    var box = document.getElementById("planner-drafts");
    return NH.api("/api/v1/planning/drafts?status=draft").then(function (body) {
      box.replaceChildren(el("h4", {text: t("drafts")}), body.drafts.length ? el("ul", {}, body.drafts.map(function (d) {
        return el("li", {}, el("button", {type: "button", "data-draft": d.id, onclick: function () { loadDraft(d.id); },
          text: t("open_draft") + " #" + d.id}), " " + d.title);
      })) : el("p", {class: "hint", text: t("no_drafts")}));
    }).catch(function (err) { box.replaceChildren(NH.message(err.message, "error")); });
  }

  function loadDraft(id) {
    return NH.api("/api/v1/planning/drafts/" + id).then(function (d) {
      var p = d.proposal || {};
      editable.clearLayers();
      result.clearLayers();
      (p.coverage.features || []).forEach(function (f, i) {
        var code = f.properties.station_code;
        L.geoJSON(f, {style: style(code, i, !!f.properties.carve)}).eachLayer(function (layer) {
          layer.nh = {station_code: code, name: f.properties.name || code, carve: !!f.properties.carve};
          NH.tip(layer, (f.properties.name || code) + " (" + code + ")", {sticky: true});
          editable.addLayer(layer);
        });
      });
      stationsNew = (p.new_stations || []).slice();
      stationsNew.forEach(function (st) {
        NH.tip(L.circleMarker([st.lat, st.lon], {radius: 7, color: "#c0392b", fillOpacity: 1, pmIgnore: true}),
          st.name).addTo(result);
      });
      openDraft = id;
      document.getElementById("planner-step-box").replaceChildren(NH.message(t("draft_opened") + " #" + id + " " + d.title));
      document.body.dataset.draftOpened = String(id);
      document.body.dataset.coverageLoaded = String(editable.getLayers().length);
    }).catch(function (err) { document.getElementById("planner-step-box").replaceChildren(NH.message(err.message, "error")); });
  }

  // ---- versions --------------------------------------------------------------------------------
  function versions() {
    var box = document.getElementById("planner-versions");
    return NH.api("/api/v1/boundaries/versions").then(function (body) {
      box.replaceChildren(el("h4", {text: t("versions")}), el("ul", {}, body.versions.map(function (v, i) {
        return el("li", {}, el("button", {type: "button", onclick: function () { showVersion(v.id); },
          text: "#" + v.id}), " " + NH.when(v.created_at) + " · " + v.reason + " ",
          i > 0 ? el("button", {type: "button", class: "restore", "data-restore": v.id,
            onclick: function (e) { restoreForm(e.target.parentNode, v.id, body.versions[0].id); },
            text: t("restore")}) : null);
      })));
    });
  }

  // A new version with the coverage of an earlier one: the planner's way back from a bad edit.
  function restoreForm(li, id, current) {
    var form = el("form", {class: "restore-form"},
      el("label", {}, t("reason"), el("textarea", {name: "reason", required: true, rows: 2, maxlength: 500})),
      el("button", {type: "submit", text: t("restore") + " #" + id}));
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      NH.api("/api/v1/planning/versions/" + id + "/restore", {method: "POST",
        json: {reason: new FormData(form).get("reason"), base_version: current, reassign: "move"}})
        .then(function (answer) {
          form.replaceChildren(NH.message(t("saved") + " " + answer.boundary_version));
          document.body.dataset.savedVersion = String(answer.boundary_version);
          loadCoverage();
          versions();
        }).catch(function (err) { form.appendChild(NH.message(errorText(err), "error")); });
    });
    li.appendChild(form);
  }

  function showVersion(id) {
    compare.clearLayers();
    NH.api("/api/v1/layers/station_coverage?version=" + id).then(function (fc) {
      L.geoJSON(fc, {style: {color: "#e67e22", weight: 3, fill: false, dashArray: "8 6"}, pmIgnore: true,
        onEachFeature: function (f, layer) { NH.tip(layer, "#" + id + " " + f.properties.name); }}).addTo(compare);
    });
  }

  NH.show(el("div", {class: "planner"},
    el("h3", {text: t("planning")}),
    el("p", {class: "hint", text: t("planner_help")}),
    el("button", {type: "button", id: "add-station", onclick: function () {
      document.getElementById("planner-step-box").replaceChildren(addStationForm()); }, text: t("new_station")}),
    el("button", {type: "button", id: "check-proposal", onclick: check, text: t("check")}),
    el("button", {type: "button", onclick: function () { stationsNew = []; result.clearLayers(); loadCoverage(); },
                  text: t("reset")}),
    el("div", {id: "planner-step-box"}),
    el("div", {id: "planner-result"}),
    el("div", {id: "planner-drafts"}),
    el("div", {id: "planner-versions"})));
  loadCoverage();
  drafts();
  versions();
})();
