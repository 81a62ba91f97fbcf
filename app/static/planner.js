// The planner console: edit station coverage with Leaflet-Geoman (only the coverage layer is editable; it snaps
// to the neighbours), add an "X" station (a point and a territory carved out of the others), paint territories
// by grid cells, check the proposal (problems drawn on the map, impact) before saving it as a new boundary
// version, and compare any two versions on the map (the cells that change station).
(function () {
  "use strict";
  var NH = window.NH, el = NH.el, t = NH.t, ctx = NH.ctx, map = window.nhMap;
  // Geoman opt-in: only layers made with pmIgnore: false (the coverage below, drawn territories) get vertex
  // handles, snap targets or edit mode; roads, the lake, communities and grid cells are never Geoman's.
  L.PM.setOptIn(true);
  var editable = L.featureGroup().addTo(map);   // one layer per station territory, properties kept on the layer
  var stationsNew = [];                           // {code, name, lon, lat, parent_code}
  var openDraft = null;                           // the draft (siting tool or saved here) being edited, if any
  var openDraftTitle = null;
  var baseVersion = null;                         // the boundary version the territories on screen come from
  var compare = L.layerGroup().addTo(map);
  var result = L.layerGroup().addTo(map);
  var problemsLayer = L.layerGroup().addTo(map);
  var changesLayer = L.layerGroup().addTo(map);    // the cells a checked proposal moves
  var COLOURS = ["#8e44ad", "#2980b9", "#27ae60", "#d35400", "#16a085", "#f39c12", "#2c3e50", "#7f8c8d"];
  var colours = {};                               // station code -> colour, stable for the page
  var names = {};                                 // station code -> name
  function colourOf(code) {
    if (!(code in colours)) { colours[code] = COLOURS[Object.keys(colours).length % COLOURS.length]; }
    return colours[code];
  }

  map.pm.setGlobalOptions({snappable: true, snapDistance: 15, allowSelfIntersection: false});
  map.pm.addControls({position: "topleft", drawMarker: false, drawCircleMarker: false, drawPolyline: false,
    drawRectangle: false, drawCircle: false, drawText: false, cutPolygon: false, rotateMode: false,
    dragMode: false, drawPolygon: false, removalMode: false, editMode: true});
  // the coverage layer of the page is replaced by the editable one
  if (window.nhLayers.station_coverage) { map.removeLayer(window.nhLayers.station_coverage); }

  function style(code, i, carve) {
    return {color: colourOf(code), weight: carve ? 3 : 2, fillOpacity: 0.12, dashArray: carve ? "6 4" : null,
            pmIgnore: false};
  }

  // A self-crossing vertex is refused by Geoman: say so instead of dropping it without a word.
  function refuseCrossing(layer) {
    layer.on("pm:intersect", function () {
      document.getElementById("planner-step-box").replaceChildren(NH.message(t("self_intersection"), "error"));
      document.body.dataset.selfIntersection = "1";
    });
  }
  map.on("pm:drawstart", function (e) { if (e.workingLayer) { refuseCrossing(e.workingLayer); } });
  map.on("pm:globaleditmodetoggled", function (e) { document.body.dataset.editMode = String(e.enabled); });

  function loadCoverage() {
    // 9 decimals (0.1 mm): rounded to 6, vertices carving keeps a centimetre apart could make a ring cross itself
    return NH.api("/api/v1/layers/station_coverage?precision=9").then(function (fc) {
      editable.clearLayers();
      baseVersion = fc.features.length ? fc.features[0].properties.version : null;
      fc.features.forEach(function (f) {
        names[f.properties.station_code] = f.properties.name;
        addTerritory(f, {station_code: f.properties.station_code, name: f.properties.name, carve: false});
      });
      document.body.dataset.coverageLoaded = String(fc.features.length);
      stationChoices();
      resetHistory();
    });
  }

  // A station's territory on the editable layer (only these are Geoman's), its edits recorded for undo and
  // its shared vertices kept shared with the neighbours (a topology, not loose polygons).
  function attach(layer, nh) {
    layer.nh = nh;
    NH.tip(layer, (nh.name || nh.station_code) + " (" + nh.station_code + ")", {sticky: true});
    refuseCrossing(layer);
    layer.on("pm:edit", record);
    layer.on("pm:markerdragstart", function (e) { layer.nhShared = sharing(layer, e.markerEvent.target.getLatLng()); });
    layer.on("pm:markerdragend", function (e) {
      var moved = layer.nhShared || [];
      layer.nhShared = null;
      if (e.intersectionReset || !moved.length) { return; }
      var to = e.markerEvent.target.getLatLng();
      moved.forEach(function (s) { s.ring[s.index] = L.latLng(to.lat, to.lng); });
      refresh(moved);
    });
    layer.on("pm:vertexadded", function (e) { shareAdded(layer, e.indexPath, e.latlng); });
    layer.on("pm:vertexremoved", function (e) { shareRemoved(layer, e.marker.getLatLng()); });
    editable.addLayer(layer);
  }

  // ---- shared edges: a vertex the neighbours share moves, appears or goes for all of them ----------------
  function same(a, b) { return Math.abs(a.lat - b.lat) < 1e-9 && Math.abs(a.lng - b.lng) < 1e-9; }
  function rings(layer) {
    var out = [];
    (function walk(a) { if (a.length && a[0] instanceof L.LatLng) { out.push(a); } else { a.forEach(walk); } })(layer.getLatLngs());
    return out;
  }
  // The vertices of the other territories at `at`: [{layer, ring, index}].
  function sharing(layer, at) {
    var found = [];
    editable.eachLayer(function (other) {
      if (other === layer) { return; }
      rings(other).forEach(function (ring) {
        ring.forEach(function (p, i) { if (same(p, at)) { found.push({layer: other, ring: ring, index: i}); } });
      });
    });
    return found;
  }
  // Redraw the changed neighbours (new vertex handles when they are being edited), then fix the undo state.
  function refresh(changed) {
    var layers = [];
    changed.forEach(function (s) { if (layers.indexOf(s.layer) < 0) { layers.push(s.layer); } });
    layers.forEach(function (l) {
      l.setLatLngs(l.getLatLngs());
      if (l.pm && l.pm.enabled()) { var o = l.pm.options; l.pm.disable(); l.pm.enable(o); }
    });
    if (undoStack.at >= 0) { undoStack.states[undoStack.at] = snapshot(); }
    document.body.dataset.sharedEdits = String(Number(document.body.dataset.sharedEdits || 0) + 1);
  }
  function ringAt(layer, path) {
    var a = layer.getLatLngs();
    for (var k = 0; k < path.length - 1; k++) { a = a[path[k]]; }
    return a;
  }
  // A vertex added on an edge the neighbour shares is added to the neighbour's edge too.
  function shareAdded(layer, path, at) {
    var ring = ringAt(layer, path), i = path[path.length - 1], n = ring.length;
    var left = ring[(i - 1 + n) % n], right = ring[(i + 1) % n], changed = [];
    editable.eachLayer(function (other) {
      if (other === layer) { return; }
      rings(other).forEach(function (r) {
        for (var j = 0; j < r.length; j++) {
          var a = r[j], b = r[(j + 1) % r.length];
          if ((same(a, left) && same(b, right)) || (same(a, right) && same(b, left))) {
            r.splice(j + 1, 0, L.latLng(at.lat, at.lng));
            changed.push({layer: other, ring: r, index: j + 1});
            return;
          }
        }
      });
    });
    if (changed.length) { refresh(changed); }
  }
  function shareRemoved(layer, at) {
    var changed = sharing(layer, at).filter(function (s) { return s.ring.length > 3; });
    changed.forEach(function (s) { s.ring.splice(s.index, 1); });
    if (changed.length) { refresh(changed); }
  }
  function addTerritory(feature, nh) {
    L.geoJSON(feature, {style: style(nh.station_code, 0, !!nh.carve), pmIgnore: false})
      .eachLayer(function (layer) { attach(layer, nh); });
  }

  function stationMarkers() {
    result.eachLayer(function (l) { if (l instanceof L.CircleMarker) { result.removeLayer(l); } });
    stationsNew.forEach(function (st) {
      NH.tip(L.circleMarker([st.lat, st.lon], {radius: 7, color: "#c0392b", fillOpacity: 1, pmIgnore: true}),
        st.name).addTo(result);
    });
  }

  // ---- undo / redo: every edit (a vertex moved, a territory drawn, a station placed, cells given) is a state --
  var undoStack = {states: [], at: -1};
  function snapshot() {
    return {
      features: editable.getLayers().map(function (l) {
        var f = l.toGeoJSON(15);
        f.properties = Object.assign({}, l.nh);
        return f;
      }),
      stations: stationsNew.map(function (s) { return Object.assign({}, s); }),
      painted: Object.assign({}, paint.painted)
    };
  }
  function historyStatus() {
    var undoButton = document.getElementById("undo"), redoButton = document.getElementById("redo");
    if (undoButton) { undoButton.disabled = undoStack.at <= 0; }
    if (redoButton) { redoButton.disabled = undoStack.at >= undoStack.states.length - 1; }
    document.body.dataset.historyAt = String(undoStack.at);
    document.body.dataset.historyLength = String(undoStack.states.length);
  }
  function record() {
    undoStack.states = undoStack.states.slice(0, undoStack.at + 1);
    undoStack.states.push(snapshot());
    undoStack.at = undoStack.states.length - 1;
    historyStatus();
  }
  function resetHistory() { undoStack.states = []; undoStack.at = -1; record(); }
  function restoreState(state) {
    editable.clearLayers();
    state.features.forEach(function (f) { addTerritory(f, Object.assign({}, f.properties)); });
    stationsNew = state.stations.map(function (s) { return Object.assign({}, s); });
    stationMarkers();
    paint.painted = Object.assign({}, state.painted);
    Object.keys(paint.cells).forEach(restyle);
    paintStatus();
    stationChoices();
    problemsLayer.clearLayers();
    changesLayer.clearLayers();
    document.getElementById("planner-result").replaceChildren();
  }
  function undo() {
    if (undoStack.at > 0) { undoStack.at -= 1; restoreState(undoStack.states[undoStack.at]); historyStatus(); }
  }
  function redo() {
    if (undoStack.at < undoStack.states.length - 1) { undoStack.at += 1; restoreState(undoStack.states[undoStack.at]); historyStatus(); }
  }
  document.addEventListener("keydown", function (e) {
    if (!(e.ctrlKey || e.metaKey) || /^(INPUT|TEXTAREA|SELECT)$/.test((e.target && e.target.tagName) || "")) { return; }
    var key = e.key.toLowerCase();
    if (key === "z" && !e.shiftKey) { e.preventDefault(); undo(); }
    else if (key === "y" || (key === "z" && e.shiftKey)) { e.preventDefault(); redo(); }
  });

  function proposal() {
    var body = {
      coverage: {type: "FeatureCollection", features: editable.getLayers().map(function (layer) {
        var f = layer.toGeoJSON(15);
        f.properties = {station_code: layer.nh.station_code, carve: !!layer.nh.carve};
        return f;
      })},
      new_stations: stationsNew
    };
    if (Object.keys(paint.painted).length) { body.cells = Object.assign({}, paint.painted); }
    return body;
  }

  // ---- painting territories by grid cells ------------------------------------------------------------
  // The planner selects cells (click; Shift-drag for a box), picks a station and gives them to it; the server
  // makes each station's territory the union of its cells (cells: {cell code: station code}).
  var paint = {on: false, snap: false, layer: null, cells: {}, owner: {}, painted: {}, selected: {}, centres: {}, box: null};

  function cellStyle(code) {
    var station = paint.painted[code] || paint.owner[code];
    var selected = !!paint.selected[code];
    return {color: selected ? "#000" : colourOf(station), weight: selected ? 2 : 0.5, fillColor: colourOf(station),
            fillOpacity: selected ? 0.55 : (paint.painted[code] ? 0.45 : 0.15), pmIgnore: true};
  }
  function restyle(code) {
    var layer = paint.cells[code];
    if (!layer) { return; }
    layer.setStyle(cellStyle(code));
    var station = paint.painted[code] || paint.owner[code];
    if (layer.nhTip) { layer.nhTip.textContent = code + " · " + (names[station] || station); }
  }

  function paintStatus() {
    var box = document.getElementById("paint-status");
    var n = Object.keys(paint.selected).length, m = Object.keys(paint.painted).length;
    if (box) { box.textContent = t("selected") + ": " + n + " · " + t("painted") + ": " + m; }
    document.body.dataset.selectedCells = String(n);
    document.body.dataset.paintedCells = String(m);
  }

  function select(code, on) {
    if (on) { paint.selected[code] = true; } else { delete paint.selected[code]; }
    restyle(code);
  }

  function loadCells() {
    return NH.api("/api/v1/planning/cells").then(function (fc) {
      if (paint.layer) { map.removeLayer(paint.layer); }
      paint.cells = {}; paint.owner = {}; paint.centres = {}; paint.selected = {};
      // snapIgnore: false: Geoman snaps drawing and vertex edits to cell edges while the cells are on the map
      paint.layer = L.geoJSON(fc, {pmIgnore: true, snapIgnore: false,
        style: function (f) { return cellStyle(f.properties.code); },
        onEachFeature: function (f, layer) {
          var code = f.properties.code;
          paint.cells[code] = layer;
          paint.owner[code] = f.properties.station_code;
          paint.centres[code] = layer.getBounds().getCenter();
          layer.on("click", function () {
            if (!paint.on || paint.justBoxed) { return; }
            select(code, !paint.selected[code]);
            paintStatus();
          });
          NH.tip(layer, code, {sticky: true});
          layer.nhTip = layer.getTooltip().getContent();  // the span NH.tip made: restyle keeps it current
        }});
      Object.keys(paint.cells).forEach(restyle);
      showCells();
      document.body.dataset.cellsLoaded = String(fc.features.length);
      paintStatus();
    });
  }

  // Shift-drag: a box selecting every cell whose centre lies in it (Leaflet's box zoom is off meanwhile).
  function boxStart(ev) {
    if (!paint.on || !ev.shiftKey || ev.button !== 0) { return; }
    ev.preventDefault(); ev.stopPropagation();
    var start = map.mouseEventToLatLng(ev);
    map.dragging.disable();
    paint.box = L.rectangle(L.latLngBounds(start, start), {color: "#000", weight: 1, dashArray: "4 3", fill: false,
                                                           pmIgnore: true, interactive: false}).addTo(map);
    function move(e) { paint.box.setBounds(L.latLngBounds(start, map.mouseEventToLatLng(e))); }
    function up(e) {
      document.removeEventListener("mousemove", move, true);
      document.removeEventListener("mouseup", up, true);
      var bounds = L.latLngBounds(start, map.mouseEventToLatLng(e));
      map.removeLayer(paint.box); paint.box = null;
      map.dragging.enable();
      Object.keys(paint.centres).forEach(function (code) { if (bounds.contains(paint.centres[code])) { select(code, true); } });
      paint.justBoxed = true;
      setTimeout(function () { paint.justBoxed = false; }, 0);
      paintStatus();
    }
    document.addEventListener("mousemove", move, true);
    document.addEventListener("mouseup", up, true);
  }
  map.getContainer().addEventListener("mousedown", boxStart, true);

  function assign() {
    var station = document.getElementById("paint-station").value;
    Object.keys(paint.selected).forEach(function (code) {
      if (paint.owner[code] === station) { delete paint.painted[code]; } else { paint.painted[code] = station; }
      delete paint.selected[code];
      restyle(code);
    });
    paintStatus();
    record();
  }

  // The stations a cell can go to: those with a territory on screen and the new ones.
  function stationChoices() {
    var sel = document.getElementById("paint-station");
    if (!sel) { return; }
    var seen = {}, options = [];
    editable.getLayers().concat(stationsNew.map(function (s) { return {nh: {station_code: s.code, name: s.name}}; }))
      .forEach(function (layer) {
        var code = layer.nh.station_code;
        if (seen[code]) { return; }
        seen[code] = true;
        options.push(el("option", {value: code, text: (layer.nh.name || code) + " (" + code + ")"}));
      });
    var keep = sel.value;
    sel.replaceChildren.apply(sel, options);
    if (keep && seen[keep]) { sel.value = keep; }
  }

  function paintPanel() {
    return el("div", {id: "paint-panel"},
      el("p", {class: "hint", text: t("paint_help")}),
      el("label", {}, t("assign_to"), el("select", {id: "paint-station"})),
      el("button", {type: "button", id: "paint-assign", onclick: assign, text: t("assign")}),
      el("button", {type: "button", id: "paint-clear", onclick: function () {
        Object.keys(paint.selected).forEach(function (code) { select(code, false); }); paintStatus(); },
        text: t("clear_selection")}),
      el("p", {class: "meta", id: "paint-status"}));
  }

  // The cells are on the map while painting or while drawing snaps to them.
  function showCells() {
    if (!paint.layer) { return (paint.on || paint.snap) ? loadCells() : null; }
    if (paint.on || paint.snap) { paint.layer.addTo(map); } else { map.removeLayer(paint.layer); }
    paintStatus();
    return null;
  }

  function togglePaint() {
    paint.on = !paint.on;
    var box = document.getElementById("paint-box");
    document.getElementById("paint-cells").classList.toggle("active", paint.on);
    if (paint.on) {
      map.boxZoom.disable();
      if (map.pm.globalEditModeEnabled()) { map.pm.disableGlobalEditMode(); }
      box.replaceChildren(paintPanel());
      stationChoices();
    } else {
      map.boxZoom.enable();
      box.replaceChildren();
    }
    showCells();
    document.body.dataset.paintMode = String(paint.on);
  }

  function toggleSnap(e) {
    paint.snap = e.target.checked;
    showCells();
    document.body.dataset.snapCells = String(paint.snap);
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
        stationsNew.push({code: code, name: name, lon: ev.latlng.lng, lat: ev.latlng.lat, parent_code: "TC"});
        stationMarkers();
        names[code] = name;
        stationChoices();
        record();
        if (paint.on) {  // its territory will be the cells painted to it
          document.getElementById("paint-station").value = code;
          form.replaceChildren(NH.message(t("paint_new_station")));
          document.body.dataset.stationPlaced = code;
          return;
        }
        form.replaceChildren(el("p", {class: "hint", id: "planner-step", text: t("draw_territory")}));
        map.pm.enableDraw("Polygon", {snappable: true, finishOn: "dblclick", pathOptions: {pmIgnore: false}});
        map.once("pm:create", function (created) {
          var layer = created.layer;
          map.removeLayer(layer);
          layer.setStyle(style(code, 0, true));
          attach(layer, {station_code: code, name: name, carve: true});
          stationChoices();
          record();
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
    body.stations.forEach(function (s) { names[s.code] = s.name; });
    var flows = el("table", {id: "impact-flows"}, el("tr", {}, el("th", {text: t("from")}), el("th", {text: t("to")}),
      el("th", {text: t("open_cases")}), el("th", {text: t("past_90")})),
      body.flows.map(function (f) {
        return el("tr", {}, el("td", {text: names[f.from] || f.from}), el("td", {text: names[f.to] || f.to}),
                  el("td", {text: String(f.open)}),
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

  // Problems on the map: errors in solid red, warnings dashed; each with its message (and area) as tooltip.
  function problemLabel(p) { return problemText(p); }  // the messages give the area and name the stations
  function drawProblems(problems) {
    problemsLayer.clearLayers();
    var drawn = 0;
    problems.forEach(function (p) {
      if (!p.geometry) { return; }
      var error = p.severity === "error";
      var layer = L.geoJSON(p.geometry, {pmIgnore: true,
        style: {color: "#e00000", weight: error ? 3 : 2, fillColor: "#ff0000", fillOpacity: error ? 0.45 : 0.25,
                dashArray: error ? null : "5 4"},
        pointToLayer: function (f, latlng) {
          return L.circleMarker(latlng, {radius: 11, color: "#e00000", weight: 3, fillColor: "#ff0000", fillOpacity: 0.3,
                                         pmIgnore: true});
        }});
      layer.eachLayer(function (l) { NH.tip(l, problemLabel(p), {sticky: true}); });
      layer.addTo(problemsLayer);
      drawn += 1;
    });
    document.body.dataset.problemsDrawn = String(drawn);
  }

  function problemList(problems, severity, id) {
    var items = problems.filter(function (p) { return p.severity === severity; });
    if (!items.length) { return null; }
    return el("ul", {class: severity === "error" ? "errors" : "warnings", id: id}, items.map(function (p) {
      return el("li", {"data-code": p.code, text: problemLabel(p)});
    }));
  }

  function check() {
    var out = document.getElementById("planner-result");
    out.replaceChildren(el("p", {text: t("loading")}));
    return NH.api("/api/v1/planning/coverage/preview", {method: "POST", json: proposal()}).then(function (body) {
      result.eachLayer(function (l) { if (!(l instanceof L.CircleMarker)) { result.removeLayer(l); } });
      L.geoJSON(body.coverage, {style: {color: "#000", weight: 1, fill: false, dashArray: "2 3"}, pmIgnore: true}).addTo(result);
      drawProblems(body.problems);
      changesLayer.clearLayers();
      drawMoved(body.changes.moved_cells, changesLayer, false);  // the cells under it stay clickable
      document.body.dataset.previewMoved = String(body.changes.cells_moved);
      var warnings = problemList(body.problems, "warning", "planner-warnings");
      NH.put(out,
        NH.message(body.valid ? t("valid") : t("invalid"), body.valid ? "" : "error"),
        problemList(body.problems, "error", "planner-errors"),
        warnings ? el("div", {}, el("h4", {text: t("warnings")}), warnings) : null,
        impactTable(body),
        el("h4", {text: t("changes_title") + " (" + body.changes.cells_moved + " " + t("cells_moved") + ")"}),
        pairsTable(body.changes.pairs, "preview-pairs"),
        body.valid ? saveForm() : null);
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
          openDraft = null; openDraftTitle = null;
        }
        stationsNew = [];
        result.clearLayers();
        problemsLayer.clearLayers();
        changesLayer.clearLayers();
        paint.painted = {};
        if (paint.layer) { loadCells(); }
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

  // ---- drafts: a proposal kept without publishing it (a new draft, or the open one updated) -------------
  function draftForm() {
    var form = el("form", {id: "save-draft"},
      el("label", {}, t("draft_title"), el("input", {name: "title", required: true, maxlength: 200,
                                                     value: openDraftTitle || ""})),
      el("button", {type: "submit", text: t("save_draft")}));
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var title = String(new FormData(form).get("title")).trim(), body = proposal();
      body.base_version = baseVersion;
      var call = openDraft
        ? NH.api("/api/v1/planning/drafts/" + openDraft, {method: "PUT", json: {proposal: body, title: title}})
        : NH.api("/api/v1/planning/drafts", {method: "POST", json: {title: title, proposal: body}});
      call.then(function (d) {
        openDraft = d.id; openDraftTitle = d.title;
        form.replaceChildren(NH.message(t("draft_saved") + " #" + d.id));
        document.body.dataset.draftSaved = String(d.id);
        drafts();
      }).catch(function (err) { form.appendChild(NH.message(errorText(err), "error")); });
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
      (p.coverage.features || []).forEach(function (f) {
        var code = f.properties.station_code;
        addTerritory(f, {station_code: code, name: f.properties.name || code, carve: !!f.properties.carve});
      });
      stationsNew = (p.new_stations || []).slice();
      stationMarkers();
      paint.painted = Object.assign({}, p.cells || {});
      Object.keys(paint.cells).forEach(restyle);
      paintStatus();
      resetHistory();
      openDraft = id; openDraftTitle = d.title;
      document.getElementById("planner-step-box").replaceChildren(NH.message(t("draft_opened") + " #" + id + " " + d.title));
      document.body.dataset.draftOpened = String(id);
      document.body.dataset.coverageLoaded = String(editable.getLayers().length);
    }).catch(function (err) { document.getElementById("planner-step-box").replaceChildren(NH.message(err.message, "error")); });
  }

  // ---- versions --------------------------------------------------------------------------------
  function versions() {
    var box = document.getElementById("planner-versions");
    return NH.api("/api/v1/boundaries/versions").then(function (body) {
      var list = body.versions;
      function choose(name, value) {
        return el("select", {name: name}, list.map(function (v) {
          var o = el("option", {value: String(v.id), text: "#" + v.id});
          if (v.id === value) { o.selected = true; }
          return o;
        }));
      }
      var pick = list.length > 1 ? el("form", {id: "compare-versions", class: "compare-form"},
        el("label", {}, t("compare_versions"), el("span", {}, choose("old", list[1].id), " → ", choose("new", list[0].id))),
        el("button", {type: "submit", text: t("compare")})) : null;
      if (pick) {
        pick.addEventListener("submit", function (e) {
          e.preventDefault();
          var data = new FormData(pick);
          showDiff(Number(data.get("old")), Number(data.get("new")));
        });
      }
      NH.put(box, el("h4", {text: t("versions")}), el("ul", {}, list.map(function (v, i) {
        return el("li", {}, el("button", {type: "button", onclick: function () { showVersion(v.id); },
          text: "#" + v.id}), " " + NH.when(v.created_at) + " · " + v.reason + " ",
          v.parent_id ? el("button", {type: "button", class: "compare", "data-compare": v.id,
            onclick: function () { showDiff(v.parent_id, v.id); }, text: t("compare")}) : null,
          i > 0 ? el("button", {type: "button", class: "restore", "data-restore": v.id,
            onclick: function (e) { restoreForm(e.target.parentNode, v.id, list[0].id); },
            text: t("restore")}) : null);
      })), pick, el("div", {id: "planner-diff"}));
    });
  }

  // Moved cells: filled with the new station's colour, outlined with the old one's.
  function drawMoved(fc, group, interactive) {
    return L.geoJSON(fc, {pmIgnore: true, interactive: interactive !== false, style: function (f) {
      return {color: colourOf(f.properties.from), weight: 2, fillColor: colourOf(f.properties.to), fillOpacity: 0.6};
    }, onEachFeature: function (f, l) {
      NH.tip(l, f.properties.code + " · " + (names[f.properties.from] || f.properties.from) + " → " +
        (names[f.properties.to] || f.properties.to), {sticky: true});
    }}).addTo(group);
  }
  function swatch(code) {
    return el("span", {class: "swatch", style: "display:inline-block;width:12px;height:12px;margin-right:6px;" +
      "vertical-align:middle;background:" + colourOf(code)});
  }
  function pairsTable(pairs, id) {
    pairs.forEach(function (p) { names[p.from] = p.from_name; names[p.to] = p.to_name; });
    var rows = pairs.map(function (p) {
      return el("tr", {"data-pair": p.from + ">" + p.to},
        el("td", {}, swatch(p.from), p.from_name + " → ", swatch(p.to), p.to_name),
        el("td", {text: String(p.cells)}), el("td", {text: String(p.area_km2)}), el("td", {text: String(p.open_cases)}));
    });
    return rows.length ? el("table", {id: id, class: "legend-table"}, el("tr", {},
      el("th", {text: t("from") + " → " + t("to")}), el("th", {text: t("cells")}), el("th", {text: t("area_km2")}),
      el("th", {text: t("open_cases")})), rows) : el("p", {class: "hint", text: t("no_changes")});
  }

  // The cells that change station between two versions, coloured by their new station, and the pairs' counts.
  function showDiff(a, b) {
    var box = document.getElementById("planner-diff");
    box.replaceChildren(el("p", {text: t("loading")}));
    compare.clearLayers();
    return NH.api("/api/v1/boundaries/versions/" + a + "/diff/" + b).then(function (d) {
      var table = pairsTable(d.pairs, "diff-pairs");
      var layer = drawMoved(d.moved_cells, compare);
      if (d.moved_cells.features.length) { map.fitBounds(layer.getBounds(), {maxZoom: 15}); }
      NH.put(box, el("h4", {text: t("diff_title") + " #" + a + " → #" + b}),
        el("p", {class: "meta", text: d.cells_moved + " " + t("cells_moved") + " · " + d.cases_moved + " " + t("cases_moved")}),
        table);
      document.body.dataset.diffShown = a + ">" + b + ":" + d.cells_moved;
    }).catch(function (err) { box.replaceChildren(NH.message(errorText(err), "error")); });
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
    el("button", {type: "button", id: "paint-cells", onclick: togglePaint, text: t("paint_cells")}),
    el("button", {type: "button", id: "undo", onclick: undo, disabled: true, title: "Ctrl+Z", text: t("undo")}),
    el("button", {type: "button", id: "redo", onclick: redo, disabled: true, title: "Ctrl+Y", text: t("redo")}),
    el("button", {type: "button", id: "check-proposal", onclick: check, text: t("check")}),
    el("button", {type: "button", id: "draft-proposal", onclick: function () {
      document.getElementById("planner-step-box").replaceChildren(draftForm()); }, text: t("save_draft")}),
    el("button", {type: "button", onclick: function () {
      stationsNew = []; result.clearLayers(); problemsLayer.clearLayers(); changesLayer.clearLayers();
      paint.painted = {};
      if (paint.layer) { Object.keys(paint.cells).forEach(restyle); paintStatus(); }
      loadCoverage(); }, text: t("reset")}),
    el("label", {class: "check"}, el("input", {type: "checkbox", id: "snap-cells", onchange: toggleSnap}),
      t("snap_cells")),
    el("div", {id: "paint-box"}),
    el("div", {id: "planner-step-box"}),
    el("div", {id: "planner-result"}),
    el("div", {id: "planner-drafts"}),
    el("div", {id: "planner-versions"})));
  loadCoverage();
  drafts();
  versions();
})();
