/* Keyboard shortcuts of the agents' pages, and their help window ("?").
 *
 * Inbox: j / k move through the rows (tr[data-ticket-row]), o or Enter opens the selected one,
 * "/" goes to the search box (#inbox-search).
 * Ticket page: j / k go to the next / previous ticket of the inbox view (a[data-nav]), r and n
 * start a reply or an internal note ([data-composer-mode] + #composer-body), a assigns the ticket
 * to me ([data-action="assign-me"]), s goes to the status (#ticket-status), Shift+S marks the
 * ticket solved; Ctrl+Enter in the message box sends it.
 * Shortcuts never fire while the agent types in a field; Esc leaves the field.
 */
(function () {
  "use strict";

  var help = document.getElementById("shortcuts-help");
  var ROW = "tr[data-ticket-row]";

  function isTyping(target) {
    if (!target || !target.tagName) return false;
    if (target.isContentEditable) return true;
    var tag = target.tagName.toLowerCase();
    if (tag === "textarea" || tag === "select") return true;
    if (tag !== "input") return false;
    var type = (target.getAttribute("type") || "text").toLowerCase();
    return ["button", "submit", "reset", "checkbox", "radio", "image", "file", "range", "color"].indexOf(type) === -1;
  }

  function visible(element) {
    return !!element && element.getClientRects().length > 0;
  }

  function rows() {
    return Array.prototype.filter.call(document.querySelectorAll(ROW), visible);
  }

  function currentRow() {
    var active = document.activeElement;
    var row = active && active.closest ? active.closest(ROW) : null;
    if (row) return row;
    return document.querySelector(ROW + ".is-selected");
  }

  function selectRow(row) {
    document.querySelectorAll(ROW + ".is-selected").forEach(function (other) {
      other.classList.remove("is-selected");
      other.removeAttribute("aria-selected");
    });
    if (!row) return;
    row.classList.add("is-selected");
    row.setAttribute("aria-selected", "true");
    if (!row.hasAttribute("tabindex")) row.setAttribute("tabindex", "-1");
    row.focus();
    row.scrollIntoView({ block: "nearest" });
  }

  function moveInInbox(step) {
    var all = rows();
    if (!all.length) return false;
    var index = all.indexOf(currentRow());
    var next = index === -1 ? (step > 0 ? 0 : all.length - 1) : Math.min(Math.max(index + step, 0), all.length - 1);
    selectRow(all[next]);
    return true;
  }

  function rowUrl(row) {
    if (row.dataset.url) return row.dataset.url;
    var link = row.querySelector("a[href]");
    return link ? link.getAttribute("href") : null;
  }

  function openRow() {
    var row = currentRow();
    var url = row && rowUrl(row);
    if (!url) return false;
    window.location.assign(url);
    return true;
  }

  function follow(selector) {
    var link = document.querySelector(selector);
    if (!link || !link.getAttribute("href")) return false;
    window.location.assign(link.getAttribute("href"));
    return true;
  }

  function compose(mode) {
    var body = document.getElementById("composer-body");
    if (!body) return false;
    var switcher = document.querySelector('[data-composer-mode="' + mode + '"]');
    if (switcher) {
      if (switcher.type === "radio" || switcher.type === "checkbox") {
        if (!switcher.checked) switcher.click();
      } else {
        switcher.click();
      }
    }
    body.focus();
    return true;
  }

  function submit(element) {
    if (!element) return false;
    var tag = element.tagName.toLowerCase();
    if (tag === "form") {
      if (element.requestSubmit) element.requestSubmit(); else element.submit();
    } else {
      element.click();
    }
    return true;
  }

  function assignToMe() {
    var control = document.querySelector('[data-action="assign-me"]');
    if (!control) return false;
    if (control.tagName.toLowerCase() !== "form") {
      var inside = control.querySelector && control.querySelector('button[type="submit"], button:not([type])');
      return submit(inside || control);
    }
    return submit(control);
  }

  function focusStatus() {
    var select = document.getElementById("ticket-status");
    if (!select) return false;
    select.focus();
    return true;
  }

  function markSolved() {
    var select = document.getElementById("ticket-status");
    if (!select || !select.querySelector('option[value="solved"]')) return false;
    select.value = "solved";
    select.dispatchEvent(new Event("change", { bubbles: true }));
    var form = select.form || select.closest('[data-action="status"]');
    if (form && form.tagName.toLowerCase() === "form") return submit(form);
    return true;
  }

  function focusSearch() {
    var search = document.getElementById("inbox-search");
    if (search) {
      search.focus();
      if (search.select) search.select();
      return true;
    }
    if (help && help.dataset.inboxUrl) {
      window.location.assign(help.dataset.inboxUrl + "#search");
      return true;
    }
    return false;
  }

  /* --- The help window: a modal dialog that keeps the focus inside it. --- */
  var returnFocusTo = null;

  function focusables() {
    return Array.prototype.filter.call(
      help.querySelectorAll('button, [href], input, select, textarea, [tabindex]:not([tabindex="-1"])'),
      function (element) { return !element.disabled && visible(element); }
    );
  }

  function openHelp() {
    if (!help || help.open) return false;
    returnFocusTo = document.activeElement;
    if (help.showModal) help.showModal(); else help.setAttribute("open", "");
    var first = focusables()[0];
    if (first) first.focus();
    return true;
  }

  function closeHelp() {
    if (!help || !help.open) return;
    if (help.close) help.close(); else help.removeAttribute("open");
  }

  document.querySelectorAll("[data-shortcuts-open]").forEach(function (button) {
    button.addEventListener("click", openHelp);
  });

  if (help) {
    help.addEventListener("close", function () {
      if (returnFocusTo && returnFocusTo.focus && document.contains(returnFocusTo)) returnFocusTo.focus();
      returnFocusTo = null;
    });
    help.addEventListener("click", function (event) {
      // A click on the backdrop (the dialog element itself, outside its content) closes it.
      if (event.target === help || event.target.closest("[data-shortcuts-close]")) closeHelp();
    });
    help.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        event.preventDefault();
        closeHelp();
        return;
      }
      if (event.key !== "Tab") return;
      var items = focusables();
      if (!items.length) { event.preventDefault(); return; }
      var first = items[0], last = items[items.length - 1];
      var inside = help.contains(document.activeElement);
      if (event.shiftKey && (document.activeElement === first || !inside)) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && (document.activeElement === last || !inside)) {
        event.preventDefault();
        first.focus();
      }
    });
  }

  var onTicketPage = function () { return !!document.getElementById("composer-body") || !!document.getElementById("ticket-status"); };

  var actions = {
    "j": function () { return onTicketPage() ? follow('a[data-nav="next"]') : moveInInbox(1); },
    "k": function () { return onTicketPage() ? follow('a[data-nav="previous"]') : moveInInbox(-1); },
    "o": openRow,
    "Enter": function (event) {
      // Only on a row chosen with j / k: Enter on a link, a button or a checkbox keeps its meaning.
      var target = event.target;
      if (!target || !target.matches || !target.matches(ROW)) return false;
      return openRow();
    },
    "/": focusSearch,
    "r": function () { return compose("reply"); },
    "n": function () { return compose("note"); },
    "a": assignToMe,
    "s": focusStatus,
    "S": markSolved,
    "?": openHelp,
  };

  // Escape first closes what a field has opened (the composer's @mention suggestions, say);
  // only an Escape with nothing open leaves the field. Seen before the field's own handlers run.
  var escapeClosesAList = false;
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || !isTyping(event.target)) return;
    var scope = event.target.closest("form, [role=search]") || event.target.parentNode;
    escapeClosesAList = !!(scope && Array.prototype.some.call(
      scope.querySelectorAll('[role="listbox"]'), visible
    ));
  }, true);

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.isComposing) return;
    if (help && help.open) return;  // the dialog handles its own keys
    if (event.key === "Escape" && isTyping(event.target)) {
      if (!escapeClosesAList) event.target.blur();
      escapeClosesAList = false;
      return;
    }
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && event.target.id === "composer-body") {
      // Ctrl+Enter (Cmd+Enter on a Mac) sends from the message box, through the form's own
      // submit (its checks and handlers run as for a click on Send).
      event.preventDefault();
      submit(event.target.form);
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (isTyping(event.target)) return;
    var action = actions[event.key];
    if (!action) return;
    if (action(event)) event.preventDefault();
  });

  // "/" on a page without the search box opens the inbox with it.
  if (window.location.hash === "#search") {
    var search = document.getElementById("inbox-search");
    if (search) search.focus();
  }
})();
