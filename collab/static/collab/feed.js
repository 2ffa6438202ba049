// Insert a picked customer reference (#C-000123) into the composer at the cursor.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-insert-ref]");
  if (!button) return;
  var area = document.getElementById("id_body");
  if (!area) return;
  var ref = button.getAttribute("data-insert-ref") + " ";
  var start = area.selectionStart || area.value.length;
  area.value = area.value.slice(0, start) + ref + area.value.slice(area.selectionEnd || start);
  area.focus();
  area.selectionStart = area.selectionEnd = start + ref.length;
  var hits = document.getElementById("customer-hits");
  if (hits) hits.innerHTML = "";
});
