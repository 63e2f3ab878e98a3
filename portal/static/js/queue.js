// Queue and detail pages: select-all for bulk actions; confirmation lives in staff.js
// (data-confirm). No inline script: the CSP forbids it.
"use strict";
document.addEventListener("change", function (event) {
  var box = event.target;
  if (!box.matches || !box.matches("[data-select-all]")) {
    return;
  }
  var rows = document.querySelectorAll('input[type="checkbox"][name="ids"][form="bulk"]');
  for (var i = 0; i < rows.length; i += 1) {
    rows[i].checked = box.checked;
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
