// The reports page: KPI rankings (departments, stations, workstations; sortable, every number opens the list of
// its cases), each indicator's definition one click away, the trend of the chosen period, a choropleth of the
// period's cases per grid cell with its legend, the morning digest, the bulletins and exports.
(function () {
  "use strict";
  var NH = window.NH, el = NH.el, t = NH.t, map = window.nhMap, ctx = NH.ctx;
  // the town's day (Beijing), not the browser's: for eight hours a day they differ, and a case reported this
  // morning would fall after the period's end
  var today = ctx.today ? new Date(ctx.today + "T00:00:00") : new Date();
  var first = new Date(today.getFullYear(), today.getMonth(), 1);
  var period = {from: iso(new Date(first.getFullYear(), first.getMonth() - 2, 1)), to: iso(new Date(today.getTime() + 86400000))};
  map.createPane("choropleth").style.zIndex = 450;  // over the roads and boundaries (the overlay pane is 400)
  var choropleth = L.layerGroup().addTo(map);
  var legend = null, defs = null;
  var COLUMNS = ["cases", "filed", "on_time_dispatch_rate", "on_time_disposal_rate", "closure_rate",
                 "on_time_closure_rate", "overdue_open", "rework_rate", "satisfaction_mean", "self_handled",
                 "self_handled_share", "evaluator_rating_mean", "score", "grade"];
  var COUNTS = ["cases", "filed", "overdue_open", "self_handled"];
  var RATES = ["on_time_dispatch_rate", "on_time_disposal_rate", "closure_rate", "on_time_closure_rate", "rework_rate",
               "self_handled_share"];
  var PALETTE = ["#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026"];
  var sorts = {};

  function iso(d) { return d.getFullYear() + "-" + String(d.getMonth() + 1).padStart(2, "0") + "-" + String(d.getDate()).padStart(2, "0"); }
  function pct(v) { return v === null || v === undefined ? "–" : (Math.round(v * 1000) / 10).toFixed(1) + "\u00a0%"; }
  function query(extra) { return new URLSearchParams(Object.assign({}, period, {lang: ctx.lang}, extra || {})).toString(); }
  function name(key) { return key === "name" ? t("name") : (defs && defs.names[key]) || t("kpi_" + key); }

  function shown(row, c) {
    if (c === "grade") { return row.graded ? String(row.grade || "–") : defs.not_graded; }
    if (RATES.indexOf(c) >= 0) { return pct(row[c]); }
    return row[c] === null || row[c] === undefined ? "–" : String(row[c]);
  }

  function explain(key, box) {
    box.replaceChildren(el("strong", {text: name(key) + ": "}), defs.indicators[key] || "");
    box.hidden = false;
    box.dataset.indicator = key;
  }

  function header(by, c, rows, render, box) {
    var arrow = sorts[by] && sorts[by].key === c ? (sorts[by].dir > 0 ? " ▲" : " ▼") : "";
    return el("th", {"data-col": c},
      el("button", {type: "button", class: "sort", title: t("sort"), text: name(c) + arrow, onclick: function () {
        var dir = sorts[by] && sorts[by].key === c ? -sorts[by].dir : (c === "rework_rate" || c === "overdue_open" ? 1 : -1);
        sorts[by] = {key: c, dir: dir};
        render();
      }}),
      c === "name" ? null : el("button", {type: "button", class: "def", title: t("definition"),
        "aria-label": t("definition") + ": " + name(c), text: "ⓘ", onclick: function () { explain(c, box); }}));
  }

  function sortRows(by, rows) {
    var s = sorts[by];
    if (!s) { return rows; }
    var value = function (r) {
      if (s.key === "name") { return r.name; }
      if (s.key === "grade") { return r.graded ? r.score : null; }
      return r[s.key];
    };
    return rows.slice().sort(function (a, b) {
      var x = value(a), y = value(b);
      if (x === null || x === undefined) { return 1; }
      if (y === null || y === undefined) { return -1; }
      return (typeof x === "string" ? x.localeCompare(y) : x - y) * s.dir;
    });
  }

  function cell(by, row, c) {
    var text = shown(row, c);
    if ((COUNTS.indexOf(c) >= 0 || RATES.indexOf(c) >= 0) && row[c] !== null && row[c] !== undefined) {
      return el("td", {class: "num"}, el("a", {href: "#", class: "drill-link", "data-indicator": c, text: text,
        onclick: function (e) { e.preventDefault(); drill(by, row.group, row.name, c); }}));
    }
    return el("td", {class: c === "grade" && !row.graded ? "ungraded" : "num", text: text});
  }

  function table(by) {
    var box = el("div", {class: "kpi", id: "kpi-" + by}, el("p", {text: t("loading")}));
    NH.api("/api/v1/kpi?" + query({by: by})).then(function (body) {
      var definition = el("p", {class: "definition", hidden: true});
      var render = function () {
        var rows = sortRows(by, body.rows);
        box.replaceChildren(
          el("h4", {text: t("ranking_" + by)}),
          el("table", {class: "ranking"},
            el("tr", {}, [header(by, "name", rows, render, definition)].concat(COLUMNS.map(function (c) {
              return header(by, c, rows, render, definition); }))),
            rows.map(function (r) {
              return el("tr", {"data-group": r.group}, [el("td", {text: r.name})].concat(COLUMNS.map(function (c) {
                return cell(by, r, c); })));
            })),
          definition,
          el("p", {}, el("a", {href: "/api/v1/kpi.csv?" + query({by: by}), text: "CSV"}), " · ",
            el("a", {href: "/api/v1/kpi.xlsx?" + query({by: by}), text: "XLSX"})));
      };
      render();
      document.body.dataset["kpi_" + by] = String(body.rows.length);
    }).catch(function (err) { box.replaceChildren(NH.message(err.message, "error")); });
    return box;
  }

  function drill(by, group, label, indicator) {
    var box = document.getElementById("drill");
    box.replaceChildren(el("p", {text: t("loading")}));
    box.hidden = false;
    NH.api("/api/v1/kpi/cases?" + query({by: by, group: group, indicator: indicator})).then(function (body) {
      var head = body.of === null ? body.count + " " + t("cases_word") :
        body.count + " / " + body.of + " = " + pct(body.value);
      box.replaceChildren(
        el("h4", {text: label + " · " + name(indicator) + ": " + head}),
        el("p", {class: "definition", text: defs.indicators[indicator] || ""}),
        body.hidden ? NH.message(t("hidden_cases").replace("%(n)s", body.hidden)) : null,
        el("table", {class: "drill-list"},
          el("tr", {}, el("th", {text: t("case")}), el("th", {text: t("category")}), el("th", {text: t("state")}),
             el("th", {text: t("reported_on")}), body.of === null ? null : el("th", {text: t("counted")})),
          body.cases.map(function (c) {
            return el("tr", {class: c.counted ? "counted" : "", "data-case": c.id},
              el("td", {}, el("a", {href: "/#case=" + c.id, text: "#" + c.id})),
              el("td", {text: c.category}), el("td", {text: NH.state(c.state)}),
              el("td", {text: c.first_reported_at.slice(0, 10)}),
              body.of === null ? null : el("td", {text: c.counted ? "✓" : ""}));
          })),
        el("button", {type: "button", text: t("close"), onclick: function () { box.hidden = true; }}));
      box.dataset.count = String(body.count);
      box.dataset.listed = String(body.cases.filter(function (c) { return c.counted; }).length);
      box.scrollIntoView({block: "nearest"});
    }).catch(function (err) { box.replaceChildren(NH.message(err.message, "error")); });
  }

  function trend() {
    var box = el("div", {id: "trend"}, el("h4", {text: t("trend")}));
    NH.api("/api/v1/stats/monthly?" + query()).then(function (body) {
      var buckets = body.buckets;
      var top = Math.max.apply(null, buckets.map(function (m) { return m.cases; }).concat([1]));
      box.firstChild.textContent = (body.unit === "day" ? t("trend_days") : t("trend")) + " (" + body.total + ")";
      box.appendChild(el("div", {class: "bars"}, buckets.map(function (m) {
        return el("div", {style: "height:" + Math.round(100 * m.cases / top) + "%", title: m.period + ": " + m.cases},
                  buckets.length <= 31 ? el("span", {text: String(m.cases)}) : null);
      })));
      var every = Math.ceil(buckets.length / 12);
      box.appendChild(el("div", {class: "bar-labels"}, buckets.map(function (m, i) {
        return el("span", {text: i % every ? "" : (body.unit === "day" ? m.period.slice(5) : m.period.slice(2))}); })));
      document.body.dataset.trendMonths = String(buckets.length);
      document.body.dataset.trendFirst = buckets.length ? buckets[0].period : "";
    }).catch(function (err) { box.appendChild(NH.message(err.message, "error")); });
    return box;
  }

  // classes: up to five, by quantiles of the cells' counts (cells with no case are not drawn)
  function breaks(values) {
    var sorted = values.slice().sort(function (a, b) { return a - b; }), out = [];
    for (var k = 1; k <= PALETTE.length; k++) {
      var v = sorted[Math.min(sorted.length - 1, Math.ceil(k * sorted.length / PALETTE.length) - 1)];
      if (out.indexOf(v) < 0) { out.push(v); }
    }
    return out;  // the upper bound of each class
  }

  function classOf(n, tops) {
    for (var i = 0; i < tops.length; i++) { if (n <= tops[i]) { return i; } }
    return tops.length - 1;
  }

  function colours(tops) {  // spread the palette over however many classes there are
    return tops.map(function (_, i) {
      return PALETTE[tops.length === 1 ? PALETTE.length - 1 : Math.round(i * (PALETTE.length - 1) / (tops.length - 1))];
    });
  }

  function drawLegend(tops, fills, body) {
    if (legend) { map.removeControl(legend); }
    legend = L.control({position: "bottomright"});
    legend.onAdd = function () {
      var lo = 1;
      var rows = tops.map(function (top, i) {
        var row = el("div", {class: "legend-row"}, el("i", {style: "background:" + fills[i]}),
                     lo === top ? String(top) : lo + "–" + top);
        lo = top + 1;
        return row;
      });
      return el("div", {class: "nh-legend choropleth-legend", id: "choropleth-legend"},
        el("strong", {text: t("cases_per_cell")}), rows,
        el("div", {class: "legend-row"}, el("i", {class: "none"}), t("no_cases")),
        el("div", {class: "legend-row"}, el("i", {class: "chronic-mark"}), t("chronic")),
        el("small", {text: t("map_total").replace("%(n)s", body.total - body.without_grid_cell)
                                          .replace("%(m)s", body.without_grid_cell)}));
    };
    legend.addTo(map);
  }

  function drawChoropleth(note) {
    Promise.all([NH.api("/api/v1/stats/grid-counts?" + query()), NH.api("/api/v1/layers/grid_cells")])
      .then(function (answers) {
        var counts = answers[0].counts, values = Object.values(counts);
        var tops = values.length ? breaks(values) : [1], fills = colours(tops);
        choropleth.clearLayers();
        L.geoJSON(answers[1], {
          pane: "choropleth",
          filter: function (f) { return !!counts[f.properties.code]; },
          style: function (f) {
            return {color: "#5a1a00", weight: 0.6, opacity: 0.9, fillColor: fills[classOf(counts[f.properties.code], tops)],
                    fillOpacity: 0.85};
          },
          onEachFeature: function (f, layer) {
            var n = counts[f.properties.code], k = classOf(n, tops), label = f.properties.code + ": " + n + " " + t("cases_word");
            var open = function () { drill("grid", f.properties.code, f.properties.code, "cases"); };
            NH.tip(layer, label);
            layer.on("click", open);
            // a one-hectare cell is a speck at the town's zoom: a dot of its class's colour marks it
            var dot = L.circleMarker(layer.getBounds().getCenter(), {pane: "choropleth", radius: 4 + 2 * k, weight: 1,
              color: "#5a1a00", fillColor: fills[k], fillOpacity: 0.9}).on("click", open).addTo(choropleth);
            NH.tip(dot, label);
          }
        }).addTo(choropleth);
        drawLegend(tops, fills, answers[0]);
        note.textContent = t("totals_note").replace("%(n)s", answers[0].total)
          .replace("%(g)s", answers[0].total - answers[0].without_grid_cell).replace("%(m)s", answers[0].without_grid_cell);
        document.body.dataset.choropleth = String(Object.keys(counts).length);
        document.body.dataset.choroplethTotal = String(values.reduce(function (a, b) { return a + b; }, 0));
      }).catch(function (err) { console.warn("choropleth not drawn:", err.message); });
  }

  function periodForm() {
    var form = el("form", {class: "period"},
      el("label", {}, t("from"), el("input", {type: "date", name: "from", value: period.from})),
      el("label", {}, t("to"), el("input", {type: "date", name: "to", value: period.to})),
      el("button", {type: "submit", text: t("apply")}));
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var data = new FormData(form);
      period = {from: data.get("from"), to: data.get("to")};
      render();
    });
    return form;
  }

  function definitions() {
    var weights = Object.keys(defs.weights).map(function (k) {
      return el("li", {text: (defs.parts[k] || k) + ": " + Math.round(defs.weights[k] * 100) + " %"}); });
    var grades = defs.grades.map(function (g) { return g[0] + " ≥ " + g[1]; }).join(" · ");
    return el("details", {class: "definitions", id: "definitions"},
      el("summary", {text: t("definitions")}),
      el("p", {text: defs.period}),
      el("dl", {}, Object.keys(defs.indicators).map(function (k) {
        return el("div", {}, el("dt", {text: defs.names[k] || k}), el("dd", {text: defs.indicators[k]})); })),
      el("h5", {text: t("weights")}), el("ul", {}, weights),
      el("p", {text: t("grades") + ": " + grades}),
      el("p", {text: defs.min_cases.replace("%(n)s", defs.min_cases_value)}));
  }

  // chronic problems (管理顽症): on the map as diamonds, listed with their control, editable by the controllers
  var chronicLayer = L.layerGroup().addTo(map);
  var CONTROLLERS = ["admin", "leader", "shift_leader", "supervisor"];

  function controlForm(p, done) {
    var form = el("form", {class: "chronic-form", "data-problem": p.id},
      el("label", {}, t("owner"), el("input", {name: "owner", value: p.owner || "", maxlength: 120})),
      el("label", {}, t("plan"), el("textarea", {name: "plan", rows: 2, maxlength: 4000, text: p.plan || ""})),
      el("label", {}, t("review_on"), el("input", {type: "date", name: "review_on", value: p.review_on || ""})),
      el("label", {}, t("state"), el("select", {name: "status"}, ["open", "controlled", "resolved"].map(function (v) {
        return el("option", {value: v, selected: v === p.status, text: t("chronic_" + v)}); }))),
      el("label", {}, t("note"), el("input", {name: "note", maxlength: 2000})),
      el("button", {type: "submit", text: t("submit")}));
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var data = new FormData(form), body = {version: p.version, status: data.get("status")};
      ["owner", "plan", "review_on", "note"].forEach(function (k) { if (data.get(k)) { body[k] = data.get(k); } });
      NH.api("/api/v1/chronic/" + p.id, {method: "POST", json: body}).then(done)
        .catch(function (err) { form.appendChild(NH.message(err.message, "error")); });
    });
    return form;
  }

  function chronicList() {
    var box = el("div", {id: "chronic"}, el("h4", {text: t("chronic")}));
    var may = CONTROLLERS.indexOf(ctx.user.role) >= 0;
    var load = function () {
      NH.api("/api/v1/chronic?lang=" + ctx.lang).then(function (body) {
        box.replaceChildren(el("h4", {text: t("chronic") + " (" + body.problems.length + ")"}),
          el("table", {class: "drill-list"},
            el("tr", {}, el("th", {text: t("grid")}), el("th", {text: t("category")}), el("th", {text: t("state")}),
               el("th", {text: t("owner")}), el("th", {text: t("review_on")}), el("th", {text: t("kpi_cases")}), el("th")),
            body.problems.map(function (p) {
              var row = el("tr", {"data-problem": p.id}, el("td", {text: p.grid_code}), el("td", {text: p.category}),
                el("td", {text: t("chronic_" + p.status)}), el("td", {text: p.owner || "–"}),
                el("td", {text: p.review_on || "–"}), el("td", {class: "num", text: String(p.now ? p.now.cases : 0)}),
                el("td", {}, may ? el("button", {type: "button", text: t("control"), onclick: function () {
                  row.after(el("tr", {}, el("td", {colspan: 7}, controlForm(p, load))));
                }}) : null));
              return row;
            })));
        document.body.dataset.chronic = String(body.problems.length);
      }).catch(function (err) { box.appendChild(NH.message(err.message, "error")); });
      NH.api("/api/v1/chronic.geojson?lang=" + ctx.lang).then(function (fc) {
        chronicLayer.clearLayers();
        L.geoJSON(fc, {pointToLayer: function (f, latlng) {
          return L.marker(latlng, {icon: L.divIcon({className: "chronic-icon", html: "", iconSize: [14, 14]}),
                                   pane: "choropleth"});
        }, onEachFeature: function (f, layer) {
          NH.tip(layer, t("chronic") + ": " + f.properties.category + " · " + f.properties.grid_code + " · " +
                 t("chronic_" + f.properties.status));
        }}).addTo(chronicLayer);
      }).catch(function (err) { console.warn("chronic problems not drawn:", err.message); });
    };
    load();
    return box;
  }

  function render() {
    var note = el("p", {class: "period-note", id: "period-note"});
    NH.show(el("div", {class: "reports-page"},
      el("h3", {text: t("reports_title")}), periodForm(),
      el("p", {class: "definition", text: defs.period}), note, definitions(), trend(),
      el("div", {id: "drill", class: "drill", hidden: true}),
      table("department"), table("station"), table("workstation"), chronicList(),
      el("p", {}, el("a", {href: "/digest", text: t("digest")}), " · ", el("a", {href: "/bulletins", text: t("bulletins")}))));
    drawChoropleth(note);
  }

  NH.api("/api/v1/kpi/definitions?lang=" + ctx.lang).then(function (body) {
    defs = body;
    defs.min_cases_value = body.min_cases;
    defs.min_cases = body.min_cases_text;
    render();
  }).catch(function (err) { NH.show(NH.message(err.message, "error")); });
})();
