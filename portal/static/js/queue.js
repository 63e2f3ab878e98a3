// Queue and detail pages: select-all for bulk actions; confirmation lives in staff.js
// (data-confirm). No inline script: the CSP forbids it.
"use strict";
// The bulk form says what it applies to: "对选中的 3 件意见：".
function showBulkScope() {
  var scope = document.getElementById("bulk-scope");
  if (!scope) {
    return;
  }
  var picked = document.querySelectorAll('input[name="ids"][form="bulk"]:checked').length;
  scope.textContent = scope.getAttribute("data-template").replace("{n}", String(picked));
}
document.addEventListener("change", function (event) {
  var box = event.target;
  if (!box.matches) {
    return;
  }
  if (box.matches("[data-select-all]")) {
    var rows = document.querySelectorAll('input[type="checkbox"][name="ids"][form="bulk"]');
    for (var i = 0; i < rows.length; i += 1) {
      rows[i].checked = box.checked;
    }
  } else if (box.matches('input[name="ids"][form="bulk"]') && !box.checked) {
    var all = document.querySelector("[data-select-all]");
    if (all) {
      all.checked = false;
    }
  }
  if (box.matches("[data-select-all], input[name=\"ids\"][form=\"bulk\"]")) {
    showBulkScope();
  }
});
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!form.matches || !form.matches("[data-bulk]")) {
    return;
  }
  var picked = document.querySelectorAll('input[name="ids"][form="bulk"]:checked').length;
  if (picked === 0) {
    event.preventDefault();
    window.alert("请先勾选意见。");
  } else if (!window.confirm("对选中的 " + picked + " 件意见执行批量操作？")) {
    event.preventDefault();
  }
});
