// Small enhancements; every page works without them.
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    // "/" focuses the global search, unless the user is typing somewhere already.
    const target = event.target;
    const typing = target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT" || target.isContentEditable);
    if (event.key === "/" && !typing) {
      const search = document.getElementById("global-search");
      if (search) { event.preventDefault(); search.focus(); }
    }
    if (event.key === "Escape") {
      const results = document.getElementById("search-results");
      if (results) { results.innerHTML = ""; }
      // Escape closes an open menu and gives the focus back to its button.
      const open = document.querySelector("[data-disclosure][aria-expanded='true']");
      if (open) { setMenu(open, false); open.focus(); }
    }
  });
  // <select data-autosubmit>: choosing a value submits its form (no inline handlers under our CSP).
  document.addEventListener("change", function (event) {
    const field = event.target.closest && event.target.closest("[data-autosubmit]");
    if (field && field.form) { field.form.requestSubmit ? field.form.requestSubmit() : field.form.submit(); }
  });
  // data-count-param="index" data-count-of="<selector>": an htmx request sends how many elements
  // match (htmx may not evaluate "js:" values under our CSP).
  document.addEventListener("htmx:configRequest", function (event) {
    const elt = event.detail.elt;
    const name = elt && elt.getAttribute("data-count-param");
    if (name) { event.detail.parameters[name] = String(document.querySelectorAll(elt.getAttribute("data-count-of")).length); }
  });
  // Menus of the top navigation: <button data-disclosure aria-controls="id" aria-expanded>; one open
  // at a time, closed by Escape, by a click elsewhere or when the focus leaves the menu.
  function setMenu(button, open) {
    const menu = document.getElementById(button.getAttribute("aria-controls"));
    button.setAttribute("aria-expanded", open ? "true" : "false");
    if (menu) { menu.hidden = !open; }
  }
  function closeMenus(except) {
    document.querySelectorAll("[data-disclosure][aria-expanded='true']").forEach(function (button) {
      if (button !== except) { setMenu(button, false); }
    });
  }
  document.addEventListener("click", function (event) {
    const disclosure = event.target.closest("[data-disclosure]");
    closeMenus(disclosure);
    if (disclosure) { setMenu(disclosure, disclosure.getAttribute("aria-expanded") !== "true"); }
  });
  document.addEventListener("focusin", function (event) {
    const group = event.target.closest && event.target.closest(".nav-group");
    document.querySelectorAll("[data-disclosure][aria-expanded='true']").forEach(function (button) {
      if (!group || !group.contains(button)) { setMenu(button, false); }
    });
  });
  document.addEventListener("click", function (event) {
    const toggle = event.target.closest("[data-toggle-nav]");
    if (toggle) {
      const nav = document.getElementById("mainnav");
      const open = nav.classList.toggle("open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    }
  });
})();
