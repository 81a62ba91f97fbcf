// Evidence of a case in the dispatcher console's case panel: the photos before (reports, the handler's before
// photos) and after (the handler's feedback) side by side; a check or rework without a feedback photo asks first.
(function () {
  "use strict";
  var NH = window.NH, el = NH.el, t = NH.t;
  var known = {};  // case id -> its evidence, once loaded

  function column(title, items) {
    return el("div", {class: "evidence-col"}, el("h5", {text: title}),
      items.length ? items.map(function (p) {
        return el("a", {href: p.url, target: "_blank", rel: "noopener"}, el("img", {src: p.url, alt: title, class: "thumb"}));
      }) : el("p", {class: "hint", text: t("no_photo")}));
  }

  function panel(c) {
    var box = el("div", {class: "evidence", "data-case": c.id}, el("h4", {text: t("evidence")}));
    NH.api("/api/v1/cases/" + c.id + "/evidence").then(function (ev) {
      known[c.id] = ev;
      box.appendChild(el("div", {class: "evidence-pair"}, column(t("photos_before"), ev.before), column(t("photos_after"), ev.after)));
      box.dataset.loaded = String(ev.before.length) + "/" + String(ev.after.length);
    }).catch(function (err) { box.appendChild(NH.message(err.message, "error")); });
    return box;
  }

  // true when the action may go ahead: a check or rework of a result without a photo needs a confirmation
  function confirmAction(c, action) {
    if (action !== "check" && action !== "rework") { return true; }
    var ev = known[c.id];
    if (ev && ev.has_feedback_photo) { return true; }
    return window.confirm(t("confirm_no_photo"));
  }

  window.nhEvidence = {panel: panel, confirm: confirmAction};
})();
