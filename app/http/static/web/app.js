// Klaxon's web app: the little the pages need from a script (no inline scripts: the CSP
// forbids them). htmx sends every request with the session's CSRF token; the list keeps the
// rows a person selected when it refreshes itself; times shown in UTC (a profile without a
// zone) are rewritten into the browser's own zone, named; copy buttons copy their field.
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

  // A copy button copies the field it names (data-copy), e.g. a new integration key's URL.
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button[data-copy]") : null;
    if (!button) { return; }
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) { return; }
    var label = button.textContent;
    function done(text) {
      button.textContent = text;
      setTimeout(function () { button.textContent = label; }, 2000);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(source.value).then(
        function () { done("Copied"); }, function () { source.select(); done("Press Ctrl+C"); });
    } else {
      source.select();
      done(document.execCommand && document.execCommand("copy") ? "Copied" : "Press Ctrl+C");
    }
  });

  document.addEventListener("DOMContentLoaded", function () { localTimes(document); });
})();
