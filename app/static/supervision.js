// The supervisor page (督查督办): near-due and overdue cases as lists and on the map, supervision orders with their
// history; supervisors open, remind and close orders, a case's owner answers them.
(function () {
  "use strict";
  var NH = window.NH, el = NH.el, ctx = NH.ctx, map = window.nhMap;
  var P = ctx.page || {};
  function p(key) { return P[key] || NH.t(key); }
  var categories = {}, lists = {near_due: [], overdue: []}, orderState = "open";
  var layer = L.layerGroup().addTo(map);
  var SHAPES = {yellow: "▲", red: "■"};

  function named(list, code) {
    var found = (list || []).filter(function (x) { return x.code === code; })[0];
    return found ? found.name : code;
  }
  function ownerName(owner) {
    if (!owner) { return ""; }
    var parts = owner.split(":");
    return named(parts[0] === "department" ? ctx.departments : ctx.stations, parts[1]);
  }
  function message(err) { return NH.message(err.message, "error"); }

  // ---- near-due and overdue ------------------------------------------------------------------
  function caseTable(name, features) {
    var rows = features.map(function (f) {
      var c = f.properties;
      return el("tr", {"data-case": c.id},
        el("td", {text: "#" + c.id}), el("td", {text: categories[c.category] || c.category}),
        el("td", {text: named(ctx.stations, c.station)}), el("td", {text: ownerName(c.owner)}),
        el("td", {text: NH.when(c.deadline)}),
        el("td", {text: c.escalation_level ? c.escalation_level + " " + (ctx.escalation_levels[c.escalation_level] || "") : ""}),
        el("td", {}, ctx.supervises ? el("button", {type: "button", "data-open-order": c.id, text: p("open_order"),
                                                     onclick: function () { orderForm(c); }}) : null));
    });
    return el("section", {class: "sup-list", id: "list-" + name},
      el("h4", {}, el("span", {class: "light-mark light-" + (name === "overdue" ? "red" : "yellow"), "aria-hidden": "true",
                               text: name === "overdue" ? SHAPES.red : SHAPES.yellow}), " ", p(name) + " (" + features.length + ")",
         features.length ? el("button", {type: "button", class: "export", "data-export": name, text: p("export"),
                                         onclick: function () { download(name, features); }}) : null),
      features.length ? el("table", {},
        el("tr", {}, ["case_no", "category", "station", "owner", "deadline", "escalation", ""].map(function (k) {
          return el("th", {text: k ? p(k) : ""}); })), rows) : el("p", {class: "hint", text: p("none")}));
  }

  // a list as CSV (with a BOM, so that spreadsheet programs read the Chinese), made in the page
  function download(name, features) {
    var cell = function (v) { v = v === null || v === undefined ? "" : String(v); return /^[=+\-@]/.test(v) ? "'" + v : v; };
    var quote = function (v) { return "\"" + cell(v).replace(/"/g, "\"\"") + "\""; };
    var lines = [["case_no", "category", "station", "owner", "deadline", "escalation", "reported"].map(function (k) {
      return quote(p(k)); }).join(",")];
    features.forEach(function (f) {
      var c = f.properties;
      lines.push([c.id, categories[c.category] || c.category, named(ctx.stations, c.station), ownerName(c.owner),
                  NH.when(c.deadline), c.escalation_level || "", NH.when(c.first_reported_at)].map(quote).join(","));
    });
    var blob = new Blob(["\ufeff" + lines.join("\r\n") + "\r\n"], {type: "text/csv;charset=utf-8"});
    var a = el("a", {href: URL.createObjectURL(blob), download: "supervision-" + name + ".csv"});
    document.body.appendChild(a); a.click(); a.remove();
  }

  function drawMap() {
    layer.clearLayers();
    [["near_due", "#f1c40f"], ["overdue", "#e74c3c"]].forEach(function (pair) {
      lists[pair[0]].forEach(function (f) {
        var c = f.geometry.coordinates;
        var m = L.circleMarker([c[1], c[0]], {radius: 7, color: "#333", weight: 1, fillColor: pair[1], fillOpacity: 0.9});
        NH.tip(m, "#" + f.id + " " + p(pair[0]));
        m.on("click", function () {
          var row = document.querySelector("tr[data-case='" + f.id + "']");
          Array.prototype.forEach.call(document.querySelectorAll(".sup-list tr.selected"), function (r) { r.classList.remove("selected"); });
          if (row) { row.classList.add("selected"); row.scrollIntoView({block: "nearest"}); }
        });
        layer.addLayer(m);
      });
    });
  }

  function loadLists() {
    return NH.api("/api/v1/supervision/lists").then(function (body) {
      lists.near_due = body.near_due.features; lists.overdue = body.overdue.features;
      NH.put(document.getElementById("sup-lists"), caseTable("overdue", lists.overdue), caseTable("near_due", lists.near_due));
      drawMap();
      document.body.dataset.supLists = String(Date.now());
    }).catch(function (err) { NH.put(document.getElementById("sup-lists"), message(err)); });
  }

  function orderForm(c) {
    var form = el("form", {class: "order-form", id: "order-form", "data-case": c.id},
      el("h4", {text: p("open_order") + " · #" + c.id}),
      el("label", {}, p("method"), el("select", {name: "method"}, Object.keys(ctx.methods).map(function (m) {
        return el("option", {value: m, text: ctx.methods[m]}); }))),
      el("label", {}, p("reason"), el("textarea", {name: "reason", rows: 2, maxlength: 2000, required: true})),
      el("label", {}, p("due_at"), el("input", {type: "datetime-local", name: "due_at"})),
      el("button", {type: "submit", text: p("submit")}),
      el("button", {type: "button", text: p("cancel"), onclick: function () { form.remove(); }}));
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var data = new FormData(form), body = {method: data.get("method"), reason: data.get("reason")};
      if (data.get("due_at")) { body.due_at = new Date(data.get("due_at")).toISOString(); }
      NH.api("/api/v1/cases/" + c.id + "/supervision", {method: "POST", json: body}).then(function (order) {
        form.remove();
        loadOrders();
        showOrder(order.id, p("order_opened"));
      }).catch(function (err) { form.appendChild(message(err)); });
    });
    document.getElementById("sup-form").replaceChildren(form);
  }

  // ---- orders ----------------------------------------------------------------------------------
  function loadOrders() {
    var q = orderState ? "?state=" + orderState : "";
    return NH.api("/api/v1/supervision" + q).then(function (body) {
      var rows = body.orders.map(function (o) {
        return el("tr", {"data-order": o.id, tabindex: 0, onclick: function () { showOrder(o.id); },
                         onkeydown: function (e) { if (e.key === "Enter") { showOrder(o.id); } }},
          el("td", {text: String(o.id)}), el("td", {text: "#" + o.case_id}), el("td", {text: ctx.methods[o.method] || o.method}),
          el("td", {text: ctx.order_states[o.state] || o.state}), el("td", {text: NH.when(o.created_at)}),
          el("td", {text: NH.when(o.due_at)}));
      });
      NH.put(document.getElementById("sup-orders"), body.orders.length ? el("table", {},
        el("tr", {}, ["order", "case_no", "method", "state", "created", "due_at"].map(function (k) {
          return el("th", {text: p(k)}); })), rows) : el("p", {class: "hint", text: p("none")}));
      document.body.dataset.supOrders = String(body.orders.length);
    }).catch(function (err) { NH.put(document.getElementById("sup-orders"), message(err)); });
  }

  function orderActions(o) {
    var names = [];
    if (o.state === "open" && ctx.answers && !ctx.supervises) { names.push("answer"); }  // owners report back
    if (o.state !== "closed" && ctx.supervises) { names.push("remind", "close"); }
    var note = el("textarea", {name: "note", rows: 2, maxlength: 2000, "aria-label": p("note")});
    var out = el("div", {class: "order-out"});
    return el("div", {class: "order-actions"}, names.length ? el("label", {}, p("note"), note) : null,
      names.map(function (a) {
        return el("button", {type: "button", "data-order-action": a, text: p(a), onclick: function () {
          var body = {action: a};
          if (note.value.trim()) { body.note = note.value.trim(); }
          NH.api("/api/v1/supervision/" + o.id + "/actions", {method: "POST", json: body}).then(function (updated) {
            renderOrder(updated); loadOrders();
          }).catch(function (err) { out.replaceChildren(message(err)); });
        }});
      }), out);
  }

  function renderOrder(o, note) {
    var box = el("div", {class: "order", "data-order": o.id, "data-state": o.state},
      el("h4", {text: p("order") + " " + o.id + " · " + p("case_no") + " #" + o.case_id}),
      note ? NH.message(note) : null,
      el("div", {class: "row"}, el("span", {class: "k", text: p("state")}), el("span", {class: "v", text: ctx.order_states[o.state] || o.state})),
      el("div", {class: "row"}, el("span", {class: "k", text: p("method")}), el("span", {class: "v", text: ctx.methods[o.method] || o.method})),
      el("div", {class: "row"}, el("span", {class: "k", text: p("reason")}), el("span", {class: "v", text: o.reason + (o.automatic ? " (" + p("automatic") + ")" : "")})),
      o.due_at ? el("div", {class: "row"}, el("span", {class: "k", text: p("due_at")}), el("span", {class: "v", text: NH.when(o.due_at)})) : null,
      el("h4", {text: p("history")}),
      el("ol", {class: "history"}, (o.history || []).map(function (h) {
        return el("li", {}, el("span", {class: "meta", text: NH.when(h.at) + " · " + h.actor}), " " + (p(h.action) || h.action),
                  h.note ? el("div", {class: "note", text: h.note}) : null);
      })),
      orderActions(o));
    NH.put(document.getElementById("sup-order"), box);
  }

  function showOrder(id, note) {
    return NH.api("/api/v1/supervision/" + id).then(function (o) { renderOrder(o, note); })
      .catch(function (err) { NH.put(document.getElementById("sup-order"), message(err)); });
  }

  function page() {
    var filter = el("select", {id: "order-state", "aria-label": p("state"), onchange: function (e) {
      orderState = e.target.value; loadOrders(); }},
      el("option", {value: "", text: p("all")}), Object.keys(ctx.order_states).map(function (s) {
        return el("option", {value: s, text: ctx.order_states[s], selected: s === orderState}); }));
    NH.show(el("div", {class: "supervision"},
      el("h3", {text: p("title")}),
      el("div", {id: "sup-form"}), el("div", {id: "sup-order"}),
      el("h4", {}, p("orders"), " ", filter), el("div", {id: "sup-orders"}),
      el("div", {id: "sup-lists"}, el("p", {text: p("loading")}))));
  }

  page();
  NH.api("/api/v1/categories").then(function (body) {
    body.categories.forEach(function (c) { categories[c.code] = ctx.lang === "zh" ? c.name : c.name_en || c.name; });
  }).catch(function () { /* codes stay */ }).then(function () { loadLists(); loadOrders(); });
  setInterval(function () { if (!document.hidden) { loadLists(); loadOrders(); } }, 30000);
})();
