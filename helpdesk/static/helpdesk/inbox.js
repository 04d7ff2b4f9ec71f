// The inbox, live: row selection for the bulk actions, confirmations, and the list kept current
// over the /ws/inbox/ socket.
//
// On a live event (ticket.changed, message.added) the page re-reads its own URL as a fragment
// (?fragment=rows: the rows and the sidebar counts, rendered by the server with the same view,
// filters and sort) and swaps the rows in, keeping the selection. On the first page new tickets
// appear at their place; on a deeper page only the rows already shown are updated in place. While
// the agent is not looking (another tab, another window), the tab title counts the new items:
// "(3) Inbox"; it is reset when they come back.
(function () {
  "use strict";

  var root = document.querySelector("[data-inbox]");
  if (!root) return;

  var rowsBody = document.getElementById("inbox-rows");
  var bulkForm = document.getElementById("bulk-form");
  var selectAll = document.getElementById("select-all");
  var liveStatus = document.getElementById("inbox-live-status");
  var countLabel = bulkForm ? bulkForm.querySelector("[data-selected-count]") : null;
  var mergeTarget = document.getElementById("bulk-merge-target");
  var selected = new Set();
  var baseTitle = document.title;
  var unseen = new Set();

  // --- Selection -------------------------------------------------------------------------

  function rowBoxes() {
    return Array.prototype.slice.call(rowsBody.querySelectorAll("input.row-select"));
  }

  function subjectOf(row) {
    var link = row.querySelector(".col-subject a");
    return link ? link.textContent.trim() : "";
  }

  function showSelection() {
    var boxes = rowBoxes();
    boxes.forEach(function (box) {
      box.checked = selected.has(box.value);
      var row = box.closest("tr");
      if (row) row.classList.toggle("is-checked", box.checked);
    });
    var onPage = boxes.filter(function (box) { return box.checked; }).length;
    if (selectAll) {
      selectAll.checked = boxes.length > 0 && onPage === boxes.length;
      selectAll.indeterminate = onPage > 0 && onPage < boxes.length;
    }
    if (countLabel) {
      countLabel.textContent = selected.size
        ? countLabel.getAttribute("data-some").replace("%(count)s", String(selected.size))
        : countLabel.getAttribute("data-none");
    }
    if (bulkForm) bulkForm.classList.toggle("has-selection", selected.size > 0);
    if (mergeTarget) {
      var chosen = mergeTarget.value;
      while (mergeTarget.options.length > 1) mergeTarget.remove(1);
      boxes.forEach(function (box) {
        if (!selected.has(box.value)) return;
        var option = document.createElement("option");
        option.value = box.value;
        option.textContent = "#" + box.value + " " + subjectOf(box.closest("tr"));
        mergeTarget.appendChild(option);
      });
      mergeTarget.value = selected.has(chosen) ? chosen : "";
    }
  }

  rowsBody.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.classList || !box.classList.contains("row-select")) return;
    if (box.checked) selected.add(box.value); else selected.delete(box.value);
    showSelection();
  });

  if (selectAll) {
    selectAll.addEventListener("change", function () {
      rowBoxes().forEach(function (box) {
        if (selectAll.checked) selected.add(box.value); else selected.delete(box.value);
      });
      showSelection();
    });
  }

  // A click on a row's empty space opens the ticket (links and checkboxes keep their own role).
  rowsBody.addEventListener("click", function (event) {
    if (event.target.closest("a, input, button, label, select")) return;
    var row = event.target.closest("tr[data-ticket-row]");
    if (row && row.getAttribute("data-url") && !window.getSelection().toString()) {
      window.location.href = row.getAttribute("data-url");
    }
  });

  // --- Confirmations ----------------------------------------------------------------------

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter;
    var question = (submitter && submitter.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });

  // --- Live refresh -------------------------------------------------------------------------

  function fragmentUrl() {
    var url = new URL(root.getAttribute("data-refresh-url"), window.location.href);
    url.searchParams.set("fragment", "rows");
    return url.toString();
  }

  function isLooking() {
    return !document.hidden && document.hasFocus();
  }

  function showUnseen() {
    document.title = unseen.size ? "(" + unseen.size + ") " + baseTitle : baseTitle;
  }

  function noteNew(ids) {
    if (!ids.length || isLooking()) return;
    ids.forEach(function (id) { unseen.add(id); });
    showUnseen();
  }

  function looked() {
    if (!isLooking() || !unseen.size) return;
    unseen.clear();
    showUnseen();
  }

  document.addEventListener("visibilitychange", looked);
  window.addEventListener("focus", looked);

  function rowsById(container) {
    var found = {};
    container.querySelectorAll("tr[data-ticket-row]").forEach(function (row) {
      found[row.getAttribute("data-ticket-id")] = row;
    });
    return found;
  }

  function updateCounts(doc) {
    doc.querySelectorAll("#inbox-counts [data-count-for]").forEach(function (item) {
      var badge = document.querySelector('.view-count[data-count-for="' + item.getAttribute("data-count-for") + '"]');
      if (badge) badge.textContent = item.textContent;
    });
  }

  function swapRows(doc) {
    var fresh = doc.getElementById("inbox-rows");
    if (!fresh) return [];
    var before = rowsById(rowsBody);
    var after = rowsById(fresh);
    var added = [];
    var focusedRow = document.activeElement && document.activeElement.closest
      ? document.activeElement.closest("tr[data-ticket-row]")
      : null;
    var focusId = focusedRow ? focusedRow.getAttribute("data-ticket-id") : null;
    var focusOnBox = focusedRow ? document.activeElement.classList.contains("row-select") : false;
    var focusOnRow = focusedRow ? document.activeElement === focusedRow : false;
    // The keyboard's current row (shortcuts.js marks it) stays current across the swap.
    var current = rowsBody.querySelector("tr[data-ticket-row].is-selected");
    var currentId = current ? current.getAttribute("data-ticket-id") : null;

    if (rowsBody.hasAttribute("data-live-insert")) {
      // First page: the server's rows, in the server's order.
      Object.keys(after).forEach(function (id) {
        var row = after[id];
        if (!before[id]) { added.push(id); row.classList.add("is-fresh"); }
        else if (before[id].getAttribute("data-updated") !== row.getAttribute("data-updated")) row.classList.add("is-fresh");
      });
      rowsBody.replaceChildren.apply(rowsBody, Array.prototype.slice.call(fresh.childNodes));
    } else {
      // A deeper page: update the rows shown, never move the page under the agent.
      Object.keys(before).forEach(function (id) {
        var row = after[id];
        if (row && before[id].getAttribute("data-updated") !== row.getAttribute("data-updated")) {
          row.classList.add("is-fresh");
          before[id].replaceWith(row);
        }
      });
    }
    showSelection();
    if (currentId) {
      var marked = rowsBody.querySelector('tr[data-ticket-id="' + currentId + '"]');
      if (marked) {
        marked.classList.add("is-selected");
        marked.setAttribute("aria-selected", "true");
        marked.setAttribute("tabindex", "-1");
      }
    }
    if (focusId) {
      // Keep the keyboard where it was when its row is still there.
      var kept = rowsBody.querySelector('tr[data-ticket-id="' + focusId + '"]');
      var target = null;
      if (kept && focusOnRow) {
        kept.setAttribute("tabindex", "-1");
        target = kept;
      } else if (kept) {
        target = focusOnBox ? kept.querySelector("input.row-select") : kept.querySelector(".col-subject a");
      }
      if (target) target.focus({ preventScroll: true });
    }
    return added;
  }

  var refreshing = false;
  var again = false;
  var timer = null;

  function refresh() {
    timer = null;
    if (refreshing) { again = true; return; }
    refreshing = true;
    lastRefresh = Date.now();
    fetch(fragmentUrl(), { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
      .then(function (html) {
        // Rows parse only inside a table; the counts list is moved out of it by the parser and
        // stays in the same document.
        var doc = new DOMParser().parseFromString("<table>" + html + "</table>", "text/html");
        var added = swapRows(doc);
        updateCounts(doc);
        noteNew(added);
        if (added.length && liveStatus) {
          liveStatus.textContent = liveStatus.getAttribute("data-new-template")
            ? liveStatus.getAttribute("data-new-template").replace("%(count)s", String(added.length))
            : "";
        }
      })
      .catch(function () { /* the next event or reconnection refreshes again */ })
      .then(function () {
        refreshing = false;
        if (again) { again = false; schedule(); }
      });
  }

  // A burst of events (a busy shop) costs one refresh per REFRESH_EVERY at most, per open inbox.
  var REFRESH_EVERY = 2000;
  var lastRefresh = 0;

  function schedule() {
    if (timer !== null) return;
    var wait = Math.max(300, lastRefresh + REFRESH_EVERY - Date.now());
    timer = window.setTimeout(refresh, wait);
  }

  function onEvent(data) {
    if (!data || !data.type) return;
    if (data.type === "message.added" && data.direction === "inbound" && data.ticket_id) {
      if (!isLooking()) { unseen.add(String(data.ticket_id)); showUnseen(); }
    }
    if (data.type === "ticket.changed" || data.type === "message.added") schedule();
  }

  var delay = 1000;
  function connect() {
    if (!window.WebSocket) return;
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + root.getAttribute("data-socket-path"));
    socket.addEventListener("open", function () {
      if (delay > 1000) schedule(); // back after a drop: catch up on what was missed
      delay = 1000;
      root.setAttribute("data-live", "connected");
    });
    socket.addEventListener("message", function (event) {
      try { onEvent(JSON.parse(event.data)); } catch (error) { /* not an event of ours */ }
    });
    socket.addEventListener("close", function (event) {
      root.setAttribute("data-live", "disconnected");
      if (event.code === 4401 || event.code === 4403) return; // signed out: nothing to wait for
      window.setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    });
  }

  showSelection();
  connect();
})();
