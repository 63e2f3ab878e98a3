// The notice preview's role editor: conveniences only; the page works without this file.
// - a line whose role the editor changes is marked until "重新预览" rebuilds the structure;
// - when there are warnings, a button shows only the lines near them (and back).
(function () {
  "use strict";
  var list = document.querySelector(".role-lines");
  if (!list) return;
  var rows = Array.prototype.slice.call(list.querySelectorAll(".role-line"));

  rows.forEach(function (row) {
    var select = row.querySelector("select");
    if (!select) return;
    select.addEventListener("change", function () {
      row.classList.toggle("role-changed", select.value !== select.getAttribute("data-shown"));
    });
  });

  var NEAR = 3; // lines shown before and after each warned line
  var warned = rows.map(function (row, index) {
    return row.classList.contains("role-warned") ? index : -1;
  }).filter(function (index) { return index >= 0; });
  var slot = document.querySelector(".role-filter-slot");
  if (!warned.length || !slot) return;
  rows.forEach(function (row, index) {
    var near = warned.some(function (w) { return Math.abs(w - index) <= NEAR; });
    row.classList.toggle("role-near-warning", near);
  });
  var button = document.createElement("button");
  button.type = "button";
  button.className = "secondary role-filter";
  var showNear = slot.getAttribute("data-label-near") || "只看警告附近的行";
  var showAll = slot.getAttribute("data-label-all") || "显示全部行";
  button.textContent = showNear;
  button.setAttribute("aria-pressed", "false");
  button.addEventListener("click", function () {
    var on = list.classList.toggle("only-warned");
    button.textContent = on ? showAll : showNear;
    button.setAttribute("aria-pressed", on ? "true" : "false");
  });
  slot.appendChild(button);
})();
