// The job page polls its progress JSON until the job ends, then reloads once so that the
// failed datums and the rerun button (rendered by the server) appear. No framework.
(function () {
  "use strict";
  var box = document.getElementById("job");
  if (!box || box.dataset.finished === "1") return;
  var total = function (d) { return d.total > 0 ? d.total : 1; };
  function set(id, text) {
    var el = document.getElementById(id);
    if (el) el.textContent = text;
  }
  function width(id, n, d) {
    var el = document.getElementById(id);
    if (el) el.style.width = (100 * n / total(d)).toFixed(2) + "%";
  }
  function tick() {
    fetch(box.dataset.progress, { cache: "no-store", credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (d) {
        ["done", "total", "processed", "skipped", "failed", "elapsed", "rate"].forEach(
          function (k) { set(k, d[k]); });
        set("state", d.state);
        width("bar-ok", d.processed, d);
        width("bar-skip", d.skipped, d);
        width("bar-bad", d.failed, d);
        if (d.finished) { window.location.reload(); } else { setTimeout(tick, 1000); }
      })
      .catch(function () { setTimeout(tick, 3000); });
  }
  setTimeout(tick, 1000);
})();
