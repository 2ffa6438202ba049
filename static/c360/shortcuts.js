// Keyboard shortcuts beyond "/" (app.js): "?" opens the help, "g" + a letter goes to an area of the
// main menu (only areas the user's menu has), "e" edits the customer record, "x" exports the list.
(function () {
  "use strict";
  const GO = { c: "customers", d: "deals", b: "deals", t: "tickets", f: "feed" };
  let pendingG = 0;

  function typing(target) {
    return target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT" || target.isContentEditable);
  }

  function go(letter) {
    const link = document.querySelector('[data-nav="' + GO[letter] + '"]');
    if (!link) { return; }
    window.location.href = link.getAttribute("href") + (letter === "b" ? "?view=board" : "");
  }

  function click(selector) {
    const element = document.querySelector(selector);
    if (element) { element.click(); return true; }
    return false;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    const help = document.getElementById("shortcut-help");
    if (help && help.open) { return; }  // the dialog handles Esc itself
    if (pendingG && Date.now() - pendingG < 1500 && GO[event.key]) {
      pendingG = 0;
      event.preventDefault();
      go(event.key);
      return;
    }
    pendingG = 0;
    if (event.key === "?" && help) {
      event.preventDefault();
      help.showModal();
    } else if (event.key === "g") {
      pendingG = Date.now();
    } else if (event.key === "e") {
      if (click("#edit-record")) { event.preventDefault(); }
    } else if (event.key === "x") {
      if (click(".export-links a[href*='export=xlsx']")) { event.preventDefault(); }
    }
  });
})();
