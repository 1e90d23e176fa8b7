// "Add" can wait a few seconds for Vipps: the button says so and cannot be pressed twice.
(function () {
  "use strict";
  document.querySelectorAll("form[data-busy]").forEach(function (form) {
    form.addEventListener("submit", function () {
      var button = form.querySelector("button[data-busy-label]");
      if (!button) { return; }
      form.setAttribute("aria-busy", "true");
      button.disabled = true;
      button.classList.add("busy");
      button.textContent = button.dataset.busyLabel;
    });
  });
})();
