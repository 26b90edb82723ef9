// The API reference at /api/docs: Swagger UI (vendored) reading the OpenAPI document named on #swagger-ui.
// Swagger UI draws "Try it out"'s request-body editor as a <textarea> without a label; each one it adds is
// named here, so a screen reader says what the box is for.
document.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  function labelEditors() {
    root.querySelectorAll("textarea:not([aria-label])").forEach(function (box) {
      box.setAttribute("aria-label", box.classList.contains("body-param__text")
        ? "Request body (JSON)" : "Value");
    });
  }
  new MutationObserver(labelEditors).observe(root, { childList: true, subtree: true });
  window.SwaggerUIBundle({ url: root.dataset.specUrl, domNode: root, deepLinking: false,
                           tryItOutEnabled: false, persistAuthorization: false });
});
