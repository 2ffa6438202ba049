// The deal board: drag a card onto another column to move the deal to that stage. The move is posted
// to the same endpoint as the card's "Move to" form (the keyboard way), through the crm service.
(function () {
  "use strict";
  const board = document.querySelector("[data-board]");
  if (!board) { return; }
  let dragged = null;

  function csrfToken(card) {
    const input = card.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function showError(text) {
    const box = document.getElementById("board-error");
    if (box) { box.textContent = text; box.hidden = !text; }
  }

  function recount() {
    board.querySelectorAll(".board-column").forEach(function (column) {
      const cards = column.querySelectorAll(".deal-card");
      const count = column.querySelector("[data-count]");
      if (count) { count.textContent = String(cards.length); }
      const total = column.querySelector("[data-total]");
      if (total) {
        let sum = 0;
        cards.forEach(function (card) { sum += parseFloat(card.getAttribute("data-amount") || "0"); });
        const format = new Intl.NumberFormat(document.documentElement.lang || undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
        total.textContent = "EUR " + format.format(sum);
      }
      const empty = column.querySelector(".board-empty");
      if (empty) { empty.hidden = column.querySelectorAll(".deal-card").length > 0; }
    });
  }

  function move(card, column) {
    const stage = column.getAttribute("data-stage");
    const body = new FormData();
    body.append("stage", stage);
    fetch(card.getAttribute("data-move-url"), {
      method: "POST",
      body: body,
      headers: { "Accept": "application/json", "X-CSRFToken": csrfToken(card) },
      credentials: "same-origin",
    }).then(function (response) {
      return response.json().then(function (data) { return { ok: response.ok, data: data }; });
    }).then(function (result) {
      if (!result.ok) { showError(result.data.error || ""); return; }
      showError("");
      column.querySelector("[data-drop]").appendChild(card);
      const select = card.querySelector("select[name=stage]");
      if (select) { select.value = stage; }
      recount();
    }).catch(function () { showError(board.getAttribute("data-error") || "Error"); });
  }

  board.addEventListener("dragstart", function (event) {
    const card = event.target.closest && event.target.closest(".deal-card[draggable=true]");
    if (!card) { return; }
    dragged = card;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.getAttribute("data-deal"));
    card.classList.add("dragging");
  });
  board.addEventListener("dragend", function () {
    if (dragged) { dragged.classList.remove("dragging"); }
    board.querySelectorAll(".drop-target").forEach(function (el) { el.classList.remove("drop-target"); });
    dragged = null;
  });
  board.addEventListener("dragover", function (event) {
    const column = event.target.closest && event.target.closest(".board-column");
    if (!dragged || !column || column.getAttribute("data-pipeline") !== dragged.getAttribute("data-pipeline")) { return; }
    event.preventDefault();
    column.classList.add("drop-target");
  });
  board.addEventListener("dragleave", function (event) {
    const column = event.target.closest && event.target.closest(".board-column");
    if (column && !column.contains(event.relatedTarget)) { column.classList.remove("drop-target"); }
  });
  board.addEventListener("drop", function (event) {
    const column = event.target.closest && event.target.closest(".board-column");
    if (!dragged || !column) { return; }
    event.preventDefault();
    column.classList.remove("drop-target");
    if (column.contains(dragged)) { return; }
    move(dragged, column);
  });
})();
