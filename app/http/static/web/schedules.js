// The schedule page (/schedules/<id>): choosing a shift opens the override dialog prefilled
// with that shift (its person, its start and end in the viewer's zone), and, on one's own
// shift, a link to ask for cover. A native <dialog>: focus moves into it, Escape closes it,
// and focus goes back to the shift that opened it.
(function () {
  "use strict";

  var opener = null;

  // "YYYY-MM-DDTHH:MM" of an instant in the page's zone (a datetime-local field's value).
  function localInput(iso, zone) {
    var parts = {};
    new Intl.DateTimeFormat("en-CA", {
      timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
      minute: "2-digit", hourCycle: "h23"
    }).formatToParts(new Date(iso)).forEach(function (part) { parts[part.type] = part.value; });
    return parts.year + "-" + parts.month + "-" + parts.day + "T" + parts.hour + ":" +
      parts.minute;
  }

  function fill(dialog, shift) {
    var zone = document.getElementById("calendar").getAttribute("data-zone");
    var name = shift.querySelector(".who").textContent;
    var start = localInput(shift.getAttribute("data-start"), zone);
    var end = localInput(shift.getAttribute("data-end"), zone);
    dialog.querySelector("#override-h").textContent = name + "'s shift";
    dialog.querySelector("#override-shift").textContent =
      name + " · " + start.replace("T", " ") + " to " + end.replace("T", " ") + " (" + zone + ")";
    var cover = dialog.querySelector(".cover");
    var link = dialog.querySelector("#ask-cover");
    if (shift.getAttribute("data-mine")) {
      link.setAttribute("href", link.getAttribute("data-base") + "?start=" +
        shift.getAttribute("data-start") + "&end=" + shift.getAttribute("data-end"));
      cover.hidden = false;
    } else {
      cover.hidden = true;
    }
    var form = dialog.querySelector("form");
    if (!form) { return; }
    form.querySelector("#ov-remove").value = shift.getAttribute("data-user-id");
    form.querySelector("#ov-start").value = start;
    form.querySelector("#ov-end").value = end;
    var select = form.querySelector("#ov-user");
    var others = Array.prototype.filter.call(select.options, function (option) {
      return option.value !== shift.getAttribute("data-user-id");
    });
    if (others.length) { select.value = others[0].value; }
    form.querySelector('input[name="kind"][value="replace"]').checked = true;
    select.disabled = false;
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    var shift = target.closest ? target.closest("button.shift") : null;
    var dialog = document.getElementById("override-dialog");
    if (shift && dialog) {
      opener = shift;
      fill(dialog, shift);
      dialog.showModal();
      return;
    }
    if (target.closest && target.closest("[data-close]") && dialog) { dialog.close(); }
  });

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.name !== "kind" || !target.form) { return; }
    target.form.querySelector("#ov-user").disabled = target.value === "remove";
  });

  document.addEventListener("DOMContentLoaded", function () {
    var dialog = document.getElementById("override-dialog");
    if (!dialog) { return; }
    dialog.addEventListener("close", function () {
      if (opener && document.body.contains(opener)) { opener.focus(); }
    });
  });
})();
