// The dispatcher console: cases of the viewport (clustered), filters, the case panel with the actions the
// role allows, a new case by clicking the map, coordinates to copy, and a refresh every 15 seconds.
(function () {
  "use strict";
  var NH = window.NH, el = NH.el, t = NH.t, ctx = NH.ctx, map = window.nhMap;
  if (!map.options.maxZoom) { map.options.maxZoom = 19; }  // no tile layer offline: clustering needs a limit
  var filters = {open: "1"};
  var colourBy = "light";
  var categories = [];
  var clusterGroup = L.markerClusterGroup({chunkedLoading: true, maxClusterRadius: 45});
  var serverClusters = L.layerGroup();
  var casesLayer = L.layerGroup([clusterGroup, serverClusters]).addTo(map);
  var pending = null, seq = 0;

  // ---- cases of the viewport ---------------------------------------------------------------
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
    var icon = L.divIcon({className: "case-icon", iconSize: [22, 22],
      html: "<span style=\"background:" + colour + "\">" + glyph + "</span>"});  // glyph: two digits only
    var m = L.marker([c[1], c[0]], {icon: icon, title: NH.state(p.state) + " #" + p.id});
    m.on("click", function (e) { L.DomEvent.stopPropagation(e); openCase(p.id); });
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
          var size = Math.min(56, 22 + Math.log(n) * 5);
          var icon = L.divIcon({className: "case-cluster" + (f.properties.red ? " has-red" : ""),
                                iconSize: [size, size], html: "<span>" + Number(n) + "</span>"});
          var m = L.marker([c[1], c[0]], {icon: icon, title: n + " " + t("clusters")});
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
  setInterval(function () { if (!document.hidden) { loadCases(); } }, 15000);

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
      el("p", {class: "hint", text: t("click_map")}),
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
      loadCases();
    });
    return form;
  }

  function legend() {
    var box = el("div", {class: "case-legend"}, el("strong", {text: t("legend")}));
    Object.keys(ctx.lights).forEach(function (k) {
      box.appendChild(el("div", {}, el("span", {class: "swatch", style: "background:" + NH.lightColour(k)}),
                         ctx.lights[k]));
    });
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

  function openCase(id) {
    NH.show(el("p", {text: t("loading")}));
    return NH.api("/api/v1/cases/" + id).then(renderCase).catch(function (err) {
      NH.show(el("div", {}, NH.message(err.message, "error"), el("button", {onclick: home, text: t("close")})));
    });
  }

  function renderCase(c, note) {
    var head = el("div", {class: "case-head"},
      el("h3", {text: t("case") + " #" + c.id}),
      el("span", {class: "badge", style: "background:" + NH.lightColour(c.light), text: NH.state(c.state)}),
      el("button", {class: "x", onclick: home, "aria-label": t("close"), text: "×"}));
    var facts = el("div", {class: "facts"},
      row(t("category"), c.category), row(t("urgency"), t(c.urgency)), row(t("description"), c.description),
      row(t("address"), c.address), row(t("grid"), c.grid_code), row(t("workstation"), c.workstation),
      row(t("community"), c.community), row(t("station"), c.station), row(t("owner"), ownerName(c.owner)),
      row(t("helpers"), (c.helpers || []).join(", ")),
      row(t("deadline"), c.clock_paused ? t("paused") : NH.when(c.deadline)),
      row(t("elapsed"), c.elapsed_share === null || c.elapsed_share === undefined ? "" :
          Math.round(c.elapsed_share * 100) + "%"),
      row(t("escalation"), c.escalation_level || ""), row(t("version"), c.version),
      c.near_boundary ? el("p", {class: "warn", text: t("near_boundary")}) : null);
    var reports = el("div", {class: "reports"}, el("h4", {text: t("reports") + " (" + c.reports.length + ")"}),
      c.reports.map(function (r) {
        var channel = ctx.channels.filter(function (x) { return x.code === r.channel; })[0];
        return el("div", {class: "report"},
          el("div", {class: "meta", text: (channel ? channel.name : r.channel) + (r.reference ? " · " + r.reference : "") +
                                         " · " + NH.when(r.reported_at)}),
          el("div", {text: r.description}), photos(r));
      }));
    var history = el("ol", {class: "history"}, c.history.map(function (h) {
      return el("li", {}, el("span", {class: "meta", text: NH.when(h.at) + " · " + h.actor}),
        " " + NH.action(h.action) + (h.to_state && h.to_state !== h.from_state ? " → " + NH.state(h.to_state) : ""),
        h.note ? el("div", {class: "note", text: h.note}) : null);
    }));
    var actions = el("div", {class: "actions", id: "case-actions"}, (c.actions || []).map(function (a) {
      return el("button", {"data-action": a, onclick: function () { actionForm(c, a); }, text: NH.action(a)});
    }));
    NH.show(el("div", {class: "case", "data-case": c.id, "data-state": c.state},
      head, note ? NH.message(note) : null, facts, el("h4", {text: t("actions")}), actions,
      el("div", {id: "action-form"}), reports, el("h4", {text: t("history")}), history));
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
      return el("select", {name: name}, options.map(function (o) {
        return el("option", {value: o[0], text: o[1], selected: o[0] === s.kind + ":" + s.code}); }));
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
      var data = new FormData(form), body = {action: action, version: c.version};
      names.forEach(function (n) {
        if (n === "helpers") { body.helpers = data.getAll("helpers"); return; }
        var v = data.get(n);
        if (v === null || v === "") { return; }
        if (n === "owner") { var parts = v.split(":"); body.owner = {kind: parts[0], code: parts.slice(1).join(":")}; }
        else if (n === "hours" || n === "level" || n === "satisfaction") { body[n] = Number(v); }
        else if (n === "photos") { body.photos = v.split(/\s+/).filter(Boolean); }
        else { body[n] = v; }
      });
      NH.api("/api/v1/cases/" + c.id + "/actions", {method: "POST", json: body})
        .then(function (updated) { renderCase(updated); loadCases(); })
        .catch(function (err) { form.appendChild(NH.message(err.message, "error")); });
    });
    var holder = document.getElementById("action-form");
    holder.replaceChildren(form);
  }

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

  map.on("click", function (e) { newCase(e.latlng); });

  // ---- start ---------------------------------------------------------------------------------
  NH.api("/api/v1/categories").then(function (data) {
    categories = data.categories;
    home();
  }).catch(function (err) { console.warn("categories not loaded:", err.message); home(); });
  loadCases();
  window.nhConsole = {openCase: openCase, loadCases: loadCases, newCase: newCase};
})();
