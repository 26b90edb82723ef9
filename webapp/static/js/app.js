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
