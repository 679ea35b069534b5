// Klaxon's web app: the little the pages need from a script (no inline scripts: the CSP
// forbids them). htmx sends every request with the session's CSRF token; the list keeps the
// rows a person selected when it refreshes itself; times shown in UTC (a profile without a
// zone) are rewritten into the browser's own zone, named.
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  document.addEventListener("htmx:configRequest", function (event) {
    var token = csrfToken();
    if (token) { event.detail.headers["X-CSRF-Token"] = token; }
  });

  var selected = [];
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "alert-table") {
      selected = Array.prototype.map.call(
        document.querySelectorAll('#alert-table input[name="alert_id"]:checked'),
        function (box) { return box.value; });
    }
  });

  function localTimes(root) {
    var format;
    try {
      format = new Intl.DateTimeFormat(undefined, {
        year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
        minute: "2-digit", second: "2-digit", hour12: false, timeZoneName: "short"
      });
    } catch (e) { return; }
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    root.querySelectorAll("time[data-local]").forEach(function (el) {
      var moment = new Date(el.getAttribute("datetime"));
      if (isNaN(moment.getTime())) { return; }
      el.textContent = format.format(moment);
      el.setAttribute("title", zone);
      el.removeAttribute("data-local");
    });
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    selected.forEach(function (id) {
      var box = document.getElementById("sel-" + id);
      if (box) { box.checked = true; }
    });
    localTimes(document);
  });

  // A shown-once secret's Copy button copies its field (the clipboard API, else selection).
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button[data-copy]") : null;
    if (!button) { return; }
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field) { return; }
    field.select();
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(field.value).then(function () { button.textContent = "Copied"; });
    } else if (document.execCommand && document.execCommand("copy")) {
      button.textContent = "Copied";
    }
  });

  document.addEventListener("DOMContentLoaded", function () { localTimes(document); });
})();
