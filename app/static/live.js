// The dispatcher console's live feed: GET /api/v1/events as an EventSource (the browser resumes it with
// Last-Event-ID). Each change refreshes the list and the map (coalesced) and the open case panel when its case
// moved on; new emergency or urgent cases, returned cases, cases turning red and supervision orders raise a
// toast, a short WebAudio sound (muted with a button, remembered in localStorage) and a "(3) ..." title badge.
// When the stream fails, console.js polls again every 15 s and this script polls the same feed as JSON.
(function () {
  "use strict";
  var NH = window.NH, el = NH.el, ctx = NH.ctx, map = window.nhMap, con = window.nhConsole;
  var ls = ctx.live_strings || {};
  function tl(key) { return ls[key] || NH.t(key); }
  var body = document.body;
  var lastId = null, source = null, pollTimer = null;
  var unseen = 0, baseTitle = document.title;
  var MUTE_KEY = "nh.live.muted";
  var POLL_MS = 15000, RETRY_MS = 30000;

  // ---- refreshing what the console shows --------------------------------------------------------
  var refresh = {timer: null, running: false, again: false};
  function scheduleRefresh() {
    if (refresh.running) { refresh.again = true; return; }
    if (refresh.timer) { return; }
    refresh.timer = setTimeout(runRefresh, 150);  // a burst of changes, one reload
  }
  function runRefresh() {
    refresh.timer = null; refresh.running = true;
    Promise.all([con.loadQueue(), con.loadCases()]).then(done, done);
    function done() {
      refresh.running = false;
      if (refresh.again) { refresh.again = false; refresh.timer = setTimeout(runRefresh, 500); }
    }
  }

  // The open case changed: show it as it is now; a form being filled in keeps its text and says so (its
  // submit then answers 409 and console.js shows the case afresh).
  function refreshPanel(m) {
    var panel = document.querySelector("#side .case[data-case]");
    if (!panel || Number(panel.dataset.case) !== m.case_id || Number(panel.dataset.version) >= m.version) { return; }
    var form = document.querySelector("#side form.action-form");
    if (form) {
      if (!form.querySelector(".live-changed")) {
        form.insertBefore(el("p", {class: "msg warn live-changed", role: "alert", text: tl("changed_under_form")}),
                          form.firstChild);
      }
      return;
    }
    con.openCase(m.case_id, (ctx.queue_strings || {}).panel_updated);
  }

  // ---- alerts: toast, sound, title badge ------------------------------------------------------------
  var toasts = el("div", {id: "toasts", class: "toasts", "aria-label": tl("alerts")});
  document.body.appendChild(toasts);

  function alertText(m) {
    var parts = [tl("alert_" + m.alert), "#" + m.case_id];
    if (m.category) { parts.push(con.categoryName(m.category)); }
    if (m.station) { parts.push(con.stationName(m.station)); }
    return parts.join(" · ");
  }

  function toast(m) {
    var urgent = m.alert === "emergency" || m.alert === "red";
    var node = el("div", {class: "toast toast-" + m.alert, role: urgent ? "alert" : "status", "data-case": m.case_id},
      el("span", {class: "toast-text", text: alertText(m)}),
      el("button", {type: "button", class: "toast-open", text: tl("open_case"),
                    onclick: function () { node.remove(); con.openCase(m.case_id); }}),
      el("button", {type: "button", class: "toast-close", "aria-label": tl("dismiss"), text: "×",
                    onclick: function () { node.remove(); }}));
    toasts.appendChild(node);
    while (toasts.children.length > 5) { toasts.removeChild(toasts.firstChild); }
    if (!urgent) { setTimeout(function () { node.remove(); }, 20000); }  // emergencies and red stay until dismissed
  }

  function badge() {
    document.title = unseen > 0 ? "(" + unseen + ") " + baseTitle : baseTitle;
    body.dataset.liveUnseen = String(unseen);
  }
  function seen() { if (unseen) { unseen = 0; badge(); } }
  ["pointerdown", "keydown"].forEach(function (e) { document.addEventListener(e, seen, true); });
  window.addEventListener("focus", seen);

  // Sound: two short tones made with WebAudio (no file). Browsers start audio only after a gesture: the first
  // click or key on the page unlocks it.
  var audio = null;
  function audioContext() {
    var Ctor = window.AudioContext || window.webkitAudioContext;
    if (!audio && Ctor) { audio = new Ctor(); }
    if (audio && audio.state === "suspended") { audio.resume().catch(function () { return null; }); }
    return audio;
  }
  document.addEventListener("pointerdown", audioContext, {once: true, capture: true});
  function muted() { try { return localStorage.getItem(MUTE_KEY) === "1"; } catch (e) { return false; } }
  function beep(m) {
    if (muted()) { return; }
    var a = audioContext();
    if (!a) { return; }
    var high = m.alert === "emergency" || m.alert === "red";
    var start = a.currentTime + 0.01;
    [0, 0.2].forEach(function (dt, i) {
      var osc = a.createOscillator(), gain = a.createGain();
      osc.type = "sine";
      osc.frequency.value = high ? (i ? 1175 : 880) : 660;
      gain.gain.setValueAtTime(0.0001, start + dt);
      gain.gain.exponentialRampToValueAtTime(0.25, start + dt + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + dt + 0.16);
      osc.connect(gain); gain.connect(a.destination);
      osc.start(start + dt); osc.stop(start + dt + 0.18);
    });
    body.dataset.liveBeeps = String(Number(body.dataset.liveBeeps || 0) + 1);
  }

  function raise(m) {
    toast(m);
    beep(m);
    unseen += 1;
    badge();
  }

  // ---- the state of the feed and the mute button (a map control) -----------------------------------
  var stateNode = el("span", {class: "live-state"});
  var muteButton = el("button", {type: "button", class: "live-mute", onclick: function () {
    try { localStorage.setItem(MUTE_KEY, muted() ? "0" : "1"); } catch (e) { return; }
    if (!muted()) { audioContext(); }
    showMute();
  }});
  function showMute() {
    var m = muted();
    muteButton.textContent = m ? tl("sound_off") : tl("sound_on");
    muteButton.setAttribute("aria-pressed", m ? "true" : "false");
    muteButton.setAttribute("title", m ? tl("unmute") : tl("mute"));
    muteButton.setAttribute("aria-label", m ? tl("unmute") : tl("mute"));
    body.dataset.liveMuted = m ? "1" : "0";
  }
  var Control = L.Control.extend({options: {position: "bottomright"}, onAdd: function () {
    var box = el("div", {class: "leaflet-bar live-control"}, stateNode, muteButton);
    L.DomEvent.disableClickPropagation(box);
    return box;
  }});
  new Control().addTo(map);
  showMute();
  function setState(state) {
    body.dataset.live = state;
    stateNode.className = "live-state live-" + state;
    stateNode.textContent = state === "open" ? "● " + tl("live_open") : "○ " + tl("live_polling");
    stateNode.setAttribute("title", stateNode.textContent);
  }

  // ---- one message of the feed ------------------------------------------------------------------------
  function handle(m) {
    if (lastId === null || m.id > lastId) { lastId = m.id; }
    body.dataset.liveLast = String(lastId);
    scheduleRefresh();
    refreshPanel(m);
    if (m.alert) { raise(m); }
  }

  function ready(info) {
    if (lastId === null || info.last_id > lastId) { lastId = info.last_id; }
    if (info.reset) { scheduleRefresh(); }  // events were lost (pruned): what is shown is reloaded
  }

  // ---- the stream, and polling when it fails ---------------------------------------------------------
  function connect() {
    if (!window.EventSource) { startPolling(); return; }
    var url = "/api/v1/events" + (lastId !== null ? "?after=" + lastId : "");
    source = new EventSource(url, {withCredentials: true});
    source.addEventListener("ready", function (e) { stopPolling(); setState("open"); ready(JSON.parse(e.data)); });
    source.addEventListener("case", function (e) { handle(JSON.parse(e.data)); });
    source.addEventListener("error", function () {
      setState("polling");
      startPolling();
      if (source.readyState === EventSource.CLOSED) {  // refused (signed out, server error): try again later
        source = null;
        setTimeout(connect, RETRY_MS);
      }  // otherwise the browser reconnects by itself, with Last-Event-ID
    });
  }

  function poll() {
    var after = lastId !== null ? "?after=" + lastId : "";
    NH.api("/api/v1/events" + after).then(function (page) {
      if (body.dataset.live === "open") { return; }
      if (lastId === null) { lastId = page.last_id; return; }
      ready({last_id: page.last_id, reset: page.reset});
      page.events.forEach(handle);
    }).catch(function (err) { console.warn("events not polled:", err.message); });
  }
  function startPolling() { if (!pollTimer) { pollTimer = setInterval(poll, POLL_MS); } }
  function stopPolling() { if (pollTimer) { clearInterval(pollTimer); pollTimer = null; } }

  setState("polling");
  connect();
  window.nhLive = {lastId: function () { return lastId; }, muted: muted};
})();
