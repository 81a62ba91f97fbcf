// Emergency mode of the dispatcher console: one click turns it into an incident's command view (its area on the
// map, what lies inside, the nearest resources by road, roll-call with acknowledgements, the situation log and
// reports) and back. console.js calls nhCommand.onCase(c) when it shows a case (to offer "declare from this
// case") and leaves map clicks alone while window.nhCommandMode is set. Strings come from #nh-command.
(function () {
  "use strict";
  var NH = window.NH, el = NH.el, map = window.nhMap;
  var cfg = JSON.parse(document.getElementById("nh-command").textContent);
  var LEVELS = ["I", "II", "III", "IV"], NEXT = {declared: ["responding", "closed"], responding: ["stabilised"],
    stabilised: ["responding", "closed"], closed: []};
  var state = {incident: null, area: null, timer: null, types: null};

  function s(key) { return (cfg.strings && cfg.strings[key]) || key; }
  function view() { return document.getElementById("command-view"); }
  function done(key, value) { document.body.dataset[key] = String(value); }
  function fail(box) { return function (err) { box.replaceChildren(NH.message(err.message, "error")); }; }

  function types() {
    if (state.types) { return Promise.resolve(state.types); }
    return NH.api("/api/v1/incident-types").then(function (t) { state.types = t; return t; });
  }
  function typeName(t) { return NH.ctx.lang === "zh" ? t.name : (t.name_en || t.name); }

  // -- the button on the map and the list of open incidents ------------------------------------------------
  var Toggle = L.Control.extend({options: {position: "topleft"}, onAdd: function () {
    var b = el("button", {type: "button", class: "emergency-button", id: "emergency-toggle", text: s("emergency"),
                          onclick: function (e) { L.DomEvent.stopPropagation(e); state.incident ? leave() : choose(); }});
    L.DomEvent.disableClickPropagation(b);
    return b;
  }});
  new Toggle().addTo(map);

  function choose() {
    NH.api("/api/v1/incidents").then(function (list) {
      var box = el("div", {class: "incident-list", id: "incident-list"}, el("h3", {text: s("incidents")}));
      if (!list.length) { box.appendChild(el("p", {text: s("no_incidents")})); }
      list.forEach(function (i) {
        box.appendChild(el("button", {type: "button", "data-incident": i.id, onclick: function () { enter(i.id); },
                                      text: "#" + i.id + " " + i.title + " · " + i.level + " · " + s("st_" + i.status)}));
      });
      if (cfg.may_command) { box.appendChild(el("p", {class: "hint", text: s("declare_case")})); }
      NH.show(box);
    }).catch(function (err) { NH.show(NH.message(err.message, "error")); });
  }

  // -- declaring from a case ---------------------------------------------------------------------------------
  function onCase(c) {
    if (!cfg.may_command || NH.ctx.final_states.indexOf(c.state) >= 0) { return; }
    var actions = document.getElementById("case-actions");
    if (actions) {
      actions.appendChild(el("button", {type: "button", id: "declare-from-case", class: "emergency-button",
                                        onclick: function () { declareForm(c); }, text: s("declare_case")}));
    }
  }

  function declareForm(c) {
    types().then(function (list) {
      var drawn = null;
      var form = el("form", {id: "declare-form"}, el("h3", {text: s("declare") + " · #" + c.id}),
        el("label", {}, s("title"), el("input", {name: "title", required: true, value: c.description || ""})),
        el("label", {}, s("type"), el("select", {name: "type"}, list.map(function (t) {
          return el("option", {value: t.code, text: typeName(t)}); }))),
        el("label", {}, s("level"), el("select", {name: "level"}, LEVELS.map(function (l) {
          return el("option", {value: l, text: l, selected: l === "III"}); }))),
        el("label", {}, s("commander"), el("input", {name: "commander", required: true, value: NH.ctx.user.username})),
        el("label", {}, s("buffer_m"), el("input", {name: "buffer_m", type: "number", min: 1, max: 20000, value: 500})),
        el("p", {}, el("button", {type: "button", id: "draw-area", onclick: function () {
          draw(form.querySelector("#drawn"), function (geometry) {
            drawn = geometry;
            form.querySelector("#drawn").textContent = s("saved");
          });
        }, text: s("draw_area")}), el("span", {id: "drawn", class: "hint"})),
        el("button", {type: "submit", text: s("submit")}), el("div", {id: "declare-msg"}));
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        var body = {title: form.title.value, type: form.type.value, level: form.level.value,
                    commander: form.commander.value, case_id: c.id};
        if (drawn) { body.area = drawn; } else { body.buffer_m = Number(form.buffer_m.value); }
        NH.api("/api/v1/incidents", {method: "POST", json: body})
          .then(function (i) { enter(i.id); }).catch(fail(form.querySelector("#declare-msg")));
      });
      NH.show(form);
    });
  }

  // Geoman polygon drawing (clicks place the corners; a click on the first one or a double click ends it)
  function draw(hint, then) {
    window.nhCommandMode = true;
    if (hint) { hint.textContent = s("draw_help"); }
    if (map.pm.setLang) { map.pm.setLang(NH.ctx.lang === "zh" ? "zh" : "en"); }
    map.pm.enableDraw("Polygon", {snappable: false, finishOn: "dblclick"});
    map.once("pm:create", function (created) {
      var geometry = created.layer.toGeoJSON().geometry;
      map.removeLayer(created.layer);
      if (!state.incident) { window.nhCommandMode = false; }
      done("areaDrawn", geometry.coordinates[0].length);
      then(geometry);
    });
  }

  // -- the command view --------------------------------------------------------------------------------------
  function enter(id) {
    window.nhCommandMode = true;
    document.body.classList.add("emergency");
    document.getElementById("queue").style.display = "none";  // .queue is display:flex, which [hidden] loses to
    var box = view();
    if (!box) {
      box = el("section", {id: "command-view", class: "command-view", "aria-live": "polite"});
      document.querySelector(".console").appendChild(box);
    }
    box.hidden = false;
    document.getElementById("emergency-toggle").textContent = s("back");
    load(id, true);
    clearInterval(state.timer);
    state.timer = setInterval(function () { if (!document.hidden && state.incident) { load(state.incident.id); } }, 10000);
  }

  function leave() {
    clearInterval(state.timer);
    if (state.area) { map.removeLayer(state.area); }
    state.incident = state.area = null;
    window.nhCommandMode = false;
    document.body.classList.remove("emergency");
    view().hidden = true;
    document.getElementById("queue").style.display = "";
    document.getElementById("emergency-toggle").textContent = s("emergency");
    delete document.body.dataset.commandLoaded;
    map.invalidateSize();
  }

  function load(id, fit) {
    var base = "/api/v1/incidents/" + id;
    return Promise.all([NH.api(base), NH.api(base + "/summary"), NH.api(base + "/resources/nearest?limit=6"),
                        NH.api(base + "/roll-calls"), NH.api(base + "/log"), NH.api(base + "/suggestions")])
      .then(function (r) {
        state.incident = r[0];
        if (state.area) { map.removeLayer(state.area); }
        state.area = L.geoJSON(r[0].area, {style: {color: "#c0392b", weight: 3, fillOpacity: 0.12, dashArray: "6 4"},
                                           interactive: false}).addTo(map);
        if (fit) { map.invalidateSize(); map.fitBounds(state.area.getBounds(), {padding: [20, 20]}); }
        render(r[0], r[1], r[2], r[3], r[4], r[5]);
        if (fit) { NH.show(el("p", {class: "msg", text: s("incidents") + " #" + r[0].id + " " + r[0].title})); }
        done("commandLoaded", id + ":" + r[0].version + ":" + r[4].length);
      }).catch(function (err) { view().replaceChildren(NH.message(err.message, "error")); });
  }

  function dl(pairs) {
    return el("dl", {}, pairs.map(function (p) { return [el("dt", {text: p[0]}), el("dd", {"data-k": p[2], text: String(p[1])})]; })
      .reduce(function (a, b) { return a.concat(b); }, []));
  }
  function names(list, key) { return list.length ? list.map(function (x) { return x[key || "name"]; }).join("、") : s("none"); }

  function render(i, inside, near, calls, log, suggestions) {
    var may = cfg.may_command && i.status !== "closed";
    var head = el("div", {class: "command-head"},
      el("h3", {text: "#" + i.id + " " + i.title + " · " + i.type_name + " · " + i.level + " · " + s("st_" + i.status)}),
      may ? NEXT[i.status].map(function (to) {
        return el("button", {type: "button", "data-status": to, onclick: function () { status(i, to); }, text: s("to_" + to)});
      }) : null,
      may ? el("button", {type: "button", id: "redraw", onclick: function () {
        draw(document.getElementById("command-msg"), function (g) {
          post("/area", {area: g, version: state.incident.version});
        });
      }, text: s("redraw")}) : null);
    var summary = el("section", {id: "inside"}, el("h4", {text: s("inside")}), dl([
      [s("area_km2"), inside.area_km2, "area_km2"], [s("grid_cells"), inside.grid_cells, "grid_cells"],
      [s("communities"), names(inside.communities), "communities"],
      [s("workstations"), names(inside.workstations), "workstations"],
      [s("compounds"), inside.compounds.length, "compounds"], [s("population"), inside.population, "population"],
      [s("places"), names(inside.places), "places"], [s("open_cases"), inside.open_cases, "open_cases"],
      [s("stations"), names(inside.stations), "stations"],
      [s("on_duty"), names(inside.on_duty, "display_name"), "on_duty"],
      [s("live_positions"), names((inside.live_positions || []).map(function (p) {
        return {name: p.name + " " + NH.when(p.recorded_at) + (p.stale ? " (" + s("stale_position") + ")" : "")};
      })), "live_positions"],
      [s("resources"), inside.resources.length, "resources"]]));
    var resources = el("section", {id: "nearest"}, el("h4", {text: s("nearest")}), el("ul", {}, near.map(function (r) {
      var qty = el("input", {type: "number", min: 1, max: r.available, value: 1, style: "width:4em",
                             "aria-label": s("quantity")});
      return el("li", {"data-resource": r.id, "data-kind": r.kind},
        r.name + " (" + (r.station_code || r.depot || "") + ") " + r.available + r.unit + " · " +
        (r.minutes !== undefined ? r.minutes + " " + s("minutes") : r.straight_km + " km"),
        may ? [qty, el("button", {type: "button", class: "dispatch", onclick: function () {
          post("/dispatches", {resource_id: r.id, quantity: Number(qty.value)});
        }, text: s("dispatch")})] : null);
    })));
    var roll = el("section", {id: "roll-call"}, el("h4", {text: s("roll_call")}),
      calls.map(function (c) {
        return el("div", {class: "call", "data-call": c.id, "data-acknowledged": c.acknowledged, "data-total": c.total},
          el("p", {text: c.text + " · " + s("acknowledged") + " " + c.acknowledged + "/" + c.total}),
          el("ul", {}, c.recipients.map(function (r) {
            return el("li", {class: r.acknowledged_at ? "ack-yes" : "ack-no", "data-user": r.username},
                      r.display_name + " · " + (r.acknowledged_at ? s("acknowledged") + " " + NH.when(r.acknowledged_at) : s("waiting")));
          })),
          may && c.acknowledged < c.total ? el("button", {type: "button", class: "chase", onclick: function () {
            NH.api("/api/v1/instructions/" + c.id + "/chase", {method: "POST"}).then(function () { load(i.id); });
          }, text: s("chase")}) : null);
      }), may ? rollForm(i) : null);
    var logBox = el("section", {id: "log"}, el("h4", {text: s("log")}), el("ol", {}, log.slice().reverse().map(function (e) {
      return el("li", {"data-kind": e.kind}, el("span", {class: "meta", text: NH.when(e.at) + " · " + e.actor + " · "}),
                s("log_" + e.kind) + " " + logText(e));
    })), may ? noteForm() : null);
    var reports = el("section", {id: "reports"}, el("h4", {text: s("reports")}),
      el("ul", {}, i.reports.map(function (r) {
        return el("li", {"data-report": r.id, "data-kind": r.kind}, "#" + r.seq + " " + s("kind_" + r.kind) + " · ",
                  el("a", {href: r.links.html, target: "_blank", text: s("printable")}), " ",
                  el("a", {href: r.links.pdf, target: "_blank", text: s("pdf")}));
      })),
      may ? ["first", "followup", "final"].map(function (k) {
        return el("button", {type: "button", "data-file": k, onclick: function () { post("/reports", {kind: k}); },
                             text: s("file_" + k)});
      }) : null);
    var link = el("section", {id: "suggestions"}, el("h4", {text: s("suggestions")}),
      suggestions.length ? el("ul", {}, suggestions.map(function (c) {
        return el("li", {"data-case": c.id}, "#" + c.id + " " + (c.address || "") + " ",
          may ? el("button", {type: "button", onclick: function () { post("/cases", {case_ids: [c.id]}); }, text: s("link")}) : null);
      })) : el("p", {text: s("none")}),
      el("p", {class: "hint", text: s("linked") + ": " + (i.cases.map(function (c) { return "#" + c.id; }).join(" ") || s("none"))}));
    view().replaceChildren(head, el("div", {id: "command-msg"}),
                           el("div", {class: "cols"}, summary, resources, roll, logBox, reports, link));
  }

  function logText(e) {
    if (e.kind === "status") { return s("st_" + e.data.from) + " → " + s("st_" + e.data.to) + (e.text ? " " + e.text : ""); }
    if (e.kind === "report") { return s("kind_" + e.text); }
    if (e.kind === "declared") { return e.text + " · " + e.data.level; }
    return e.text || "";
  }

  function rollForm(i) {
    var form = el("form", {id: "roll-call-form"},
      el("label", {}, s("instruction"), el("input", {name: "text", required: true, value: ""})),
      el("label", {}, s("people"), el("input", {name: "usernames", placeholder: "user1, user2"})),
      el("label", {class: "check"}, el("input", {type: "checkbox", name: "inside"}), s("on_duty_inside")),
      el("button", {type: "submit", text: s("send")}));
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var names = form.usernames.value.split(/[\s,，、]+/).filter(Boolean);
      post("/roll-calls", {text: form.text.value, usernames: names, on_duty_inside: form.inside.checked});
    });
    return form;
  }

  function noteForm() {
    var form = el("form", {id: "note-form"}, el("input", {name: "text", required: true, "aria-label": s("note")}),
                  el("button", {type: "submit", text: s("add_note")}));
    form.addEventListener("submit", function (e) { e.preventDefault(); post("/notes", {text: form.text.value}); });
    return form;
  }

  function post(path, body) {
    var id = state.incident.id;
    return NH.api("/api/v1/incidents/" + id + path, {method: "POST", json: body})
      .then(function () { return load(id, path === "/area"); })
      .catch(fail(document.getElementById("command-msg")));
  }

  function status(i, to) { post("/status", {status: to, version: i.version}); }

  window.nhCommand = {onCase: onCase, enter: enter, leave: leave};
})();
