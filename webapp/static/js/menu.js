// Folio: the header menu and the book page's buy bar. Both work without this file: the menu is a <details>
// disclosure and the buy bar a plain form; this only adds what a keyboard or a scrolling reader expects.
(() => {
  const menu = document.getElementById("site-menu");
  if (menu) {
    const summary = menu.querySelector("summary");
    // Escape closes the open menu and puts focus back on its button.
    menu.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && menu.open) {
        menu.open = false;
        summary.focus();
      }
    });
    // A click or a focus move outside the menu closes it, as a menu does.
    document.addEventListener("click", (event) => {
      if (menu.open && !menu.contains(event.target)) menu.open = false;
    });
    document.addEventListener("focusin", (event) => {
      if (menu.open && !menu.contains(event.target)) menu.open = false;
    });
  }

  // The buy bar (phones) shows only while the main buy box is out of view, so the page never offers the same
  // button twice at once. Without IntersectionObserver (or JavaScript) it simply stays.
  const bar = document.getElementById("buy-bar");
  const box = document.getElementById("buy");
  if (bar && box && "IntersectionObserver" in window) {
    new IntersectionObserver((entries) => {
      for (const entry of entries) bar.classList.toggle("buy-bar-off", entry.isIntersecting);
    }).observe(box);
  }
})();
