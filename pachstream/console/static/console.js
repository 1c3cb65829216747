// The job page follows its job live: server-sent events from data-events (one per change of
// the counts), or, where EventSource is missing or its stream fails, polling of the progress
// JSON. Once the job ends the page reloads once, so that the failed datums and the rerun
// button (rendered by the server) appear. No framework. data-feed says which way it went
// ("events" or "polling"), for the browser test and for whoever inspects the page.
(function () {
  "use strict";
  var box = document.getElementById("job");
  if (!box || box.dataset.finished === "1") return;
  var ended = false;
  var total = function (d) { return d.total > 0 ? d.total : 1; };
  function set(id, text) {
    var el = document.getElementById(id);
    if (el) el.textContent = text;
  }
  function width(id, n, d) {
    var el = document.getElementById(id);
    if (el) el.style.width = (100 * n / total(d)).toFixed(2) + "%";
  }
  function show(d) {
    ["done", "total", "processed", "skipped", "failed", "elapsed", "rate"].forEach(
      function (k) { set(k, d[k]); });
    set("state", d.state);
    width("bar-ok", d.processed, d);
    width("bar-skip", d.skipped, d);
    width("bar-bad", d.failed, d);
  }
  function end() {
    if (ended) return;
    ended = true;
    window.location.reload();
  }
  // Elapsed time moves without events (they come only when the counts change).
  var started = parseFloat(box.dataset.started);
  if (!isNaN(started)) {
    setInterval(function () {
      if (ended) return;
      var s = Math.max(0, Date.now() / 1000 - started);
      set("elapsed", s < 10 ? s.toFixed(1) + " s" : s < 60 ? Math.floor(s) + " s"
        : s < 3600 ? Math.floor(s / 60) + " min " + Math.floor(s % 60) + " s"
        : Math.floor(s / 3600) + " h " + Math.floor(s % 3600 / 60) + " min");
    }, 1000);
  }
  function poll() {
    box.dataset.feed = "polling";
    fetch(box.dataset.progress, { cache: "no-store", credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (d) {
        show(d);
        if (d.finished) { end(); } else { setTimeout(poll, 1000); }
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  if (!window.EventSource || !box.dataset.events) { setTimeout(poll, 1000); return; }
  var source = new EventSource(box.dataset.events);
  source.addEventListener("open", function () { box.dataset.feed = "events"; });
  source.addEventListener("progress", function (e) { show(JSON.parse(e.data)); });
  source.addEventListener("end", function (e) {
    source.close();
    show(JSON.parse(e.data));
    end();
  });
  source.addEventListener("error", function () {
    // A stream that broke (the console restarted, a proxy cut it): poll instead.
    if (ended) return;
    source.close();
    setTimeout(poll, 1000);
  });
})();
