// Draws the feed analytics figures (JSON built in Python, in <script type="application/json">) with
// the local plotly.js. The tables next to each figure carry the same numbers without script.
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  if (typeof Plotly === "undefined") { return; }
  document.querySelectorAll("[data-figure]").forEach(function (el) {
    var source = document.getElementById(el.getAttribute("data-figure"));
    if (!source) { return; }
    var spec = JSON.parse(source.textContent);
    Plotly.newPlot(el, spec.figure.data, spec.figure.layout, spec.config).then(function () {
      el.setAttribute("data-ready", "true");
    });
  });
});
