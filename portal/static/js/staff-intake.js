// Staff intake: show only the chosen channel's fields. Without this script every field shows
// with a hint saying which channel it belongs to, and the server ignores the other channels'.
(function () {
  "use strict";
  var form = document.querySelector("form[data-channel-form]");
  if (!form) {
    return;
  }
  var parts = form.querySelectorAll("[data-channels]");
  var dateLabel = form.querySelector("label[data-label-letter]");

  function chosen() {
    var radio = form.querySelector('input[name="channel"]:checked');
    return radio ? radio.value : "";
  }

  function update() {
    var channel = chosen();
    parts.forEach(function (part) {
      var show = part.getAttribute("data-channels").split(" ").indexOf(channel) !== -1;
      part.hidden = !show;
      // Disabled fields are not posted; what was typed stays for a switch back.
      part.querySelectorAll("input, select, textarea").forEach(function (input) {
        input.disabled = !show;
      });
    });
    var text = dateLabel && dateLabel.getAttribute("data-label-" + channel);
    if (text) {
      dateLabel.textContent = text;
    }
  }

  form.querySelectorAll("[data-no-script]").forEach(function (hint) {
    hint.hidden = true;
  });
  var dateInput = form.querySelector("#received_on");
  if (dateInput) {
    // The hint is hidden: keep only the error (if any) as the description.
    var described = (dateInput.getAttribute("aria-describedby") || "")
      .split(" ")
      .filter(function (id) { return id && id !== "received_on-hint"; });
    if (described.length) {
      dateInput.setAttribute("aria-describedby", described.join(" "));
    } else {
      dateInput.removeAttribute("aria-describedby");
    }
  }
  form.addEventListener("change", function (event) {
    if (event.target.name === "channel") {
      update();
    }
  });
  update();
})();
