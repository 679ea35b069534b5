// The policy page's step editor (app/http/pages/policy_steps.py): after a draft action the
// editor names the control to focus (data-focus), so keyboard users stay where they were;
// Enter in a target search looks the name up instead of submitting the whole editor.
(function () {
  "use strict";

  function focusNamed(root) {
    var marker = root.querySelector ? root.querySelector("[data-focus]") : null;
    if (!marker) { return; }
    var target = document.getElementById(marker.getAttribute("data-focus"));
    marker.removeAttribute("data-focus");
    if (target) { target.focus(); }
  }

  document.addEventListener("htmx:afterSettle", function (event) {
    var editor = document.getElementById("step-editor");
    if (editor) { focusNamed(editor); }
  });

  document.addEventListener("keydown", function (event) {
    var field = event.target;
    if (event.key !== "Enter" || !field.closest || !field.closest("#step-editor")) { return; }
    if (field.tagName !== "INPUT") { return; }
    event.preventDefault();
    if (field.type === "search" && window.htmx) { window.htmx.trigger(field, "search"); }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var editor = document.getElementById("step-editor");
    if (editor) { focusNamed(editor); }
  });
})();
