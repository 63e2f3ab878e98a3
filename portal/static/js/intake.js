// Web intake helpers: character counter, chosen-file list, copy button, no double submit.
// Loaded as an external file (the CSP forbids inline script); the forms work without it.
(function () {
  "use strict";

  function charCount(text) {
    // Count code points like the server does: 𠀀 or an emoji is one character, not two.
    return Array.from(text.replace(/\r\n?/g, "\n")).length;
  }

  function setupCounter(area) {
    var out = document.getElementById(area.getAttribute("data-counter"));
    var max = parseInt(area.getAttribute("maxlength") || "5000", 10);
    if (!out) return;
    var update = function () {
      var n = charCount(area.value);
      out.textContent = "已输入 " + n + " / " + max + " 字";
      out.classList.toggle("over", n > max);
    };
    area.addEventListener("input", update);
    update();
  }

  function formatSize(bytes) {
    if (bytes >= 1024 * 1024) return (bytes / 1024 / 1024).toFixed(1) + " MB";
    return Math.max(1, Math.round(bytes / 1024)) + " KB";
  }

  function setupFileList(input) {
    var list = document.getElementById(input.getAttribute("data-file-list"));
    var maxFiles = parseInt(input.getAttribute("data-max-files") || "5", 10);
    var maxFile = parseFloat(input.getAttribute("data-max-file-mb") || "10") * 1024 * 1024;
    var maxTotal = parseFloat(input.getAttribute("data-max-total-mb") || "25") * 1024 * 1024;
    if (!list) return;
    input.addEventListener("change", function () {
      list.textContent = "";
      var total = 0;
      Array.prototype.forEach.call(input.files, function (file) {
        total += file.size;
        var li = document.createElement("li");
        li.textContent = file.name + "（" + formatSize(file.size) + "）";
        if (file.size > maxFile) {
          li.className = "too-big";
          li.textContent += " 超过单个文件大小上限";
        }
        list.appendChild(li);
      });
      var note = null;
      if (input.files.length > maxFiles) note = "最多只能上传 " + maxFiles + " 个文件";
      else if (total > maxTotal) note = "文件合计超过大小上限";
      if (note) {
        var li = document.createElement("li");
        li.className = "too-big";
        li.textContent = note;
        list.appendChild(li);
      }
    });
  }

  function setupCopy(button) {
    if (!navigator.clipboard) return; // stays hidden: copying by hand still works
    var status = button.parentNode.querySelector(".copy-status");
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(button.getAttribute("data-copy-text")).then(
        function () { if (status) status.textContent = button.getAttribute("data-copied-label"); },
        function () { if (status) status.textContent = "复制失败，请截图或手动抄写。"; }
      );
    });
  }

  function setupOnce(button) {
    // A second tap on a slow phone connection must not send the opinion twice.
    var form = button.form;
    if (!form) return;
    form.addEventListener("submit", function () {
      window.setTimeout(function () { button.disabled = true; }, 0);
    });
  }

  function each(selector, fn) {
    Array.prototype.forEach.call(document.querySelectorAll(selector), fn);
  }

  function start() {
    each("textarea[data-counter]", setupCounter);
    each("input[type=file][data-file-list]", setupFileList);
    each("button[data-copy-text]", setupCopy);
    each("button[data-once]", setupOnce);
    var summary = document.getElementById("error-summary");
    if (summary) summary.focus();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
