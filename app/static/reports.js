// The reports page: KPI tables (ranking by department and station), the monthly trend, a choropleth of cases per
// grid cell on the map, the morning digest, and export buttons.
(function () {
  "use strict";
  var NH = window.NH, el = NH.el, t = NH.t, map = window.nhMap;
  // the town's day (Beijing), not the browser's: for eight hours a day they differ, and a case reported this
  // morning would fall after the period's end
  var today = NH.ctx.today ? new Date(NH.ctx.today + "T00:00:00") : new Date();
  var first = new Date(today.getFullYear(), today.getMonth(), 1);
  var period = {from: iso(new Date(first.getFullYear(), first.getMonth() - 2, 1)), to: iso(new Date(today.getTime() + 86400000))};
  var choropleth = L.layerGroup().addTo(map);
  var COLUMNS = ["cases", "filed", "on_time_dispatch_rate", "on_time_disposal_rate", "closure_rate", "rework_rate",
                 "satisfaction_mean", "self_handled", "self_handled_share", "evaluator_rating_mean", "score", "grade"];

  function iso(d) { return d.getFullYear() + "-" + String(d.getMonth() + 1).padStart(2, "0") + "-" + String(d.getDate()).padStart(2, "0"); }
  function pct(v) { return v === null || v === undefined ? "" : typeof v === "number" && v <= 1 && v >= 0 && String(v).indexOf(".") >= 0 ? Math.round(v * 1000) / 10 + "%" : String(v); }
  function query(extra) { return new URLSearchParams(Object.assign({}, period, extra || {})).toString(); }

  function table(by) {
    var box = el("div", {class: "kpi", id: "kpi-" + by}, el("p", {text: t("loading")}));
    NH.api("/api/v1/kpi?" + query({by: by})).then(function (body) {
      box.replaceChildren(
        el("h4", {text: t("ranking_" + by)}),
        el("table", {}, el("tr", {}, [el("th", {text: t("name")})].concat(COLUMNS.map(function (c) {
          return el("th", {text: t("kpi_" + c)}); }))),
          body.rows.map(function (r) {
            return el("tr", {}, [el("td", {text: r.name})].concat(COLUMNS.map(function (c) {
              return el("td", {text: c === "grade" || c === "cases" || c === "filed" || c === "self_handled" ?
                                       String(r[c] === null ? "" : r[c]) :
                                     c === "score" || c === "satisfaction_mean" || c === "evaluator_rating_mean" ?
                                       String(r[c] === null ? "" : r[c]) : pct(r[c])}); })));
          })),
        el("p", {}, el("a", {href: "/api/v1/kpi.csv?" + query({by: by}), text: "CSV"}), " · ",
          el("a", {href: "/api/v1/kpi.xlsx?" + query({by: by}), text: "XLSX"})));
      document.body.dataset["kpi_" + by] = String(body.rows.length);
    }).catch(function (err) { box.replaceChildren(NH.message(err.message, "error")); });
    return box;
  }

  function trend() {
    var box = el("div", {id: "trend"}, el("h4", {text: t("trend")}));
    NH.api("/api/v1/stats/monthly").then(function (body) {
      var months = body.months.slice(-12);
      var top = Math.max.apply(null, months.map(function (m) { return m.cases; }).concat([1]));
      box.appendChild(el("div", {class: "bars"}, months.map(function (m) {
        return el("div", {style: "height:" + Math.round(100 * m.cases / top) + "%", title: m.month + ": " + m.cases},
                  el("span", {text: String(m.cases)}));
      })));
      box.appendChild(el("div", {class: "bar-labels"}, months.map(function (m) { return el("span", {text: m.month.slice(2)}); })));
      document.body.dataset.trendMonths = String(months.length);
    }).catch(function (err) { box.appendChild(NH.message(err.message, "error")); });
    return box;
  }

  function colour(n, top) {
    if (!n) { return null; }
    var steps = ["#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15"];
    return steps[Math.min(steps.length - 1, Math.floor(steps.length * Math.log(1 + n) / Math.log(2 + top)))];
  }

  function drawChoropleth() {
    Promise.all([NH.api("/api/v1/stats/grid-counts?" + query()), NH.api("/api/v1/layers/grid_cells")])
      .then(function (answers) {
        var counts = answers[0].counts, top = Math.max.apply(null, Object.values(counts).concat([1]));
        choropleth.clearLayers();
        L.geoJSON(answers[1], {
          filter: function (f) { return !!counts[f.properties.code]; },
          style: function (f) { return {stroke: false, fillColor: colour(counts[f.properties.code], top), fillOpacity: 0.75}; },
          onEachFeature: function (f, layer) { NH.tip(layer, f.properties.code + ": " + counts[f.properties.code]); }
        }).addTo(choropleth);
        document.body.dataset.choropleth = String(Object.keys(counts).length);
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

  function render() {
    NH.show(el("div", {class: "reports-page"},
      el("h3", {text: t("reports_title")}), periodForm(), trend(), table("department"), table("station"), table("workstation"),
      el("p", {}, el("a", {href: "/digest", text: t("digest")}))));
    drawChoropleth();
  }
  render();
})();
