// Staff pages: behaviour lives here because the CSP forbids inline script.
"use strict";
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.getAttribute && form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
document.addEventListener("click", function (event) {
  var button = event.target.closest && event.target.closest("[data-print]");
  if (button) {
    event.preventDefault();
    window.print();
  }
});

// WebAuthn (security keys): the page carries the server's options in data-webauthn-create or
// data-webauthn-get; the browser's answer goes into the hidden field named by
// data-webauthn-target and its form is submitted (with its CSRF token) like any other.
(function () {
  function toBytes(value) {
    var text = value.replace(/-/g, "+").replace(/_/g, "/");
    while (text.length % 4) { text += "="; }
    var raw = atob(text);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return bytes.buffer;
  }
  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) { raw += String.fromCharCode(bytes[i]); }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function descriptors(list) {
    return (list || []).map(function (item) {
      return { type: item.type, id: toBytes(item.id), transports: item.transports };
    });
  }
  function answer(credential) {
    var response = credential.response;
    var out = { id: credential.id, rawId: toText(credential.rawId), type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults(), response: {
        clientDataJSON: toText(response.clientDataJSON) } };
    if (response.attestationObject) {
      out.response.attestationObject = toText(response.attestationObject);
      if (response.getTransports) { out.response.transports = response.getTransports(); }
    } else {
      out.response.authenticatorData = toText(response.authenticatorData);
      out.response.signature = toText(response.signature);
      if (response.userHandle) { out.response.userHandle = toText(response.userHandle); }
    }
    return JSON.stringify(out);
  }
  function run(button, create) {
    var options = JSON.parse(button.getAttribute(create ? "data-webauthn-create" : "data-webauthn-get"));
    options.challenge = toBytes(options.challenge);
    var request;
    if (create) {
      options.user.id = toBytes(options.user.id);
      options.excludeCredentials = descriptors(options.excludeCredentials);
      request = navigator.credentials.create({ publicKey: options });
    } else {
      options.allowCredentials = descriptors(options.allowCredentials);
      request = navigator.credentials.get({ publicKey: options });
    }
    var form = button.closest("form");
    var error = form.querySelector("[data-webauthn-error]");
    request.then(function (credential) {
      document.getElementById(button.getAttribute("data-webauthn-target")).value = answer(credential);
      form.submit();
    }).catch(function () {
      if (error) { error.hidden = false; }
    });
  }
  document.addEventListener("click", function (event) {
    var target = event.target.closest && event.target.closest("[data-webauthn-create], [data-webauthn-get]");
    if (!target) { return; }
    event.preventDefault();
    if (!window.PublicKeyCredential) {
      var error = target.closest("form").querySelector("[data-webauthn-error]");
      if (error) { error.hidden = false; }
      return;
    }
    run(target, target.hasAttribute("data-webauthn-create"));
  });
})();
