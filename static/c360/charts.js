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
    var layout = spec.figure.layout;
    // On a phone the modebar would cover the figure's title: the page shows the chart's heading
    // above the figure instead, and the figure keeps room at the top for the modebar.
    if (el.clientWidth < 640 && layout.title && layout.title.text) {
      var heading = document.getElementById(el.getAttribute("aria-labelledby") || "");
      if (heading) { heading.classList.remove("sr-only"); }
      layout.title = { text: "" };
      layout.margin = Object.assign({}, layout.margin, { t: 40 });
    }
    Plotly.newPlot(el, spec.figure.data, layout, spec.config).then(function () {
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
