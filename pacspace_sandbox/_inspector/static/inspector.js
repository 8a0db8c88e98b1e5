// Live updates for the PacSpace sandbox inspector. The pages work without this script;
// it only re-asks the current URL for each [data-live] part (?fragment=NAME) and swaps it
// in, once a second while the tab is visible. A 401 (logged out) stops it.
(function () {
  "use strict";
  var INTERVAL_MS = 1000;
  var stopped = false;

  function refresh(part) {
    var url = new URL(window.location.href);
    url.searchParams.set("fragment", part.getAttribute("data-live"));
    return fetch(url.toString(), {
      credentials: "same-origin",
      headers: { "X-Pacspace-CSRF": "1" },
      cache: "no-store",
    }).then(function (response) {
      if (response.status === 401) {
        stopped = true;
        return;
      }
      if (!response.ok) return;
      return response.text().then(function (html) {
        if (part.innerHTML !== html) {
          // Keep open <details> open across a refresh.
          var open = Array.prototype.map.call(
            part.querySelectorAll("details[open]"),
            function (d) { return d.closest("tr") && d.closest("tr").previousElementSibling &&
              d.closest("tr").previousElementSibling.getAttribute("data-event"); }
          );
          part.innerHTML = html;
          open.forEach(function (id) {
            if (!id) return;
            var row = part.querySelector('tr[data-event="' + id + '"]');
            var details = row && row.nextElementSibling && row.nextElementSibling.querySelector("details");
            if (details) details.open = true;
          });
          part.dispatchEvent(new CustomEvent("pacspace:updated", { bubbles: true }));
        }
      });
    }).catch(function () { /* the sandbox restarted or stopped: try again next tick */ });
  }

  function tick() {
    if (stopped) return;
    if (document.visibilityState === "visible") {
      var parts = document.querySelectorAll("[data-live]");
      Promise.all(Array.prototype.map.call(parts, refresh)).then(schedule, schedule);
    } else {
      schedule();
    }
  }

  function schedule() {
    if (!stopped) window.setTimeout(tick, INTERVAL_MS);
  }

  document.documentElement.setAttribute("data-live-updates", "on");
  schedule();
})();
