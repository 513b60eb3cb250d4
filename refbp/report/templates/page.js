// Sortable columns, "show all" for long tables, and anchors that open the section they name.
// Local and small: a page loads nothing from the network.
(function () {
  "use strict";
  function key(cell, numeric) {
    if (numeric) {
      var text = cell.getAttribute("data-sort");
      return text === "" || text === null ? NaN : parseFloat(text);
    }
    return cell.textContent.trim().toLowerCase();
  }
  function showAll(wrap) {  // a sorted table shows every row: its first rows are the sorted ones
    wrap.querySelectorAll("tr.extra").forEach(function (row) { row.hidden = false; });
    var button = wrap.querySelector("button.show-all");
    if (button) { button.remove(); }
  }
  function sortBy(th) {
    var table = th.closest("table");
    showAll(table.parentNode);
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var numeric = th.classList.contains("num");
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[index], numeric), y = key(b.cells[index], numeric);
      if (numeric) {  // missing numbers last, whatever the direction
        if (isNaN(x) || isNaN(y)) { return isNaN(x) - isNaN(y); }
        return ascending ? x - y : y - x;
      }
      return ascending ? x.localeCompare(y) : y.localeCompare(x);
    });
    Array.prototype.forEach.call(th.parentNode.children, function (other) { other.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    rows.forEach(function (row) { body.appendChild(row); });
  }
  document.querySelectorAll("table.sortable th").forEach(function (th) {
    th.addEventListener("click", function () { sortBy(th); });
    th.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sortBy(th); }
    });
  });
  document.querySelectorAll("button.show-all").forEach(function (button) {
    button.addEventListener("click", function () { showAll(button.parentNode); });
  });
  function openTarget() {
    var id = decodeURIComponent(window.location.hash.slice(1));
    var target = id && document.getElementById(id);
    if (!target) { return; }
    for (var node = target; node; node = node.parentElement) {
      if (node.tagName === "DETAILS") { node.open = true; }
    }
    target.scrollIntoView();
  }
  window.addEventListener("hashchange", openTarget);
  openTarget();
}());
