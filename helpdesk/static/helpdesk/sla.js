// Keeps SLA countdowns live: every badge carries its deadline (data-sla-due); the text is
// rewritten in the page's language every 30 seconds and the badge turns red once it has passed.
(function () {
  "use strict";
  var language = document.documentElement.lang || "en";
  var relative = window.Intl && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat(language, { numeric: "auto" }) : null;
  var units = [["day", 86400], ["hour", 3600], ["minute", 60]];

  function describe(seconds) {
    for (var i = 0; i < units.length; i++) {
      if (Math.abs(seconds) >= units[i][1] || units[i][0] === "minute") {
        return relative.format(Math.round(seconds / units[i][1]), units[i][0]);
      }
    }
    return "";
  }

  function refresh() {
    if (!relative) return;
    var now = Date.now();
    document.querySelectorAll("[data-sla-due]").forEach(function (badge) {
      var due = Date.parse(badge.getAttribute("data-sla-due"));
      if (isNaN(due)) return;
      var seconds = (due - now) / 1000;
      var time = badge.querySelector("[data-sla-countdown]");
      if (time) time.textContent = describe(seconds);
      if (seconds <= 0) {
        badge.classList.remove("sla-badge--ok", "sla-badge--at-risk");
        badge.classList.add("sla-badge--breached");
      }
    });
  }

  document.addEventListener("DOMContentLoaded", refresh);
  window.setInterval(refresh, 30000);
})();
