// The dispatcher console: the work queue (search, sort, pages, bulk actions) beside the map, cases of the
// viewport (clustered), filters, the case panel with the actions the role allows, a new case by clicking the map
// (for roles that may file), coordinates to copy, and a refresh every 15 seconds. List and map stay in sync.
(function () {
  "use strict";
  var NH = window.NH, el = NH.el, t = NH.t, ctx = NH.ctx, map = window.nhMap;
  if (!map.options.maxZoom) { map.options.maxZoom = 19; }  // no tile layer offline: clustering needs a limit
  var filters = {open: "1"};
  var colourBy = "light";
  var categories = [];
  var clusterGroup = L.markerClusterGroup({chunkedLoading: true, maxClusterRadius: 45, iconCreateFunction: clusterIcon});
  var serverClusters = L.layerGroup();
  var casesLayer = L.layerGroup([clusterGroup, serverClusters]).addTo(map);
  var pending = null, seq = 0;
  var SHAPES = {green: "●", yellow: "▲", red: "■"};  // the deadline light by shape as well as colour
  var qs = ctx.queue_strings || {};
  function tq(key) { return qs[key] || t(key); }
  var selectedId = null;  // the case open in the panel: highlighted in the list and on the map
  var ring = L.layerGroup().addTo(map);

  // ---- cases of the viewport ---------------------------------------------------------------
  // Clusters take the colour (and shape) of the worst deadline light inside them, as the legend says.
  var WORST = ["red", "yellow", "green"];
  function worst(lights) {
    return WORST.filter(function (l) { return lights.indexOf(l) >= 0; })[0] || "none";
  }

  function clusterLook(n, light) {
    var size = Math.min(56, 28 + Math.log(n) * 5);
    return L.divIcon({className: "case-cluster light-" + light, iconSize: [size, size],  // numbers and glyphs only
                      html: "<span>" + Number(n) + (SHAPES[light] ? " " + SHAPES[light] : "") + "</span>"});
  }

  function clusterIcon(cluster) {
    var lights = cluster.getAllChildMarkers().map(function (m) { return m.options.light; });
    return clusterLook(cluster.getChildCount(), worst(lights));
  }

  function bboxParam() {
    var b = map.getBounds();
    return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(6); }).join(",");
  }

  function query() {
    var q = new URLSearchParams({bbox: bboxParam(), zoom: String(map.getZoom())});
    Object.keys(filters).forEach(function (k) { if (filters[k]) { q.set(k, filters[k]); } });
    return q.toString();
  }

  function marker(f) {
    var p = f.properties, c = f.geometry.coordinates;
    var colour = colourBy === "light" ? NH.lightColour(p.light) : (NH.stateColours[p.state] || "#555");
    var glyph = (p.category || "").slice(0, 2);
    var icon = L.divIcon({className: "case-icon" + (p.id === selectedId ? " selected" : ""), iconSize: [22, 22],
      html: "<span style=\"background:" + colour + "\">" + glyph + "</span>"});  // glyph: two digits only
    var m = L.marker([c[1], c[0]], {icon: icon, title: NH.state(p.state) + " #" + p.id, light: p.light});
    var open = function () { highlight(p.id, m.getLatLng()); openCase(p.id); };
    m.on("click", function (e) { L.DomEvent.stopPropagation(e); open(); });
    m.on("add", function () {  // the icon takes the focus (Tab); Enter or Space opens the case
      L.DomEvent.on(m.getElement(), "keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { L.DomEvent.preventDefault(e); open(); }
      });
    });
    return m;
  }

  function loadCases() {
    var mine = ++seq;
    if (pending) { pending.abort = true; }
    var token = {abort: false};
    pending = token;
    var started = performance.now();
    return NH.api("/api/v1/cases/map?" + query()).then(function (data) {
      if (token.abort || mine !== seq) { return; }
      clusterGroup.clearLayers();
      serverClusters.clearLayers();
      if (data.clustered) {
        data.features.forEach(function (f) {
          var c = f.geometry.coordinates, n = f.properties.count;
          var light = f.properties.red ? "red" : f.properties.yellow ? "yellow" : f.properties.green ? "green" : "none";
          var m = L.marker([c[1], c[0]], {icon: clusterLook(n, light), title: n + " " + t("clusters")});
          m.on("click", function () { map.setView(m.getLatLng(), Math.min(map.getZoom() + 2, 18)); });
          serverClusters.addLayer(m);
        });
      } else {
        clusterGroup.addLayers(data.features.map(marker));
      }
      document.body.dataset.cases = String(data.numberMatched);
      document.body.dataset.casesDrawn = String(data.features.length);
      document.body.dataset.casesClustered = String(!!data.clustered);
      document.body.dataset.casesMs = String(Math.round(performance.now() - started));
      document.body.dataset.casesLoaded = String(Date.now());
      var stamp = document.getElementById("updated");
      if (stamp) { stamp.textContent = t("updated") + " " + new Date().toLocaleTimeString(); }
    }).catch(function (err) { console.warn("cases not loaded:", err.message); });
  }

  map.on("moveend", loadCases);
  // the fallback: live.js sets data-live="open" while the event stream works, and this polling then rests
  setInterval(function () { if (!document.hidden && document.body.dataset.live !== "open") { loadCases(); loadQueue(); } }, 15000);

  // ---- filters and legend -----------------------------------------------------------------
  function select(name, options, value) {
    return el("select", {name: name}, [el("option", {value: "", text: t("any")})].concat(options.map(function (o) {
      return el("option", {value: o[0], text: o[1], selected: o[0] === value});
    })));
  }

  function filterPanel() {
    var states = Object.keys(ctx.states).map(function (k) { return [k, ctx.states[k]]; });
    var lights = Object.keys(ctx.lights).map(function (k) { return [k, ctx.lights[k]]; });
    var form = el("form", {class: "filters", id: "filters"},
      el("h3", {text: t("filters")}),
      el("label", {}, t("state"), select("state", states, filters.state)),
      el("label", {}, t("category"), select("category", categories.map(function (c) {
        return [c.code, c.code + " " + (ctx.lang === "zh" ? c.name : c.name_en)]; }), filters.category)),
      el("label", {}, t("channel"), select("channel", ctx.channels.map(function (c) { return [c.code, c.name]; }),
                                          filters.channel)),
      el("label", {}, t("station"), select("station", ctx.stations.map(function (s) { return [s.code, s.name]; }),
                                          filters.station)),
      el("label", {}, t("light"), select("light", lights, filters.light)),
      el("label", {}, t("from"), el("input", {type: "date", name: "from", value: filters.from || ""})),
      el("label", {}, t("to"), el("input", {type: "date", name: "to", value: filters.to || ""})),
      el("label", {class: "check"}, el("input", {type: "checkbox", name: "open", checked: filters.open === "1"}),
         t("open_only")),
      el("label", {}, t("colour_by"), el("select", {name: "colour_by"},
        el("option", {value: "light", text: t("by_light"), selected: colourBy === "light"}),
        el("option", {value: "state", text: t("by_state"), selected: colourBy === "state"}))),
      el("button", {type: "submit", text: t("apply")}),
      ctx.may_report ? el("p", {class: "hint", text: t("click_map")}) : null,
      el("p", {class: "hint", id: "updated"}));
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var data = new FormData(form);
      filters = {};
      ["state", "category", "channel", "station", "light", "from", "to"].forEach(function (k) {
        if (data.get(k)) { filters[k] = data.get(k); }
      });
      if (data.get("open")) { filters.open = "1"; }
      colourBy = data.get("colour_by") || "light";
      legend();
      loadCases();
      queue.cursor = null; queue.back = [];
      loadQueue();
    });
    return form;
  }

  var legendBox = null;
  function legend() {
    var box = legendBox || (legendBox = el("div", {class: "case-legend", id: "case-legend"}));
    box.replaceChildren(el("strong", {text: t("legend") + " · " + t(colourBy === "state" ? "by_state" : "by_light")}));
    if (colourBy === "state") {  // the colours of the states the markers take, for the states in the filter's list
      Object.keys(ctx.states).filter(function (k) { return NH.stateColours[k]; }).forEach(function (k) {
        var swatch = el("span", {class: "state-swatch", "aria-hidden": "true"});
        swatch.style.background = NH.stateColours[k];
        box.appendChild(el("div", {"data-state": k}, swatch, " ", ctx.states[k]));
      });
    } else {
      ["green", "yellow", "red"].forEach(function (k) {  // in the order of the clock, with the list's shapes
        box.appendChild(el("div", {"data-light": k}, el("span", {class: "light-mark", style: "color:" + NH.lightColour(k),
                                                  "aria-hidden": "true", text: SHAPES[k]}), " ", ctx.lights[k]));
      });
    }
    box.appendChild(el("div", {class: "hint", text: tq("cluster_worst")}));
    document.body.dataset.legend = colourBy;
    return box;
  }

  var Info = L.Control.extend({options: {position: "topright"}, onAdd: function () {
    var box = el("div", {class: "leaflet-bar nh-tools"});
    box.appendChild(legend());
    L.DomEvent.disableClickPropagation(box);
    return box;
  }});
  new Info().addTo(map);

  function home() { NH.show(filterPanel()); }

  // ---- one case ----------------------------------------------------------------------------
  function row(label, value) {
    return value === null || value === undefined || value === "" ? null :
      el("div", {class: "row"}, el("span", {class: "k", text: label}), el("span", {class: "v", text: String(value)}));
  }

  function photos(report) {
    return (report.attachments || []).map(function (a) {
      if (a.kind === "upload" && /^(audio|video)\//.test(a.content_type || "")) {
        return el(a.content_type.indexOf("audio/") === 0 ? "audio" : "video",
                  {src: a.url, controls: true, preload: "metadata", class: "clip", title: a.filename || ""});
      }
      if (a.kind === "upload") {
        return el("a", {href: a.url, target: "_blank", rel: "noopener"},
                  el("img", {src: a.url, alt: a.filename || "", class: "thumb"}));
      }
      return el("a", {href: a.url, target: "_blank", rel: "noopener noreferrer", text: a.url});
    });
  }

  function ownerName(owner) {
    if (!owner) { return ""; }
    var list = owner.kind === "department" ? ctx.departments : ctx.stations;
    var found = list.filter(function (x) { return x.code === owner.code; })[0];
    return found ? found.name + " (" + owner.code + ")" : owner.code;
  }

  function openCase(id, note) {
    selectedId = id;
    markRows();
    NH.show(el("p", {text: t("loading")}));
    return NH.api("/api/v1/cases/" + id).then(function (c) { renderCase(c, note); }).catch(function (err) {
      NH.show(el("div", {}, NH.message(err.message, "error"), el("button", {onclick: home, text: t("close")})));
    });
  }

  function renderCase(c, note) {
    var head = el("div", {class: "case-head"},
      el("h3", {text: t("case") + " #" + c.id}),
      el("span", {class: "badge", style: "background:" + NH.lightColour(c.light), text: NH.state(c.state)}),
      el("button", {class: "x", onclick: home, "aria-label": t("close"), text: "×"}));
    var facts = el("div", {class: "facts"},
      row(t("category"), categoryName(c.category)), row(t("urgency"), t(c.urgency)),
      row(t("description"), c.description),
      row(t("address"), c.address), row(t("grid"), c.grid_code), row(t("workstation"), areaName(c.workstation_name, c.workstation)),
      row(t("community"), areaName(c.community_name, c.community)), row(t("station"), stationName(c.station)),
      row(t("owner"), ownerName(c.owner)),
      row(t("helpers"), (c.helpers || []).map(departmentName).join("、")),
      row(t("deadline"), c.clock_paused ? t("paused") : NH.when(c.deadline)),
      row(t("elapsed"), c.elapsed_share === null || c.elapsed_share === undefined ? "" :
          Math.round(c.elapsed_share * 100) + "%"),
      row(t("escalation"), c.escalation_level || ""), row(t("version"), c.version),
      c.near_boundary ? el("p", {class: "warn", text: t("near_boundary")}) : null);
    var reports = el("div", {class: "reports"}, el("h4", {text: tq("case_reports") + " (" + c.reports.length + ")"}),
      c.reports.map(function (r) {
        var channel = ctx.channels.filter(function (x) { return x.code === r.channel; })[0];
        return el("div", {class: "report"},
          el("div", {class: "meta", text: (channel ? channel.name : r.channel) + (r.reference ? " · " + r.reference : "") +
                                         " · " + NH.when(r.reported_at)}),
          r.channel === "video" && r.reference ? cameraLink(r.reference) : null,
          el("div", {text: r.description}), photos(r));
      }));
    var history = el("ol", {class: "history"}, c.history.map(function (h) {
      return el("li", {}, el("span", {class: "meta", text: NH.when(h.at) + " · " + h.actor}),
        " " + eventName(h.action) + (h.to_state && h.to_state !== h.from_state ? " → " + NH.state(h.to_state) : ""),
        h.note ? el("div", {class: "note", text: h.note}) : null);
    }));
    var actions = el("div", {class: "actions", id: "case-actions"}, (c.actions || []).map(function (a) {
      return el("button", {"data-action": a, onclick: function () { actionForm(c, a); }, text: NH.action(a)});
    }));
    NH.show(el("div", {class: "case", "data-case": c.id, "data-state": c.state, "data-version": c.version},
      head, note ? NH.message(note) : null, facts, window.nhEvidence ? window.nhEvidence.panel(c) : null,
      el("h4", {text: t("actions")}), actions,
      el("div", {id: "action-form"}), reports, el("h4", {text: t("history")}), history));
    if (window.nhCommand) { window.nhCommand.onCase(c); }  // emergency command (command.js): declare from a case
  }

  // A video report names its camera: show it (and where it looks) on the map.
  function cameraLink(id) {
    return el("a", {href: "/api/v1/cameras/" + encodeURIComponent(id), class: "camera-link", "data-camera": id,
                    text: t("show_camera") + " (" + t("camera") + " " + id + ")", onclick: function (e) {
      e.preventDefault();
      NH.api("/api/v1/cameras/" + encodeURIComponent(id)).then(function (cam) {
        var at = L.latLng(cam.geometry.coordinates[1], cam.geometry.coordinates[0]);
        ring.clearLayers();
        if (cam.properties.view) { L.geoJSON(cam.properties.view, {style: {color: "#6a1b9a", weight: 1}}).addTo(ring); }
        var tip = document.createElement("span");
        tip.textContent = t("camera") + " " + cam.properties.id + " " + cam.properties.name + " · " + t("camera_" + cam.properties.status);
        L.circleMarker(at, {color: "#6a1b9a", radius: 8, weight: 3}).bindTooltip(tip, {permanent: true}).addTo(ring);
        map.setView(at, Math.max(map.getZoom(), 16));
      }).catch(function (err) { NH.show(NH.message(err.message, "error")); });
    }});
  }

  function input(name, c) {
    if (name === "reason" || name === "note") { return el("textarea", {name: name, rows: 2, maxlength: 2000}); }
    if (name === "photos") { return el("textarea", {name: name, rows: 2}); }
    if (name === "hours") { return el("input", {type: "number", name: name, min: 1, max: 720, value: 8}); }
    if (name === "level") {
      return el("select", {name: name}, [1, 2, 3, 4].filter(function (n) { return n > c.escalation_level; })
        .map(function (n) { return el("option", {value: n, text: String(n)}); }));
    }
    if (name === "satisfaction") {
      return el("select", {name: name}, el("option", {value: "", text: "—"}),
        [5, 4, 3, 2, 1].map(function (n) { return el("option", {value: n, text: String(n)}); }));
    }
    if (name === "urgency") {
      return el("select", {name: name}, ["normal", "urgent", "emergency"].map(function (u) {
        return el("option", {value: u, text: t(u), selected: u === c.urgency}); }));
    }
    if (name === "owner") {
      var s = c.suggested_owner || {};
      var options = ctx.departments.map(function (d) { return ["department:" + d.code, t("department") + " · " + d.name]; })
        .concat(ctx.stations.map(function (x) { return ["station:" + x.code, t("station_kind") + " · " + x.name]; }));
      var suggested = s.kind ? s.kind + ":" + s.code : "";
      var byRule = el("option", {value: "", text: tq("rule_default") + (s.kind ? " · " + ownerName(s) : ""),
                                 selected: !suggested});
      return el("select", {name: name}, [byRule].concat(options.map(function (o) {
        return el("option", {value: o[0], text: o[1], selected: o[0] === suggested}); })));
    }
    if (name === "helpers") {
      var chosen = (c.suggested_owner && c.suggested_owner.helpers) || [];
      return el("select", {name: name, multiple: true, size: 4}, ctx.departments.map(function (d) {
        return el("option", {value: d.code, text: d.name, selected: chosen.indexOf(d.code) >= 0}); }));
    }
    return el("input", {name: name});
  }

  function actionForm(c, action) {
    var names = ((c.action_fields || {})[action] || {fields: []}).fields;  // the API says what each step takes
    var form = el("form", {class: "action-form", "data-action": action},
      c.suggested_owner && action === "dispatch" ?
        el("p", {class: "hint", text: t("suggested") + ": " + ownerName(c.suggested_owner) + " — " + c.suggested_owner.rule}) : null,
      names.map(function (n) { return el("label", {}, t(n), input(n, c)); }),
      el("button", {type: "submit", text: NH.action(action)}),
      el("button", {type: "button", onclick: function () { form.remove(); }, text: t("cancel")}));
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (window.nhEvidence && !window.nhEvidence.confirm(c, action)) { return; }  // no photo of the result
      var body = collect(new FormData(form), names, false);
      body.action = action; body.version = c.version;
      NH.api("/api/v1/cases/" + c.id + "/actions", {method: "POST", json: body})
        .then(function (updated) { renderCase(updated); loadCases(); loadQueue(); })
        .catch(function (err) {
          if (err.status === 409) { openCase(c.id, tq("out_stale")); loadQueue(); return; }  // never a stale panel
          form.appendChild(NH.message(err.message, "error"));
        });
    });
    var holder = document.getElementById("action-form");
    holder.replaceChildren(form);
  }


  // ---- names instead of codes ----------------------------------------------------------------
  function named(list, code) {
    var found = (list || []).filter(function (x) { return x.code === code; })[0];
    return found ? found.name : code;
  }
  function stationName(code) { return named(ctx.stations, code); }
  function departmentName(code) { return named(ctx.departments, code); }
  function categoryName(code) {
    var found = categories.filter(function (c) { return c.code === code; })[0];
    return found ? (ctx.lang === "zh" ? found.name : found.name_en || found.name) : code;
  }
  function areaName(names, code) { return names ? names[ctx.lang === "zh" ? "zh" : "en"] : code; }
  function eventName(action) { return (ctx.events && ctx.events[action]) || NH.action(action); }

  // ---- the work queue --------------------------------------------------------------------------
  var PAGE = 50;
  var queue = {q: "", sort: "-reported_at", mine: false, cursor: null, back: [], rows: [], matched: 0, next: null,
               selected: {}, seq: 0};
  var COLUMNS = [["id", "col_id"], ["category", "col_category"], ["address", "col_address", null],
                 ["station", "col_station"], ["state", "col_state"], ["deadline", "col_light"],
                 ["reported_at", "col_age"]];

  function queueQuery() {
    var q = new URLSearchParams({limit: String(PAGE), sort: queue.sort});
    Object.keys(filters).forEach(function (k) { if (filters[k]) { q.set(k, filters[k]); } });
    if (queue.q) { q.set("q", queue.q); }
    if (queue.mine) { q.set("mine", "1"); }
    if (queue.cursor) { q.set("cursor", queue.cursor); }
    return q.toString();
  }

  function loadQueue() {
    var mine = ++queue.seq;
    return NH.api("/api/v1/cases?" + queueQuery()).then(function (data) {
      if (mine !== queue.seq) { return; }
      queue.rows = data.features; queue.matched = data.numberMatched; queue.next = data.next_cursor || null;
      renderQueue();
      refreshPanel();
      document.body.dataset.queueRows = String(queue.rows.length);
      document.body.dataset.queueMatched = String(queue.matched);
      document.body.dataset.queueLoaded = String(Date.now());
    }).catch(function (err) {
      if (mine !== queue.seq) { return; }
      NH.put(document.getElementById("queue-count"), NH.message(err.message, "error"));
    });
  }

  // The open case changed elsewhere (its version in the list moved on): show it as it is now, unless a form is
  // being filled in (its submit then answers 409 and the panel refreshes).
  function refreshPanel() {
    var panel = document.querySelector("#side .case[data-case]");
    if (!panel || document.querySelector("#side form.action-form")) { return; }
    var id = Number(panel.dataset.case), shown = Number(panel.dataset.version);
    var row = queue.rows.filter(function (f) { return f.id === id; })[0];
    if (row && row.properties.version > shown) { openCase(id, tq("panel_updated")); }
  }

  function age(iso) {
    var minutes = Math.max(0, (Date.now() - new Date(iso).getTime()) / 60000), sep = ctx.lang === "zh" ? "" : " ";
    if (minutes < 60) { return Math.round(minutes) + sep + tq("age_min"); }
    if (minutes < 48 * 60) { return Math.round(minutes / 60) + sep + tq("age_h"); }
    return Math.round(minutes / 1440) + sep + tq("age_d");
  }

  function lightCell(light) {  // shape and word as well as colour
    var key = light || "none";
    return el("span", {class: "light light-" + key, title: light ? ctx.lights[light] : tq("light_none")},
              el("span", {class: "shape", "aria-hidden": "true", text: SHAPES[light] || "○"}), " " + tq("light_" + key));
  }

  function sortHeader(col) {
    var key = col[0], label = tq(col[1]);
    if (col[2] === null) { return el("th", {scope: "col", text: label}); }
    var up = queue.sort === key, down = queue.sort === "-" + key;
    var ascending = key === "reported_at" ? down : up;  // age grows as the report time falls
    var state = up || down ? (ascending ? "ascending" : "descending") : "none";
    return el("th", {scope: "col", "aria-sort": state},
      el("button", {type: "button", class: "sort", "data-sort": key, title: tq("sort_by") + " " + label,
                    onclick: function () {
                      queue.sort = up ? "-" + key : key; queue.cursor = null; queue.back = []; loadQueue();
                    }}, label, state === "none" ? "" : (ascending ? " ▲" : " ▼")));
  }

  function queueRow(f) {
    var p = f.properties, id = p.id;
    var box = el("input", {type: "checkbox", class: "pick", "data-id": id, "aria-label": tq("select_case") + " #" + id,
                           checked: queue.selected[id] !== undefined});
    box.addEventListener("change", function () {
      if (box.checked) { queue.selected[id] = p.version; } else { delete queue.selected[id]; }
      bulkCount();
    });
    var tr = el("tr", {"data-case": id, tabindex: 0, class: id === selectedId ? "selected" : null},
      el("td", {}, box), el("td", {class: "num", text: "#" + id}), el("td", {text: categoryName(p.category)}),
      el("td", {class: "addr", text: p.address || p.description, title: p.address || p.description}),
      el("td", {class: "station", text: stationName(p.station), title: stationName(p.station)}),
      el("td", {text: NH.state(p.state)}), el("td", {}, lightCell(p.light)),
      el("td", {text: age(p.first_reported_at), title: NH.when(p.first_reported_at)}));
    var open = function (e) {
      if (e.target === box) { return; }
      var c = f.geometry.coordinates, at = L.latLng(c[1], c[0]);
      highlight(id, at);
      map.setView(at, Math.max(map.getZoom(), 17));
      openCase(id);
    };
    tr.addEventListener("click", open);
    tr.addEventListener("keydown", function (e) { if (e.key === "Enter") { open(e); } });
    return tr;
  }

  function renderQueue() {
    var body = document.getElementById("queue-body");
    if (!body) { return; }
    NH.put.apply(null, [document.getElementById("queue-head"), el("th", {scope: "col"},
      el("input", {type: "checkbox", id: "queue-all", "aria-label": tq("select_page"), onchange: function (e) {
        queue.rows.forEach(function (f) {
          if (e.target.checked) { queue.selected[f.id] = f.properties.version; } else { delete queue.selected[f.id]; }
        });
        renderQueue(); bulkCount();
      }, checked: queue.rows.length > 0 && queue.rows.every(function (f) { return queue.selected[f.id] !== undefined; })}))]
      .concat(COLUMNS.map(sortHeader)));
    body.replaceChildren.apply(body, queue.rows.length ? queue.rows.map(queueRow) :
      [el("tr", {}, el("td", {colspan: 8, class: "empty", text: tq("no_cases")}))]);
    NH.put(document.getElementById("queue-count"), queue.matched + " " + tq("matched"));
    document.getElementById("queue-prev").disabled = queue.back.length === 0;
    document.getElementById("queue-next").disabled = !queue.next;
    document.getElementById("queue-page").textContent = String(queue.back.length + 1);
    bulkCount();
  }

  function markRows() {
    Array.prototype.forEach.call(document.querySelectorAll("#queue-body tr[data-case]"), function (tr) {
      var on = Number(tr.dataset.case) === selectedId;
      tr.classList.toggle("selected", on);
      if (on && tr.scrollIntoView) { tr.scrollIntoView({block: "nearest"}); }
    });
  }

  function highlight(id, latlng) {  // a ring on the map around the case, its row marked in the list
    selectedId = id;
    ring.clearLayers();
    if (latlng) {
      L.circleMarker(latlng, {radius: 17, color: "#1f4fd1", weight: 3, fill: false, interactive: false,
                              className: "case-ring"}).addTo(ring);
    }
    document.body.dataset.highlighted = String(id);
    markRows();
  }

  function page(step) {
    if (step > 0 && queue.next) { queue.back.push(queue.cursor); queue.cursor = queue.next; }
    else if (step < 0 && queue.back.length) { queue.cursor = queue.back.pop(); }
    else { return; }
    queue.selected = {};
    loadQueue();
  }

  // ---- bulk actions ----------------------------------------------------------------------------
  function selectedItems() {
    return Object.keys(queue.selected).map(function (id) { return {id: Number(id), version: queue.selected[id]}; });
  }

  function bulkCount() {
    var n = Object.keys(queue.selected).length, node = document.getElementById("bulk-count");
    if (node) { node.textContent = tq("selected_n").replace("%n", String(n)); }
    document.body.dataset.bulkSelected = String(n);
  }

  function bulkInput(name) {
    if (name === "owner") {
      return el("select", {name: name}, el("option", {value: "", text: tq("bulk_suggested"), selected: true}),
        ctx.departments.map(function (d) { return el("option", {value: "department:" + d.code, text: t("department") + " · " + d.name}); }),
        ctx.stations.map(function (x) { return el("option", {value: "station:" + x.code, text: t("station_kind") + " · " + x.name}); }));
    }
    if (name === "helpers") {
      return el("select", {name: name, multiple: true, size: 3}, ctx.departments.map(function (d) {
        return el("option", {value: d.code, text: d.name}); }));
    }
    if (name === "urgency") {
      return el("select", {name: name}, el("option", {value: "", text: "—"}),
        ["normal", "urgent", "emergency"].map(function (u) { return el("option", {value: u, text: t(u)}); }));
    }
    return input(name, {escalation_level: 0});
  }

  function bulkFields(action) {
    var form = ((ctx.role_actions || {})[action] || {fields: [], required: []});
    return form.fields.filter(function (n) { return n !== "photos"; }).map(function (n) {
      var field = bulkInput(n);
      if (form.required.indexOf(n) >= 0) { field.setAttribute("required", ""); }
      return el("label", {}, t(n), field);
    });
  }

  function bulkResults(answer) {
    var box = document.getElementById("bulk-results");
    var list = el("ul", {class: "bulk-list"}, answer.results.map(function (r) {
      var text = "#" + r.id + " " + tq("out_" + r.outcome);
      if (r.outcome === "done") { text += " → " + NH.state(r.state); }
      else if (r.error === "missing_field" && r.field) { text += "（" + tq("out_missing") + t(r.field) + "）"; }
      else if (r.message && r.error !== "illegal" && ["refused", "invalid"].indexOf(r.outcome) >= 0) {
        text += "（" + NH.said(r) + "）";
      }
      return el("li", {class: "out-" + r.outcome, "data-case": r.id, "data-outcome": r.outcome}, text);
    }));
    NH.put(box, el("h4", {text: tq("bulk_results") + " · " + NH.action(answer.action)}), list);
    document.body.dataset.bulkDone = String(answer.counts.done);
    document.body.dataset.bulkAnswered = String(Date.now());
  }

  function bulkForm() {
    var names = Object.keys(ctx.role_actions || {});
    var fields = el("div", {id: "bulk-fields"});
    var chooser = el("select", {name: "action", id: "bulk-action", "aria-label": tq("bulk_action")},
      names.map(function (a) { return el("option", {value: a, text: NH.action(a), selected: a === "dispatch"}); }));
    var form = el("form", {id: "bulk", class: "bulk"}, el("strong", {id: "bulk-count"}), " ",
      el("label", {class: "inline"}, tq("bulk_action"), chooser), fields,
      el("button", {type: "submit", text: tq("bulk_go")}));
    var refill = function () { NH.put.apply(null, [fields].concat(bulkFields(chooser.value))); };
    chooser.addEventListener("change", refill);
    refill();
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var items = selectedItems(), box = document.getElementById("bulk-results");
      if (!items.length) { NH.put(box, NH.message(tq("bulk_none"), "error")); return; }
      var action = chooser.value, formNames = (ctx.role_actions[action] || {fields: []}).fields;
      var body = collect(new FormData(form), formNames, true);
      body.action = action; body.items = items;
      NH.api("/api/v1/cases/actions", {method: "POST", json: body}).then(function (answer) {
        queue.selected = {};  // the list reloads: each case is chosen again as it now stands
        bulkResults(answer);
        if (box.scrollIntoView) { box.scrollIntoView({block: "nearest"}); }
        loadQueue(); loadCases();
        if (selectedId !== null) { openCase(selectedId); }
      }).catch(function (err) { NH.put(box, NH.message(err.message, "error")); });
    });
    return form;
  }

  // the fields of an action form as the API takes them (bulk: helpers only when chosen)
  function collect(data, names, bulk) {
    var body = {};
    names.forEach(function (n) {
      if (n === "helpers") {
        var chosen = data.getAll("helpers");
        if (!bulk || chosen.length) { body.helpers = chosen; }
        return;
      }
      var v = data.get(n);
      if (v === null || v === "") { return; }
      if (n === "owner") { var parts = v.split(":"); body.owner = {kind: parts[0], code: parts.slice(1).join(":")}; }
      else if (n === "hours" || n === "level" || n === "satisfaction") { body[n] = Number(v); }
      else if (n === "photos") { body.photos = v.split(/\s+/).filter(Boolean); }
      else { body[n] = v; }
    });
    return body;
  }

  // ---- saved filters: the queue's search, sort and the filter panel, kept in this browser per user ----
  var SAVED_KEY = "nh.queue.saved." + ctx.user.username;
  function savedList() {
    try { return JSON.parse(window.localStorage.getItem(SAVED_KEY) || "[]"); } catch (e) { return []; }
  }
  function savedName() {
    var parts = [];
    if (queue.q) { parts.push("“" + queue.q + "”"); }
    if (filters.state) { parts.push(NH.state(filters.state)); }
    if (filters.light) { parts.push(tq("light_" + filters.light)); }
    if (filters.station) { parts.push(stationName(filters.station)); }
    if (filters.category) { parts.push(categoryName(filters.category)); }
    if (queue.mine) { parts.push(tq("mine")); }
    return parts.join(" · ") || tq("all_cases");
  }
  function saveFilter() {
    var list = savedList().filter(function (x) { return x.name !== savedName(); });
    list.unshift({name: savedName(), filters: filters, q: queue.q, sort: queue.sort, mine: queue.mine});
    window.localStorage.setItem(SAVED_KEY, JSON.stringify(list.slice(0, 20)));
    fillSaved();
  }
  function applySaved(index) {
    var x = savedList()[index];
    if (!x) { return; }
    filters = x.filters || {}; queue.q = x.q || ""; queue.sort = x.sort || "-reported_at"; queue.mine = !!x.mine;
    queue.cursor = null; queue.back = []; queue.selected = {};
    document.getElementById("queue-q").value = queue.q;
    var mineBox = document.getElementById("queue-mine");
    if (mineBox) { mineBox.checked = queue.mine; }
    if (document.getElementById("filters")) { home(); }
    loadCases(); loadQueue();
  }
  function fillSaved() {
    var chooser = document.getElementById("queue-saved");
    if (!chooser) { return; }
    NH.put.apply(null, [chooser, el("option", {value: "", text: tq("saved_filters")})].concat(
      savedList().map(function (x, i) { return el("option", {value: String(i), text: x.name}); })));
  }

  function buildQueue() {
    var holder = document.getElementById("queue");
    if (!holder) { return; }
    var search = el("input", {type: "search", id: "queue-q", name: "q", maxlength: 100,
                              placeholder: tq("search_hint"), "aria-label": tq("search")});
    var form = el("form", {id: "queue-search", class: "queue-search", role: "search"}, search,
      el("button", {type: "submit", text: tq("search")}),
      ctx.scoped ? el("label", {class: "inline"}, el("input", {type: "checkbox", id: "queue-mine", onchange: function (e) {
        queue.mine = e.target.checked; queue.cursor = null; queue.back = []; loadQueue(); }}), tq("mine")) : null,
      el("select", {id: "queue-saved", "aria-label": tq("saved_filters"), onchange: function (e) {
        if (e.target.value !== "") { applySaved(Number(e.target.value)); }
        e.target.value = ""; }}),
      el("button", {type: "button", id: "queue-save", text: tq("save_filter"), onclick: saveFilter}));
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      queue.q = search.value.trim(); queue.cursor = null; queue.back = []; queue.selected = {};
      loadQueue();
    });
    var table = el("table", {class: "queue-table", id: "queue-table"},
      el("thead", {}, el("tr", {id: "queue-head"})), el("tbody", {id: "queue-body"}));
    NH.put(holder,
      el("div", {class: "queue-main"},
        el("div", {class: "queue-top"}, el("h3", {}, tq("queue"), " ", el("span", {class: "hint", id: "queue-count"})),
           form),
        el("div", {class: "queue-table-wrap"}, table),
        el("div", {class: "queue-pager"},
          el("button", {type: "button", id: "queue-prev", onclick: function () { page(-1); }, text: tq("prev_page")}),
          el("span", {id: "queue-page"}),
          el("button", {type: "button", id: "queue-next", onclick: function () { page(1); }, text: tq("next_page")}))),
      el("div", {class: "queue-bulk"},
        Object.keys(ctx.role_actions || {}).length ? bulkForm() : null,
        el("div", {id: "bulk-results", class: "bulk-results", "aria-live": "polite"})));
    fillSaved();
    renderQueue();
  }

  // keys: "/" to the search box, j and k down and up the list (Enter opens the row), d: dispatch the open case
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName)) { return; }
    var rows = Array.prototype.slice.call(document.querySelectorAll("#queue-body tr[data-case]"));
    if (e.key === "/") {
      e.preventDefault();
      document.getElementById("queue-q").focus();
    } else if ((e.key === "j" || e.key === "k") && rows.length) {
      e.preventDefault();
      var at = rows.indexOf(document.activeElement);
      var next = at < 0 ? 0 : Math.min(rows.length - 1, Math.max(0, at + (e.key === "j" ? 1 : -1)));
      rows[next].focus();
    } else if (e.key === "d" && document.querySelector("#case-actions button[data-action='dispatch']")) {
      e.preventDefault();
      document.querySelector("#case-actions button[data-action='dispatch']").click();
    }
  });

  // ---- a new case by clicking the map ------------------------------------------------------
  var pin = null;
  function newCase(latlng) {
    if (pin) { map.removeLayer(pin); }
    pin = L.circleMarker(latlng, {radius: 8, color: "#c0392b"}).addTo(map);
    var lon = latlng.lng.toFixed(7), lat = latlng.lat.toFixed(7);
    NH.show(el("p", {text: t("loading")}));
    Promise.all([NH.api("/api/v1/reverse?lon=" + lon + "&lat=" + lat),
                 NH.api("/api/v1/convert?lon=" + lon + "&lat=" + lat + "&from=wgs84&to=gcj02")])
      .then(function (answers) { renderNewCase(answers[0], answers[1], lon, lat); })
      .catch(function (err) { NH.show(el("div", {}, NH.message(err.message, "error"), filterPanel())); });
  }

  function copyButton(text) {
    return el("button", {type: "button", class: "copy", onclick: function (e) {
      var done = function () { e.target.textContent = t("copied"); };
      if (navigator.clipboard && window.isSecureContext) { navigator.clipboard.writeText(text).then(done, done); }
      else {
        var area = el("textarea", {}); area.value = text; document.body.appendChild(area); area.select();
        try { document.execCommand("copy"); } catch (err) { /* the text stays selectable */ }
        area.remove(); done();
      }
    }, text: t("copy")});
  }

  function renderNewCase(place, gcj, lon, lat) {
    var address = place.address ? place.address.address : "";
    var wgs = lon + ", " + lat, gcjText = gcj.lon.toFixed(7) + ", " + gcj.lat.toFixed(7);
    var form = el("form", {class: "new-case", id: "new-case"},
      el("h3", {text: t("new_case")}),
      el("div", {class: "coords"}, el("div", {}, "WGS84 ", el("code", {text: wgs}), copyButton(wgs)),
                                   el("div", {}, "GCJ-02 ", el("code", {text: gcjText}), copyButton(gcjText))),
      row(t("address"), address || t("no_address")), row(t("grid"), place.grid_code),
      row(t("workstation"), place.workstation && place.workstation.name),
      row(t("community"), place.community && place.community.name), row(t("station"), place.station.name),
      place.near_boundary ? el("p", {class: "warn", text: t("near_boundary")}) : null,
      el("label", {}, t("channel"), el("select", {name: "channel"}, ctx.channels.map(function (c) {
        return el("option", {value: c.code, text: c.name, selected: c.code === "hotline"}); }))),
      el("label", {}, t("category"), el("select", {name: "category", required: true}, categories.map(function (c) {
        return el("option", {value: c.code, text: c.code + " " + (ctx.lang === "zh" ? c.name : c.name_en)}); }))),
      el("label", {}, t("urgency"), el("select", {name: "urgency"}, el("option", {value: "", text: "—"}),
        ["normal", "urgent", "emergency"].map(function (u) { return el("option", {value: u, text: t(u)}); }))),
      el("label", {}, t("description"), el("textarea", {name: "description", rows: 3, maxlength: 4000, required: true})),
      el("label", {}, t("address"), el("input", {name: "address", value: address, maxlength: 200})),
      el("button", {type: "submit", text: t("submit")}),
      el("button", {type: "button", onclick: function () { if (pin) { map.removeLayer(pin); } home(); }, text: t("cancel")}));
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var data = new FormData(form);
      var body = {channel: data.get("channel"), category: data.get("category"), description: data.get("description"),
                  lon: Number(lon), lat: Number(lat)};
      if (data.get("urgency")) { body.urgency = data.get("urgency"); }
      if (data.get("address")) { body.address = data.get("address"); }
      NH.api("/api/v1/reports", {method: "POST", json: body}).then(function (answer) {
        if (pin) { map.removeLayer(pin); pin = null; }
        loadCases();
        return NH.api("/api/v1/cases/" + answer.case_id).then(function (c) {
          renderCase(c, answer.merged ? t("merged") : t("created"));
        });
      }).catch(function (err) { form.appendChild(NH.message(err.message, "error")); });
    });
    NH.show(form);
  }

  if (ctx.may_report) { map.on("click", function (e) { if (!window.nhCommandMode) { newCase(e.latlng); } }); }

  // ---- start ---------------------------------------------------------------------------------
  buildQueue();
  NH.api("/api/v1/categories").then(function (data) {
    categories = data.categories;
    home();
    renderQueue();
    openFromHash();
  }).catch(function (err) { console.warn("categories not loaded:", err.message); home(); });
  loadCases();
  loadQueue();
  // #case=ID opens that case: a link from another page (the station queue, the reports, the digest, a pack)
  // or a changed address
  function openFromHash() {
    var wanted = /^#case=(\d+)$/.exec(window.location.hash);
    if (wanted) { openCase(Number(wanted[1])); }
  }
  window.addEventListener("hashchange", openFromHash);
  window.nhConsole = {openCase: openCase, loadCases: loadCases, newCase: newCase, loadQueue: loadQueue,
                      categoryName: categoryName, stationName: stationName};
})();
