// Live countdowns: every <time class="countdown" datetime="..."> shows the time left (or
// past) and its row takes the colour of its urgency. Without JavaScript the deadline itself
// stays shown, and the server already coloured the row.
(function () {
  "use strict";
  function fmt(ms) {
    var s = Math.floor(Math.abs(ms) / 1000);
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
    var m = Math.floor((s % 3600) / 60), sec = s % 60;
    var out = d > 0 ? d + "d " + h + "h" : h > 0 ? h + "h " + m + "m" : m + "m " + sec + "s";
    return ms < 0 ? "-" + out : out;
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("time.countdown").forEach(function (el) {
      var at = Date.parse(el.getAttribute("datetime"));
      if (isNaN(at)) return;
      var left = at - now, warn = 1000 * Number(el.dataset.warn || 1800);
      if (!el.dataset.deadline) el.dataset.deadline = el.textContent;
      el.textContent = fmt(left);
      el.title = el.dataset.deadline;
      var row = el.closest("tr");
      if (!row) return;
      row.classList.remove("urgency-ok", "urgency-near", "urgency-breached");
      row.classList.add(left <= 0 ? "urgency-breached" : left <= warn ? "urgency-near" : "urgency-ok");
    });
  }
  tick();
  setInterval(tick, 1000);
})();
