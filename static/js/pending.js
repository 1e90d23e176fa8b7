// Polls the attempt while Vipps is being contacted; moves on when the link is ready.
// Without JavaScript the page refreshes itself (meta refresh in <noscript>).
(function () {
  "use strict";
  var panel = document.getElementById("attempt");
  if (!panel || !panel.dataset.pollUrl) { return; }
  var message = document.getElementById("attempt-message");
  var delay = 1500;
  function poll() {
    fetch(panel.dataset.pollUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (data && data.state !== "requested") {
          window.location.assign(panel.dataset.nextUrl);
          return;
        }
        if (data && message) { message.textContent = data.message; }
        delay = Math.min(delay * 1.3, 5000);
        window.setTimeout(poll, delay);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, delay);
})();
