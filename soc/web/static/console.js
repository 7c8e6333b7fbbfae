// The console's only script (CSP: script-src 'self'): "select all" boxes of the alert queue.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("input.select-all").forEach(function (box) {
    box.addEventListener("change", function () {
      var form = box.closest("form");
      if (!form) { return; }
      form.querySelectorAll('input[type="checkbox"][name="' + box.dataset.target + '"]')
        .forEach(function (item) { item.checked = box.checked; });
    });
  });
});
