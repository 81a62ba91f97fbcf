// The field app (/field), phone first: my route of the day (the next stop first), my tasks (accept, feed back with
// photos, check), a full-screen map of our own basemap layers, reports with photos, and an outbox. Every write goes
// through the outbox (IndexedDB, Dexie) with its Idempotency-Key and is sent when the network allows; a 409 stays
// in the outbox, shown, until the officer discards it. The day's data is kept in IndexedDB for working offline.
(function () {
  "use strict";
  var ctx = NH.ctx;  // nh.js: the context, strings and safe DOM building the consoles share
  var csrf = ctx.csrf;
  var db = new Dexie("nh-field-" + ctx.user.username);
  db.version(1).stores({outbox: "++id, state", kept: "key"});
  var dayData = null, map = null, routeLayer = null, routeBounds = null, meMarker = null, here = null, categories = [];
  var positionBuffer = [], watchId = null, flushing = false;
  var MAX_SIDE = 1600;  // photos are resized on the phone to at most this many pixels a side

  var t = NH.t, state = NH.state, actionName = NH.action, when = NH.when, el = NH.el;
  function hhmm(iso) { return new Date(iso).toLocaleTimeString(ctx.lang === "zh" ? "zh-CN" : "en-GB", {hour: "2-digit", minute: "2-digit"}); }
  function uuid() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    return "k" + Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  function message(text, kind) { return el("p", {class: "f-msg " + (kind || ""), role: kind === "error" ? "alert" : "status", text: text}); }
  function said(body, status) { return NH.said(body) || (t("error") + " (" + status + ")"); }

  // ---- talking to the server ---------------------------------------------------------------------------------
  function getJSON(path) {
    return fetch(path, {credentials: "same-origin", headers: {"Accept": "application/json"}}).then(function (r) {
      return r.json().then(function (body) { if (!r.ok) { var e = new Error(said(body, r.status)); e.status = r.status; throw e; } return body; });
    });
  }

  // one queued write: {kind, url, key, json, files: {field: [Blob]}, jsonField} -> a Response (never throws on 4xx)
  function send(item) {
    var headers = {"Accept": "application/json", "X-CSRFToken": csrf};
    if (item.key) { headers["Idempotency-Key"] = item.key; }
    var body;
    var files = item.files || {};
    var names = Object.keys(files).filter(function (k) { return files[k] && files[k].length; });
    if (item.jsonField && (names.length || item.alwaysMultipart)) {
      body = new FormData();
      body.append(item.jsonField, JSON.stringify(item.json));
      names.forEach(function (name) {
        files[name].forEach(function (blob, i) { body.append(name, blob, name + "-" + (i + 1) + ".jpg"); });
      });
    } else {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(item.json);
    }
    return fetch(item.url, {method: "POST", headers: headers, body: body, credentials: "same-origin"});
  }

  function enqueue(item) {
    item.state = "waiting"; item.created = new Date().toISOString();
    item.key = item.key || uuid();
    return db.outbox.add(item).then(function () { return refreshOutbox(); }).then(function () { return flush(); });
  }

  function refreshToken() {
    return getJSON("/api/v1/field/day?date=" + ctx.today).then(function (day) { csrf = day.csrf; keepDay(day); });
  }

  function settle(item, r) {
    return r.text().then(function (text) {
      var body = null;
      try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
      if (r.ok) { return db.outbox.delete(item.id).then(function () { return {ok: true, body: body}; }); }
      if (r.status >= 500 || r.status === 401) { return {stop: true}; }  // try again later (or after signing in)
      if (body && body.error === "csrf" && !item.csrfRetried) {
        return db.outbox.update(item.id, {csrfRetried: true}).then(refreshToken).then(function () { return {again: true}; });
      }
      var kind = r.status === 409 ? "conflict" : "failed";
      return db.outbox.update(item.id, {state: kind, status: r.status, error: said(body, r.status)})
        .then(function () { return {ok: false}; });
    });
  }

  // send what waits, oldest first; stop at the first network failure (the rest would fail too)
  function flush() {
    if (flushing) { return Promise.resolve(); }
    flushing = true;
    var sentSomething = false;
    function next() {
      return db.outbox.where("state").equals("waiting").sortBy("id").then(function (items) {
        if (!items.length) { return null; }
        var item = items[0];
        return send(item).then(function (r) { return settle(item, r); }, function () { return {stop: true}; })
          .then(function (result) {
            if (result.stop) { return null; }
            if (result.ok) { sentSomething = true; onSent(item, result.body); }
            return next();
          });
      });
    }
    return next().then(function () {
      flushing = false;
      return refreshOutbox().then(function () { if (sentSomething && navigator.onLine) { return loadDay(); } });
    }, function (err) { flushing = false; console.warn("outbox:", err.message); });
  }

  function onSent(item, body) {
    if (item.kind === "report" && body) {
      document.body.dataset.lastReport = String(body.report_id);
      var note = document.getElementById("report-note");
      if (note) { note.replaceChildren(message(t("sent") + " · " + t("case") + " #" + body.case_id + (body.geocoded_address ? " · " + body.geocoded_address : ""))); }
    }
    document.body.dataset.sent = String(Number(document.body.dataset.sent || 0) + 1);
  }

  // ---- the day's data, kept for offline use ------------------------------------------------------------------
  function keepDay(day) { dayData = day; return db.kept.put({key: "day", day: day, at: new Date().toISOString()}); }

  function loadDay() {
    return getJSON("/api/v1/field/day?date=" + ctx.today)
      .then(function (day) {
        csrf = day.csrf;
        // the command center's instructions (roll-calls) to me, kept with the day for offline reading
        return getJSON("/api/v1/inbox").catch(function () { return []; }).then(function (inbox) {
          day.instructions = inbox;
          return keepDay(day).then(function () { return day; });
        });
      })
      .catch(function () { return db.kept.get("day").then(function (row) { return row ? row.day : null; }); })
      .then(function (day) {
        dayData = day;
        return pendingVisits().then(function (pending) { renderRoute(pending); renderTasks(); drawRoute(); });
      });
  }

  function pendingVisits() {
    return db.outbox.toArray().then(function (items) {
      var out = {};
      items.forEach(function (i) { if (i.kind === "visit") { out[i.seq] = i; } });
      return out;
    });
  }

  // ---- tabs --------------------------------------------------------------------------------------------------
  var TABS = ["route", "tasks", "map", "report", "outbox"];
  function showTab(name) {
    TABS.forEach(function (n) {
      document.getElementById("tab-" + n).hidden = n !== name;
      var b = document.querySelector("#tabs button[data-tab='" + n + "']");
      if (b) { b.classList.toggle("on", n === name); b.setAttribute("aria-selected", n === name ? "true" : "false"); }
    });
    document.body.dataset.tab = name;
    if (name === "map" && map) { setTimeout(function () { map.invalidateSize(); fitRoute(); }, 0); }
  }
  function tabs() {
    document.getElementById("tabs").replaceChildren.apply(document.getElementById("tabs"), TABS.map(function (n) {
      return el("button", {type: "button", "data-tab": n, role: "tab", onclick: function () { showTab(n); }},
        el("span", {text: t(n)}), n === "outbox" ? el("span", {class: "f-count", id: "tab-count"}) : null);
    }));
  }

  // ---- route -------------------------------------------------------------------------------------------------
  function geoLink(s) {
    var label = encodeURIComponent(s.address || s.label || "");
    return "geo:" + s.lat.toFixed(6) + "," + s.lon.toFixed(6) + "?q=" + s.lat.toFixed(6) + "," + s.lon.toFixed(6) + "(" + label + ")";
  }

  function stopCard(route, s, pending, isNext) {
    var visited = !!s.visited_at, waiting = !!pending[s.seq];
    var status = visited ? t("visited") + " " + hhmm(s.visited_at) : waiting ? t("visited") + " · " + t("state_waiting") : t("not_visited");
    var card = el("li", {class: "f-stop " + (visited || waiting ? "done" : "todo") + (isNext ? " next" : ""),
                         "data-seq": s.seq, "data-visited": visited || waiting ? "1" : "0"},
      el("div", {class: "f-stop-head"},
        el("span", {class: "f-seq", text: String(s.seq)}),
        el("span", {class: "f-stop-label", text: s.label || s.kind}),
        el("span", {class: "f-status " + (visited || waiting ? "yes" : "no"), text: status})),
      el("div", {class: "f-addr", text: s.address || t("no_address")}),
      s.far_from_track ? el("div", {class: "f-flag", text: s.no_track ? t("no_track") : t("far_from_track") +
        (s.track_distance_m ? " (" + Math.round(s.track_distance_m) + " m)" : "")}) : null,
      el("div", {class: "f-row"},
        el("a", {class: "f-btn", href: geoLink(s), text: t("navigate")}),
        el("button", {type: "button", class: "f-btn", onclick: function () { routeBounds = null; showTab("map"); map.invalidateSize(); map.setView([s.lat, s.lon], 17); }, text: t("on_map")}),
        visited || waiting ? null : el("button", {type: "button", class: "f-btn primary mark", onclick: function () { markVisited(route, s); },
                                                 text: t("mark_visited")})));
    return card;
  }

  function markVisited(route, s) {
    var body = {at: new Date().toISOString()};
    if (here) { body.lon = Number(here.lng.toFixed(7)); body.lat = Number(here.lat.toFixed(7)); }
    enqueue({kind: "visit", seq: s.seq, route: route.id, label: s.label, url: "/api/v1/patrols/" + route.id + "/stops/" + s.seq + "/visited",
             json: body}).then(function () { return pendingVisits(); }).then(renderRoute);
    pendingVisits().then(function (p) { p[s.seq] = true; renderRoute(p); });
  }

  function shareToggle() {
    var on = localStorage.getItem("nh-share-" + ctx.user.username) === "1";
    var box = el("input", {type: "checkbox", id: "share-position", checked: on, onchange: function () {
      localStorage.setItem("nh-share-" + ctx.user.username, box.checked ? "1" : "0");
      watch();
    }});
    return el("div", {class: "f-share"}, el("label", {class: "f-switch"}, box, el("span", {text: t("share_position")})),
      el("small", {text: t("position_hint")}));
  }

  function renderRoute(pending) {
    pending = pending || {};
    var panel = document.getElementById("tab-route");
    var route = dayData && dayData.route;
    if (!route) {
      panel.replaceChildren(shareToggle(), el("h2", {text: t("route_today")}), el("p", {class: "f-empty", text: dayData ? t("no_route") : t("loading")}));
      document.body.dataset.stops = "0";
      return;
    }
    var stops = route.stops.slice().sort(function (a, b) {
      var av = a.visited_at || pending[a.seq] ? 1 : 0, bv = b.visited_at || pending[b.seq] ? 1 : 0;
      return av - bv || a.seq - b.seq;
    });
    var next = stops.filter(function (s) { return !s.visited_at && !pending[s.seq]; })[0];
    panel.replaceChildren(
      shareToggle(),
      el("h2", {text: t("route_today")}),
      el("p", {class: "f-sub", text: (route.station_name || route.station_code) + " · " + (route.length_m / 1000).toFixed(1) + " " + t("km") +
               " · " + Math.round(route.duration_s / 60) + " " + t("minutes")}),
      next ? el("h3", {class: "f-next", text: t("next_stop")}) : el("p", {class: "f-msg", text: t("all_visited")}),
      el("ul", {class: "f-stops"}, stops.map(function (s) { return stopCard(route, s, pending, next && s.seq === next.seq); })));
    document.body.dataset.stops = String(stops.length);
  }

  // ---- tasks -------------------------------------------------------------------------------------------------
  function photoStrip(title, items) {
    return el("div", {class: "f-photos-col"}, el("h5", {text: title}),
      items.length ? items.map(function (p) { return el("img", {src: p.url, alt: title, class: "f-thumb", loading: "lazy"}); })
                   : el("p", {class: "f-none", text: t("no_photo")}));
  }
  function evidenceView(ev) {
    if (!ev) { return null; }
    return el("div", {class: "f-evidence"}, photoStrip(t("photos_before"), ev.before || []), photoStrip(t("photos_after"), ev.after || []));
  }

  function photoInputs(name, label) {
    var camera = el("input", {type: "file", accept: "image/*", capture: "environment", name: name, class: "f-file", "data-kind": "camera"});
    var file = el("input", {type: "file", accept: "image/*", name: name, class: "f-file", "data-kind": "file"});
    return el("fieldset", {class: "f-photo-field"}, el("legend", {text: label}),
      el("label", {class: "f-btn"}, t("take_photo"), camera), el("label", {class: "f-btn"}, t("choose_photo"), file));
  }

  function chosen(form, name) {
    var out = [];
    form.querySelectorAll("input[type=file][name='" + name + "']").forEach(function (i) {
      Array.prototype.forEach.call(i.files || [], function (f) { out.push(f); });
    });
    return out;
  }

  // a photo resized on the phone (canvas), as a JPEG Blob
  function shrink(file) {
    return createImageBitmap(file).then(function (img) {
      var scale = Math.min(1, MAX_SIDE / Math.max(img.width, img.height));
      var canvas = document.createElement("canvas");
      canvas.width = Math.max(1, Math.round(img.width * scale)); canvas.height = Math.max(1, Math.round(img.height * scale));
      canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
      return new Promise(function (resolve) { canvas.toBlob(resolve, "image/jpeg", 0.85); });
    });
  }
  function shrinkAll(files) { return Promise.all(files.map(shrink)); }

  function taskAction(c, action, fields, files) {
    var item = {kind: "action", case_id: c.id, action: action, url: "/api/v1/field/cases/" + c.id + "/actions",
                jsonField: "action", json: Object.assign({action: action, version: c.version}, fields), files: files || {},
                label: t("case") + " #" + c.id + " · " + actionName(action)};
    return enqueue(item);
  }

  function taskForm(c, action) {
    var form = el("form", {class: "f-form", "data-action": action});
    var needs = action === "rework" || action === "return";
    if (action === "feedback") { form.appendChild(photoInputs("before", t("photo_before"))); form.appendChild(photoInputs("after", t("photo_after"))); }
    form.appendChild(el("label", {}, t(needs ? "reason" : "note"), el("textarea", {name: needs ? "reason" : "note", rows: 2, maxlength: 2000, required: needs})));
    form.appendChild(el("div", {class: "f-row"}, el("button", {type: "submit", class: "f-btn primary", text: actionName(action)}),
      el("button", {type: "button", class: "f-btn", onclick: function () { form.remove(); }, text: t("cancel")})));
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var data = new FormData(form), fields = {};
      ["note", "reason"].forEach(function (k) { if (data.get(k)) { fields[k] = data.get(k); } });
      if ((action === "check" || action === "rework") && !(c.evidence && c.evidence.has_feedback_photo) &&
          !window.confirm(t("confirm_no_photo"))) { return; }
      var before = chosen(form, "before"), after = chosen(form, "after");
      Promise.all([shrinkAll(before), shrinkAll(after)]).then(function (blobs) {
        return taskAction(c, action, fields, {before: blobs[0], after: blobs[1]});
      }).then(function () { form.replaceChildren(message(navigator.onLine ? t("sent") : t("queued"))); })
        .catch(function (err) { form.appendChild(message(err.message, "error")); });
    });
    return form;
  }

  function taskCard(c) {
    var holder = el("div", {class: "f-task-form"});
    var card = el("li", {class: "f-task", "data-case": c.id, "data-state": c.state},
      el("div", {class: "f-stop-head"}, el("span", {class: "f-case-no", text: "#" + c.id}),
        el("span", {class: "f-stop-label", text: categoryName(c.category)}),
        el("span", {class: "f-status", text: state(c.state)})),
      el("div", {class: "f-addr", text: c.address || (c.lat.toFixed(5) + ", " + c.lon.toFixed(5))}),
      c.deadline ? el("div", {class: "f-sub", text: t("deadline") + " " + when(c.deadline)}) : null,
      el("details", {class: "f-detail"}, el("summary", {text: t("description")}),
        el("p", {text: c.description}), evidenceView(c.evidence),
        c.evidence && c.evidence.feedback && c.evidence.feedback.note ? el("p", {class: "f-sub", text: t("note") + ": " + c.evidence.feedback.note}) : null),
      el("div", {class: "f-row"},
        el("a", {class: "f-btn", href: geoLink({lat: c.lat, lon: c.lon, address: c.address}), text: t("navigate")}),
        (c.task_actions || []).map(function (a) {
          return el("button", {type: "button", class: "f-btn primary", "data-action": a, text: actionName(a), onclick: function () {
            if (a === "accept") { taskAction(c, a, {}).then(function () { holder.replaceChildren(message(navigator.onLine ? t("sent") : t("queued"))); }); return; }
            if (a === "check" || a === "rework") { card.querySelector("details").open = true; }
            holder.replaceChildren(taskForm(c, a));
          }});
        })),
      holder);
    return card;
  }

  function categoryName(code) {
    var found = categories.filter(function (x) { return x.code === code; })[0];
    return found ? code + " " + (ctx.lang === "zh" ? found.name : found.name_en) : code;
  }

  function instructionCard(i, acked) {
    var card = el("li", {class: "f-task f-instruction", "data-instruction": i.id},
      el("div", {class: "f-stop-head"}, el("span", {class: "f-stop-label", text: i.incident || t("instruction")}),
        el("span", {class: "f-status", text: acked ? t("acknowledged") : when(i.sent_at)})),
      el("p", {text: i.text}),
      el("div", {class: "f-sub", text: t("sent_by") + " " + i.sent_by + (i.chased ? " · " + t("chased") : "")}));
    if (!acked) {
      card.appendChild(el("div", {class: "f-row"}, el("button", {type: "button", class: "f-btn primary", "data-ack": i.id,
        text: t("acknowledge"), onclick: function () {
          enqueue({kind: "ack", instruction: i.id, url: "/api/v1/inbox/" + i.id + "/ack", json: {}, key: uuid(),
                   label: t("acknowledge") + " · " + i.text.slice(0, 20)})
            .then(function () { renderTasks(); });
        }})));
    }
    return card;
  }

  function renderTasks() {
    var panel = document.getElementById("tab-tasks");
    var list = (dayData && dayData.tasks) || [];
    var orders = (dayData && dayData.instructions) || [];
    return db.outbox.toArray().then(function (items) {
      var queued = {};
      items.forEach(function (x) { if (x.kind === "ack") { queued[x.instruction] = true; } });
      panel.replaceChildren(
        orders.length ? el("h2", {text: t("instructions") + " (" + orders.length + ")"}) : null,
        orders.length ? el("ul", {class: "f-tasks f-instructions"}, orders.map(function (i) { return instructionCard(i, queued[i.id]); })) : null,
        el("h2", {text: t("my_tasks") + " (" + list.length + ")"}),
        list.length ? el("ul", {class: "f-tasks"}, list.map(taskCard)) : el("p", {class: "f-empty", text: t("no_tasks")}));
      document.body.dataset.tasks = String(list.length);
      document.body.dataset.instructions = String(orders.filter(function (i) { return !queued[i.id]; }).length);
    });
  }

  // ---- report ------------------------------------------------------------------------------------------------
  function renderReport() {
    var form = el("form", {id: "field-report", class: "f-form"},
      el("h2", {text: t("report_here")}),
      el("label", {}, t("category"), el("select", {name: "category", required: true}, categories.map(function (c) {
        return el("option", {value: c.code, text: c.code + " " + (ctx.lang === "zh" ? c.name : c.name_en)}); }))),
      el("label", {}, t("description"), el("textarea", {name: "description", rows: 3, maxlength: 4000, required: true})),
      photoInputs("photos", t("photo")),
      el("p", {class: "f-sub", id: "report-where"}),
      el("button", {type: "submit", class: "f-btn primary wide", text: t("submit")}),
      el("div", {id: "report-note"}));
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var data = new FormData(form);
      var at = here || (map ? map.getCenter() : null);
      if (!at) { form.appendChild(message(t("locating"), "error")); return; }
      var json = {channel: "patrol", category: data.get("category"), description: data.get("description"),
                  lon: Number(at.lng.toFixed(7)), lat: Number(at.lat.toFixed(7)), reported_at: new Date().toISOString()};
      shrinkAll(chosen(form, "photos")).then(function (blobs) {
        form.reset();
        document.getElementById("report-note").replaceChildren(message(navigator.onLine ? t("sent") + "…" : t("queued")));
        return enqueue({kind: "report", url: "/api/v1/reports", jsonField: "report", alwaysMultipart: true, json: json,
                        files: {photos: blobs}, label: categoryName(json.category)});
      }).catch(function (err) { document.getElementById("report-note").replaceChildren(message(err.message, "error")); });
    });
    document.getElementById("tab-report").replaceChildren(form);
  }

  // ---- outbox ------------------------------------------------------------------------------------------------
  function refreshOutbox() {
    return db.outbox.toArray().then(function (items) {
      var waiting = items.filter(function (i) { return i.state === "waiting"; }).length;
      var troubled = items.length - waiting;
      var badge = document.getElementById("outbox-badge");
      badge.textContent = items.length ? String(items.length) + " " + t("waiting") : "✓";
      badge.className = "f-badge" + (troubled ? " bad" : items.length ? " wait" : "");
      badge.onclick = function () { showTab("outbox"); };
      var count = document.getElementById("tab-count");
      if (count) { count.textContent = items.length ? String(items.length) : ""; }
      document.body.dataset.outbox = String(items.length);
      document.body.dataset.conflicts = String(items.filter(function (i) { return i.state === "conflict"; }).length);
      renderOutbox(items);
    });
  }

  function renderOutbox(items) {
    var panel = document.getElementById("tab-outbox");
    panel.replaceChildren(el("h2", {text: t("outbox") + " (" + items.length + ")"}),
      items.length ? el("ul", {class: "f-outbox"}, items.map(function (i) {
        return el("li", {class: "f-out " + i.state, "data-state": i.state},
          el("div", {class: "f-stop-head"}, el("span", {class: "f-stop-label", text: t("kind_" + i.kind) + (i.label ? " · " + i.label : "")}),
            el("span", {class: "f-status " + (i.state === "waiting" ? "no" : "bad"), text: i.state === "waiting" ? t("state_waiting") : i.state === "conflict" ? t("conflict") : t("failed")})),
          el("div", {class: "f-sub", text: when(i.created) + photoCount(i)}),
          i.error ? el("div", {class: "f-flag", text: i.error}) : null,
          i.state === "waiting" ? null : el("div", {class: "f-row"},
            el("button", {type: "button", class: "f-btn", text: t("retry"), onclick: function () {
              var again = i.kind === "action" ? reversion(i) : Promise.resolve({});
              again.then(function (changes) { return db.outbox.update(i.id, Object.assign({state: "waiting", error: null}, changes)); }).then(flush);
            }}),
            el("button", {type: "button", class: "f-btn", text: t("discard"), onclick: function () { db.outbox.delete(i.id).then(refreshOutbox); }})));
      })) : el("p", {class: "f-empty", text: t("outbox_empty")}),
      el("button", {type: "button", class: "f-btn wide", text: t("send_now"), onclick: flush}));
  }

  function photoCount(item) {
    var n = 0;
    Object.keys(item.files || {}).forEach(function (k) { n += (item.files[k] || []).length; });
    return n ? " · " + t("photo") + " " + n : "";
  }

  // a case action refused as stale is sent again against the case as it is now (with a new key: a new request)
  function reversion(item) {
    return getJSON("/api/v1/cases/" + item.case_id).then(function (c) {
      return {json: Object.assign({}, item.json, {version: c.version}), key: uuid()};
    }).catch(function () { return {}; });
  }

  // ---- the map -----------------------------------------------------------------------------------------------
  var STYLES = {
    town: {color: "#1f3a93", weight: 2, fillColor: "#eef3f8", fillOpacity: 1}, water: {color: "#5dade2", weight: 1, fillColor: "#aed6f1", fillOpacity: 0.9},
    roads: {color: "#b0a58c", weight: 1.5}, communities: {color: "#c0392b", weight: 2, fillOpacity: 0},
    workstations: {color: "#16a085", weight: 1, fillOpacity: 0.03, dashArray: "4 3"},
    stations: {color: "#d35400", radius: 5, weight: 2, fillOpacity: 0.9}, places: {color: "#34495e", radius: 3, weight: 1, fillOpacity: 0.8}
  };
  function makeMap() {
    map = L.map("field-map", {zoomControl: true, preferCanvas: true}).setView([30.905, 121.915], 12);
    var overlays = {};
    ctx.layers.forEach(function (layer) {
      var style = STYLES[layer.key] || {};
      var g = L.geoJSON(null, {style: function () { return style; }, pointToLayer: function (f, latlng) { return L.circleMarker(latlng, style); }});
      overlays[layer.name] = g;
      if (layer.key !== "workstations") { g.addTo(map); }
      fetch(layer.url, {credentials: "same-origin"}).then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
        .then(function (data) { g.addData(data); document.body.dataset["layer_" + layer.key] = String(data.features.length); })
        .catch(function (err) { console.warn("layer " + layer.key + ":", err.message); });
    });
    routeLayer = L.layerGroup().addTo(map);
    overlays[t("route_today")] = routeLayer;
    L.control.layers(null, overlays, {collapsed: true, position: "topright"}).addTo(map);
    L.control.scale({metric: true, imperial: false}).addTo(map);
  }

  function drawRoute() {
    if (!map || !routeLayer) { return; }
    routeLayer.clearLayers();
    var route = dayData && dayData.route;
    if (!route) { return; }
    if (route.line) { L.geoJSON(route.line, {style: {color: "#c0392b", weight: 4, opacity: 0.8}}).addTo(routeLayer); }
    route.stops.forEach(function (s) {
      L.marker([s.lat, s.lon], {icon: L.divIcon({className: "f-stop-icon" + (s.visited_at ? " done" : ""), iconSize: [28, 28],
        html: "<span>" + Number(s.seq) + "</span>"})}).addTo(routeLayer);
    });
    routeBounds = route.stops.length ? L.latLngBounds(route.stops.map(function (s) { return [s.lat, s.lon]; })) : null;
    fitRoute();
  }

  // a hidden map has no size: the route is fitted when the map tab is shown
  function fitRoute() {
    if (!routeBounds || document.getElementById("tab-map").hidden) { return; }
    map.invalidateSize();
    map.fitBounds(routeBounds, {padding: [30, 30]});
    routeBounds = null;
  }

  // ---- my position, and sending it while on shift ---------------------------------------------------------
  function sharing() { return localStorage.getItem("nh-share-" + ctx.user.username) === "1"; }
  function locate() {
    if (!navigator.geolocation) { return; }
    watchId = navigator.geolocation.watchPosition(function (pos) {
      here = L.latLng(pos.coords.latitude, pos.coords.longitude);
      if (map) {
        if (!meMarker) { meMarker = L.circleMarker(here, {radius: 8, color: "#2980b9", fillOpacity: 1}).addTo(map).bindTooltip(t("my_location")); }
        else { meMarker.setLatLng(here); }
      }
      var where = document.getElementById("report-where");
      if (where) { where.textContent = t("my_location") + ": " + here.lat.toFixed(5) + ", " + here.lng.toFixed(5); }
      document.body.dataset.located = "1";
      if (sharing()) {
        positionBuffer.push({lon: Number(pos.coords.longitude.toFixed(7)), lat: Number(pos.coords.latitude.toFixed(7)),
                             recorded_at: new Date(pos.timestamp || Date.now()).toISOString(),
                             accuracy_m: pos.coords.accuracy ? Math.min(100000, pos.coords.accuracy) : null});
      }
    }, function (err) { console.warn("no location:", err.message); }, {enableHighAccuracy: true, maximumAge: 15000});
  }
  function watch() { if (watchId === null) { locate(); } }
  function sendPositions() {
    if (!positionBuffer.length) { return; }
    var batch = positionBuffer.splice(0, 500);
    enqueue({kind: "positions", url: "/api/v1/positions", json: {positions: batch}, label: String(batch.length)});
  }

  // ---- start -------------------------------------------------------------------------------------------------
  function net() {
    var n = document.getElementById("net");
    n.textContent = navigator.onLine ? t("online") : t("offline");
    n.className = "f-net " + (navigator.onLine ? "on" : "off");
    document.body.dataset.online = navigator.onLine ? "1" : "0";
  }
  window.addEventListener("online", function () { net(); flush(); });
  window.addEventListener("offline", net);

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/field/sw.js", {scope: "/field"}).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function () { document.body.dataset.sw = "ready"; })
      .catch(function (err) { console.warn("service worker:", err.message); });
  }

  tabs(); net(); makeMap(); showTab("route");
  renderRoute(); renderTasks();
  var cats = getJSON("/api/v1/categories").then(function (b) { categories = b.categories; return db.kept.put({key: "categories", list: categories}); })
    .catch(function () { return db.kept.get("categories").then(function (row) { categories = row ? row.list : []; }); });
  cats.then(function () { renderReport(); return loadDay(); }).then(function () { document.body.dataset.ready = "1"; return refreshOutbox(); })
    .then(flush);
  locate();
  setInterval(function () { if (sharing()) { sendPositions(); } if (navigator.onLine) { flush(); } }, 20000);
  window.nhField = {flush: flush, db: db, sendPositions: sendPositions};
})();
