// Polls the attempt while it waits: for Vipps to give a link (data-wait-while="requested"), or,
// on the desktop, for the phone to finish in the app (data-wait-while="link_ready"). Moves on
// when the state changes. Without JavaScript the pending page refreshes itself (<noscript>).
(function () {
  "use strict";
  var panel = document.getElementById("attempt");
  if (!panel || !panel.dataset.pollUrl) { return; }
  var waitWhile = panel.dataset.waitWhile || "requested";
  var message = document.getElementById("attempt-message");
  var delay = 1500;
  function poll() {
    fetch(panel.dataset.pollUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (data && data.state !== waitWhile) {
          window.location.assign(panel.dataset.nextUrl);
          return;
        }
        if (data && message && waitWhile === "requested") { message.textContent = data.message; }
        delay = Math.min(delay * 1.3, 5000);
        window.setTimeout(poll, delay);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, delay);
})();
