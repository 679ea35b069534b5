// The rotation page's drag-and-drop reordering (HTML5 drag events): dropping a participant
// submits the whole new order to the same form the Move up / Move down buttons use.
(function () {
  "use strict";

  function setup() {
    var list = document.querySelector("ol.participants.sortable");
    var form = document.getElementById("order-form");
    if (!list || !form) return;
    var dragged = null;

    list.addEventListener("dragstart", function (event) {
      dragged = event.target.closest("li[data-position]");
      if (!dragged) return;
      dragged.classList.add("dragging");
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", dragged.dataset.position);
    });

    list.addEventListener("dragover", function (event) {
      var over = event.target.closest("li[data-position]");
      if (!dragged || !over) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "move";
      if (over === dragged) return;
      var box = over.getBoundingClientRect();
      var after = event.clientY > box.top + box.height / 2;
      list.insertBefore(dragged, after ? over.nextSibling : over);
    });

    list.addEventListener("drop", function (event) {
      if (!dragged) return;
      event.preventDefault();
      submitOrder();
    });

    list.addEventListener("dragend", function () {
      if (dragged) dragged.classList.remove("dragging");
      dragged = null;
    });

    function submitOrder() {
      var positions = Array.prototype.map.call(
        list.querySelectorAll("li[data-position]"), function (li) { return li.dataset.position; });
      var unchanged = positions.every(function (p, i) { return Number(p) === i; });
      if (unchanged) return;
      form.elements.order.value = positions.join(",");
      dragged = null;
      form.submit();
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();
