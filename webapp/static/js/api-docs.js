// The API reference at /api/docs: Swagger UI (vendored) reading the OpenAPI document named on #swagger-ui.
// Some controls Swagger UI draws have no name, and its example bodies scroll sideways without being reachable
// by keyboard: each one it adds is fixed here, so a screen reader says what it is for and a keyboard can scroll.
document.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  function paramName(control) {
    var row = control.closest("tr[data-param-name]");
    return row ? row.getAttribute("data-param-name") : null;
  }
  function fixUp() {
    root.querySelectorAll("textarea:not([aria-label])").forEach(function (box) {
      box.setAttribute("aria-label", box.classList.contains("body-param__text")
        ? "Request body (JSON)" : (paramName(box) || "Value"));
    });
    root.querySelectorAll("select:not([aria-label]), input:not([aria-label]):not([type=hidden])").forEach(function (control) {
      var name = paramName(control);
      if (name) { control.setAttribute("aria-label", name); }
    });
    root.querySelectorAll("pre.microlight:not([tabindex])").forEach(function (block) {
      block.setAttribute("tabindex", "0");
      block.setAttribute("role", "region");
      block.setAttribute("aria-label", "Example");
    });
  }
  new MutationObserver(fixUp).observe(root, { childList: true, subtree: true });
  window.SwaggerUIBundle({ url: root.dataset.specUrl, domNode: root, deepLinking: false,
                           tryItOutEnabled: false, persistAuthorization: false });
});
