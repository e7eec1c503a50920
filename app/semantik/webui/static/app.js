// Semantik's only script. A collection's page keeps its changing part (#live) current while an
// operation runs: the part is fetched again every 1.5 s and swapped in, never the whole page. The
// page works without this script (a <noscript> refresh does the same, slower).
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live) {
    return;
  }
  var url = live.getAttribute("data-live");
  var EVERY_MS = 1500;
  var AFTER_FAILURE_MS = 5000;

  function running() {
    var state = live.querySelector("[data-active]");
    return state !== null && state.getAttribute("data-active") === "true";
  }

  function refresh() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (response.redirected) {
          window.location.reload(); // signed out meanwhile: the page itself asks to sign in
          return null;
        }
        if (!response.ok) {
          throw new Error("status " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        if (html === null) {
          return;
        }
        live.innerHTML = html;
        if (running()) {
          window.setTimeout(refresh, EVERY_MS);
        }
      })
      .catch(function () {
        window.setTimeout(refresh, AFTER_FAILURE_MS);
      });
  }

  if (running()) {
    window.setTimeout(refresh, EVERY_MS);
  }
})();
