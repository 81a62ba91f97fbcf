// The tiers' pages: the station chief's queue forms (assign, take back, return: JSON to the case's actions) and the
// workstation's self-handled filing (multipart with the photos); on success the page reloads with the result,
// on refusal the server's own message (in the page's language) is shown above the form.
(function () {
  "use strict";
  var NH = window.NH;

  function fail(form, err) {
    var old = form.querySelector(".msg");
    if (old) { old.remove(); }
    form.prepend(NH.message(err.message, "error"));
    form.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
  }

  function next(form, id, action) {
    var url = new URL(form.dataset.next, window.location.href);
    url.searchParams.set("done", action ? id + ":" + action : String(id));
    window.location.assign(url.toString());
  }

  function sendReview(form) {
    var data = new FormData(form), body = {rating: parseInt(data.get("rating"), 10)};
    if (String(data.get("review") || "").trim()) { body.review = String(data.get("review")).trim(); }
    return NH.api(form.getAttribute("action"), {method: "POST", json: body})
      .then(function (answer) { next(form, answer.case_id); });
  }

  function sendAction(form) {
    var body = {};
    new FormData(form).forEach(function (v, k) { if (String(v).trim() !== "") { body[k] = String(v).trim(); } });
    body.version = parseInt(body.version, 10);
    if (body.level) { body.level = parseInt(body.level, 10); }
    return NH.api(form.getAttribute("action"), {method: "POST", json: body})
      .then(function (c) { next(form, c.id, body.action); });
  }

  function sendUpload(form) {
    return fetch(form.getAttribute("action"), {method: "POST", body: new FormData(form), credentials: "same-origin",
                                               headers: {"Accept": "application/json", "X-CSRFToken": NH.ctx.csrf}})
      .then(function (r) {
        return r.json().catch(function () { return null; }).then(function (body) {
          if (!r.ok) { throw new Error(NH.said(body) || NH.t("error") + " (" + r.status + ")"); }
          next(form, body.id);
        });
      });
  }

  document.querySelectorAll("form[data-tiers]").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
      var send = {upload: sendUpload, review: sendReview}[form.dataset.tiers] || sendAction;
      send(form).catch(function (err) { fail(form, err); });
    });
  });
  document.body.dataset.tiersReady = "1";
}());
