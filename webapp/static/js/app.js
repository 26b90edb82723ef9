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

// ---- The listing form always says what the address says ----
// htmx keeps a snapshot of the page for Back/Forward, taken just before a live search pushes its new address:
// the snapshot's results belong to the old address but its search box holds what was typed since. After a
// restore (and when the browser shows a page from its own cache) the fields are set again from the address.
function syncListingForm() {
  const form = document.getElementById("filters");
  const params = new URLSearchParams(location.search);
  if (form) {
    for (const el of form.elements) {
      if (!el.name || el.type === "submit" || el.type === "button" || el.type === "hidden") continue;
      const value = params.get(el.name);
      if (el.type === "checkbox" || el.type === "radio") {
        el.checked = value !== null && (el.type === "checkbox" || el.value === value);
      } else if (el.tagName === "SELECT") {
        const wanted = value === null ? "" : value;
        el.value = wanted;
        if (el.value !== wanted) el.selectedIndex = 0;  // a value the list does not offer: its first choice
      } else {
        el.value = value === null ? "" : value;
      }
    }
    const panel = form.querySelector("details.filter-panel");
    if (panel && ["genre", "language", "min_price", "max_price", "in_stock"].some((n) => params.get(n))) {
      panel.open = true;
    }
  }
  syncHeaderSearch(params);
}
function syncHeaderSearch(params) {
  const header = document.getElementById("site-q");
  if (header && document.getElementById("filters")) header.value = (params || new URLSearchParams(location.search)).get("q") || "";
}
document.addEventListener("htmx:historyRestore", syncListingForm);
window.addEventListener("pageshow", syncListingForm);
window.addEventListener("popstate", () => setTimeout(syncListingForm, 0));  // after htmx's own restore
// A live search's new address: the header's box follows it (the listing's own box is where the typing is).
document.addEventListener("htmx:pushedIntoHistory", () => syncHeaderSearch());

// ---- Field errors swapped out of band (the listing's price errors): aria-invalid follows the message ----
document.addEventListener("htmx:oobAfterSwap", (event) => {
  const slot = event.target;  // the new element (detail.target is the one it replaced)
  if (!slot || !slot.classList || !slot.classList.contains("field-errors")) return;
  const field = document.querySelector(`[aria-describedby~="${slot.id}"]`);
  if (!field) return;
  if (slot.textContent.trim()) field.setAttribute("aria-invalid", "true");
  else field.removeAttribute("aria-invalid");
});

// ---- Confirmation dialogs (templates/_macros/confirm.html) ----
// Without JavaScript the form asks for a required "Yes, ..." checkbox. With it, the checkbox is hidden and the
// button opens a native <dialog> (focus kept inside, Escape dismisses); confirming submits the form with the
// button that was pressed, dismissing changes nothing and gives focus back to that button.
const confirmForms = new WeakSet();  // not an attribute: a restored history snapshot would carry it
function setUpConfirmForms(root) {
  root.querySelectorAll("form[data-confirm-dialog]").forEach((form) => {
    if (confirmForms.has(form)) return;
    const dialog = document.getElementById(form.dataset.confirmDialog);
    if (!dialog || typeof dialog.showModal !== "function") return;  // the checkbox keeps guarding it
    confirmForms.add(form);
    form.querySelectorAll(".confirm-check").forEach((label) => {
      label.hidden = true;
      const box = label.querySelector("input[type=checkbox]");
      if (box) box.required = false;
    });
    dialog.addEventListener("close", () => {
      const submitter = form._confirmSubmitter || null;
      form._confirmSubmitter = null;
      if (dialog.returnValue === "confirm") {
        form.querySelectorAll(".confirm-check input[type=checkbox]").forEach((box) => { box.checked = true; });
        form.dataset.confirmed = "1";
        if (typeof form.requestSubmit === "function") form.requestSubmit(submitter);
        else form.submit();
      } else if (submitter) {
        submitter.focus();
      }
    });
  });
}
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !confirmForms.has(form)) return;
  if (form.dataset.confirmed === "1") {  // confirmed: let it go (to the server or to htmx)
    delete form.dataset.confirmed;
    return;
  }
  const dialog = document.getElementById(form.dataset.confirmDialog);
  event.preventDefault();
  event.stopImmediatePropagation();
  form._confirmSubmitter = event.submitter || null;
  const answer = dialog.querySelector("[data-confirm-answer]");
  if (answer) {  // the "yes" button says what the pressed button does (e.g. "refund to my card")
    if (!answer.dataset.standard) answer.dataset.standard = answer.textContent;
    answer.textContent = (event.submitter && event.submitter.dataset.confirmAnswer) || answer.dataset.standard;
  }
  dialog.returnValue = "";
  dialog.showModal();
}, true);
setUpConfirmForms(document);
document.addEventListener("htmx:load", (event) => setUpConfirmForms(event.target.parentNode || document));
document.addEventListener("htmx:historyRestore", () => setUpConfirmForms(document));
