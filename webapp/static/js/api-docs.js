// The API reference at /api/docs: Swagger UI (vendored) reading the OpenAPI document named on #swagger-ui.
document.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({ url: root.dataset.specUrl, domNode: root, deepLinking: false,
                           tryItOutEnabled: false, persistAuthorization: false });
});
