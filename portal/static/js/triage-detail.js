// The submission detail page: its action forms (marked data-partial) are sent with fetch and
// the page body is swapped for the server's fresh one, so the triager keeps their place.
// Without this script the same forms POST and the server redirects back to the #section acted
// on. No inline script anywhere: the CSP forbids it.
"use strict";
(function () {
  var busy = false;

  function swap(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var fresh = doc.getElementById("detail-body");
    var current = document.getElementById("detail-body");
    if (!fresh || !current) {
      return false;
    }
    var x = window.scrollX;
    var y = window.scrollY;
    // Messages of the first load are stale once an action has answered.
    var old = document.querySelectorAll("main .flashes:not(.live-flashes)");
    for (var i = 0; i < old.length; i += 1) {
      old[i].remove();
    }
    current.replaceWith(document.adoptNode(fresh));
    window.scrollTo(x, y);
    return true;
  }

  function focusSection(id) {
    var section = id && document.getElementById(id);
    var heading = section && section.querySelector("h2");
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: true });
    }
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || busy || !form.matches || !form.matches("form[data-partial]")) {
      return;
    }
    if (!window.fetch || !window.DOMParser) {
      return; // the plain POST still works
    }
    event.preventDefault();
    busy = true;
    var section = form.closest("section[id]");
    var sectionId = section ? section.id : "";
    var buttons = form.querySelectorAll("button");
    for (var i = 0; i < buttons.length; i += 1) {
      buttons[i].disabled = true;
    }
    form.setAttribute("aria-busy", "true");
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { "X-Partial": "detail" },
    })
      .then(function (response) {
        return response.text().then(function (text) {
          return { response: response, text: text };
        });
      })
      .then(function (result) {
        busy = false;
        if (result.response.ok && swap(result.text)) {
          focusSection(sectionId);
          return;
        }
        if (result.response.redirected) {
          // Sent somewhere else (sign in again, for instance): go there.
          window.location.assign(result.response.url);
          return;
        }
        // Refused (expired page, no right): nothing was done; let the browser show why.
        HTMLFormElement.prototype.submit.call(form);
      })
      .catch(function () {
        busy = false;
        HTMLFormElement.prototype.submit.call(form);
      });
  });
})();
