// Web intake helpers: character counter, chosen-file list, copy button, no double submit.
// Loaded as an external file (the CSP forbids inline script); the forms work without it.
// Every word shown comes from the page (data-* attributes rendered from the catalogue), so the
// script speaks the page's language.
(function () {
  "use strict";

  function charCount(text) {
    // Count code points like the server does: 𠀀 or an emoji is one character, not two.
    return Array.from(text.replace(/\r\n?/g, "\n")).length;
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (all, key) {
      return key in values ? String(values[key]) : all;
    });
  }

  function setupCounter(area) {
    var out = document.getElementById(area.getAttribute("data-counter"));
    var max = parseInt(area.getAttribute("maxlength") || "5000", 10);
    if (!out) return;
    var update = function () {
      var n = charCount(area.value);
      out.textContent = fill(area.getAttribute("data-counter-text") || "{n} / {max}", { n: n, max: max });
      out.classList.toggle("over", n > max);
    };
    area.addEventListener("input", update);
    update();
  }

  function formatSize(bytes) {
    if (bytes >= 1024 * 1024) return (bytes / 1024 / 1024).toFixed(1) + " MB";
    return Math.max(1, Math.round(bytes / 1024)) + " KB";
  }

  function fileLimits(input) {
    return {
      files: parseInt(input.getAttribute("data-max-files") || "5", 10),
      file: parseFloat(input.getAttribute("data-max-file-mb") || "10") * 1024 * 1024,
      total: parseFloat(input.getAttribute("data-max-total-mb") || "25") * 1024 * 1024
    };
  }

  function filesProblem(input) {
    // What is wrong with the chosen files (a message from the page), or null.
    var limits = fileLimits(input);
    var total = 0, tooBig = false;
    Array.prototype.forEach.call(input.files || [], function (file) {
      total += file.size;
      if (file.size > limits.file) tooBig = true;
    });
    if (tooBig) return input.getAttribute("data-msg-file-too-big");
    if ((input.files || []).length > limits.files) return input.getAttribute("data-msg-too-many");
    if (total > limits.total) return input.getAttribute("data-msg-total-too-big");
    return null;
  }

  function setupFileList(input) {
    var list = document.getElementById(input.getAttribute("data-file-list"));
    var limits = fileLimits(input);
    var refused = document.getElementById("attachments-refused");
    if (!list) return;
    input.addEventListener("change", function () {
      list.textContent = "";
      if (refused) refused.hidden = true;
      Array.prototype.forEach.call(input.files, function (file) {
        var li = document.createElement("li");
        li.textContent = file.name + " (" + formatSize(file.size) + ")";
        if (file.size > limits.file) {
          li.className = "too-big";
          li.textContent += " " + input.getAttribute("data-msg-file-too-big");
        }
        list.appendChild(li);
      });
      var note = filesProblem(input);
      if (note && note !== input.getAttribute("data-msg-file-too-big")) {
        var li = document.createElement("li");
        li.className = "too-big";
        li.textContent = note;
        list.appendChild(li);
      }
    });
    if (!input.form) return;
    // Refuse in the page: a too-large upload would travel for minutes and then be turned away,
    // so the opinion is not sent and everything typed stays where it is.
    input.form.addEventListener("submit", function (event) {
      var problem = filesProblem(input);
      if (!problem) return;
      event.preventDefault();
      event.stopImmediatePropagation();
      if (refused) {
        refused.textContent = problem + " " + input.getAttribute("data-msg-refused");
        refused.hidden = false;
        refused.focus();
      }
    }, true);
  }

  function setupAnonymous(box) {
    // Anonymous: the contact fields are switched off, not emptied: unticking brings them back.
    var target = document.getElementById(box.getAttribute("data-anonymous-toggle"));
    var note = document.getElementById("anonymous-note");
    if (!target) return;
    var update = function () {
      target.classList.toggle("is-disabled", box.checked);
      Array.prototype.forEach.call(target.querySelectorAll("input"), function (field) {
        field.disabled = box.checked;
      });
      if (note) note.hidden = !box.checked;
    };
    box.addEventListener("change", update);
    update();
  }

  function setupCopy(button) {
    if (!navigator.clipboard) return; // stays hidden: copying by hand still works
    var status = button.parentNode.querySelector(".copy-status");
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(button.getAttribute("data-copy-text")).then(
        function () { if (status) status.textContent = button.getAttribute("data-copied-label"); },
        function () { if (status) status.textContent = button.getAttribute("data-copy-failed-label"); }
      );
    });
  }

  function setupPrint(button) {
    button.hidden = false; // without script the browser's own print command still works
    button.addEventListener("click", function () { window.print(); });
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
    each("button[data-print][hidden]", setupPrint);
    each("input[data-anonymous-toggle]", setupAnonymous);
    var summary = document.getElementById("error-summary");
    if (summary) summary.focus();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
