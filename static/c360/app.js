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
    }
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
