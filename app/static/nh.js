// Shared helpers of the consoles: strings, safe DOM building, JSON calls with the CSRF token.
(function () {
  "use strict";
  var ctx = JSON.parse(document.getElementById("nh-context").textContent);

  function t(key) { return (ctx.strings && ctx.strings[key]) || key; }

  // el("div", {class: "x", onclick: f}, child, "text"...): text is always set as text, never as HTML.
  function el(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) { return; }
      if (k.slice(0, 2) === "on") { node.addEventListener(k.slice(2), v); }
      else if (k === "text") { node.textContent = v; }
      else { node.setAttribute(k, v === true ? "" : v); }
    });
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined) { continue; }
      if (Array.isArray(c)) { c.forEach(function (x) { if (x) { node.appendChild(x); } }); }
      else { node.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c); }
    }
    return node;
  }

  // what the server said, in the page's language (every error answer carries message and message_zh)
  function said(body) {
    if (!body) { return null; }
    return (ctx.lang === "zh" && body.message_zh) || body.message || null;
  }

  function api(path, options) {
    options = options || {};
    var headers = {"Accept": "application/json"};
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(options.json);
    }
    if (options.method && options.method !== "GET") { headers["X-CSRFToken"] = ctx.csrf; }
    return fetch(path, {method: options.method || "GET", headers: headers, body: options.body,
                        credentials: "same-origin"})
      .then(function (r) {
        return r.text().then(function (text) {
          var body = null;
          try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
          if (!r.ok) {
            var err = new Error(said(body) || (t("error") + " (" + r.status + ")"));
            err.status = r.status; err.body = body;
            throw err;
          }
          return body;
        });
      });
  }

  function state(code) { return (ctx.states && ctx.states[code]) || code; }
  function action(code) { return (ctx.actions && ctx.actions[code]) || code; }
  function when(iso) { return iso ? new Date(iso).toLocaleString(ctx.lang === "zh" ? "zh-CN" : "en-GB") : ""; }
  function lightColour(light) { return {green: "#27ae60", yellow: "#f1c40f", red: "#e74c3c"}[light] || "#7f8c8d"; }
  var STATE_COLOURS = {reported: "#8e44ad", verified: "#9b59b6", filed: "#2980b9", dispatched: "#e67e22",
    in_progress: "#d35400", handled: "#16a085", checked: "#1abc9c", suspended: "#7f8c8d", closed: "#95a5a6",
    archived: "#bdc3c7", not_filed: "#bdc3c7", "void": "#bdc3c7"};

  // node.replaceChildren() without the nulls (it would print them as "null")
  function put(node) {
    var kids = Array.prototype.slice.call(arguments, 1).filter(function (k) { return k !== null && k !== undefined; });
    node.replaceChildren.apply(node, kids);
    return node;
  }

  function side() { return document.getElementById("side"); }
  function show(node) { var s = side(); s.replaceChildren(node); s.classList.add("open"); }
  function message(text, kind) {
    return el("p", {class: "msg " + (kind || ""), role: kind === "error" ? "alert" : "status", text: text});
  }

  // A tooltip whose text is text: Leaflet takes a string as HTML, so names typed by people go in a span.
  function tip(layer, text, options) {
    var span = document.createElement("span");
    span.textContent = text === null || text === undefined ? "" : String(text);
    return layer.bindTooltip(span, options);
  }

  // every map page: a metric scale (the page's folium map has none: it would show miles and feet)
  if (window.nhMap && L.control.scale) {
    L.control.scale({metric: true, imperial: false, position: "bottomleft"}).addTo(window.nhMap)
      .getContainer().classList.add("nh-scale");
  }

  window.NH = {ctx: ctx, t: t, el: el, api: api, said: said, state: state, action: action, when: when, tip: tip,
               lightColour: lightColour, stateColours: STATE_COLOURS, show: show, side: side, message: message, put: put};
})();
