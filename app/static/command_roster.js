// The roster page: fill a position's month in rotation with the people chosen (in the order shown), then reload.
(function () {
  "use strict";
  var NH = window.NH, form = document.getElementById("plan-form");
  if (!form) { return; }
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var people = Array.prototype.map.call(form.usernames.selectedOptions, function (o) { return o.value; });
    NH.api("/api/v1/duty/roster/plan", {method: "POST", json: {position: form.position.value, month: NH.ctx.month,
                                                                 usernames: people}})
      .then(function (r) {
        NH.put(document.getElementById("plan-result"), r.assignments + " " + NH.t("planned"));
        window.location.reload();
      })
      .catch(function (err) { NH.put(document.getElementById("plan-result"), NH.message(err.message, "error")); });
  });
})();
