// Folio: small progressive enhancements. The site works without this file.
document.addEventListener("htmx:afterSwap", (event) => {
  // After a paginated swap, move focus to the results so keyboard and screen-reader users follow.
  if (event.detail.target && event.detail.target.id === "results" && event.detail.requestConfig &&
      event.detail.requestConfig.elt && event.detail.requestConfig.elt.closest(".pager")) {
    event.detail.target.setAttribute("tabindex", "-1");
    event.detail.target.focus({ preventScroll: false });
    event.detail.target.scrollIntoView({ behavior: "smooth", block: "start" });
  }
});

// Inline validation swaps only a field's feedback: keep the field's aria-invalid in step with it.
document.addEventListener("htmx:afterSwap", (event) => {
  const feedback = event.detail.target;
  if (!feedback || !feedback.classList || !feedback.classList.contains("field-feedback")) return;
  const field = document.querySelector(`[aria-describedby~="${feedback.id}"]`);
  if (!field) return;
  if (feedback.querySelector(".error-text")) field.setAttribute("aria-invalid", "true");
  else field.removeAttribute("aria-invalid");
});

// htmx 2 swaps nothing when the server answers 4xx/5xx, and nothing happens when the network fails: say so,
// instead of a button that seems to do nothing. (Forms still work without this file: they post and reload.)
function showRequestError(message) {
  const box = document.getElementById("request-error");
  if (!box) return;
  box.textContent = message;
  box.hidden = false;
  box.scrollIntoView({ behavior: "smooth", block: "nearest" });
}
document.addEventListener("htmx:responseError", (event) => {
  const status = event.detail.xhr ? event.detail.xhr.status : 0;
  if (status === 400 || status === 403) {
    showRequestError("That did not go through: this page may be out of date or your session has ended. " +
      "Reload the page and try again.");
  } else if (status === 429) {
    showRequestError("Too many attempts in a short time. Wait a minute and try again.");
  } else {
    showRequestError("Something went wrong on our side and nothing was changed. Please try again in a moment.");
  }
});
document.addEventListener("htmx:sendError", () => {
  showRequestError("We could not reach the shop: check your connection and try again.");
});
document.addEventListener("htmx:beforeRequest", () => {
  const box = document.getElementById("request-error");
  if (box && !box.hidden) box.hidden = true;  // a new attempt clears the last failure
});
