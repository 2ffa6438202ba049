// Draws the figures of dashboards and feed analytics (JSON built in Python, in <script type="application/json">)
// with the local plotly.js, and makes a click on a bar or point open the records behind it where the
// figure names a drill-down. The data tables below each chart work without this.
(function () {
  "use strict";
  if (typeof Plotly === "undefined") { return; }
  document.querySelectorAll("[data-figure]").forEach(function (el) {
    var source = document.getElementById(el.getAttribute("data-figure"));
    if (!source) { return; }
    var spec = JSON.parse(source.textContent);
    Plotly.newPlot(el, spec.figure.data, spec.figure.layout, spec.config).then(function () {
      el.setAttribute("data-ready", "true");
    });
    var drill = el.getAttribute("data-drill");
    if (!drill) { return; }
    el.style.cursor = "pointer";
    el.on("plotly_click", function (event) {
      var point = event.points && event.points[0];
      if (!point || !point.customdata) { return; }
      var bucket = point.customdata[0], series = point.customdata[1] || "";
      window.location.href = drill + "&bucket=" + encodeURIComponent(bucket) + "&series=" + encodeURIComponent(series);
    });
  });
})();
