// The ticket page's composer, progressively enhanced: without this script every feature still works
// through plain links and forms (canned responses preview by reloading the page).
//
// - reply / note mode: notes hide the reply-only fields and take the note colour;
// - canned responses: filter by title as you type, preview with the ticket's details filled in
//   (fetched from the server), insert into the message box;
// - @mentions in notes: suggestions of the agents who can see the ticket, chosen with the
//   arrow keys and Enter (or a click).
(function () {
  "use strict";

  var form = document.querySelector("form[data-composer]");
  if (!form) return;
  var body = document.getElementById("composer-body");

  // --- Reply / note mode ---------------------------------------------------------------------
  function currentMode() {
    var checked = form.querySelector("input[data-composer-mode]:checked");
    return checked ? checked.getAttribute("data-composer-mode") : "reply";
  }
  function applyMode() {
    var mode = currentMode();
    form.classList.toggle("composer--note", mode === "note");
    form.querySelectorAll(".composer__reply-only").forEach(function (element) {
      element.hidden = mode === "note";
    });
  }
  form.querySelectorAll("input[data-composer-mode]").forEach(function (input) {
    input.addEventListener("change", applyMode);
  });
  applyMode();

  // --- Canned responses ------------------------------------------------------------------------
  var canned = document.querySelector("[data-canned]");
  if (canned) {
    var search = canned.querySelector("#canned-search");
    var items = canned.querySelectorAll("li[data-canned-title]");
    var preview = canned.querySelector("#canned-preview");
    var previewTitle = canned.querySelector("[data-canned-preview-title]");
    var previewText = canned.querySelector("[data-canned-preview-text]");
    var insert = canned.querySelector("[data-canned-insert]");

    search.addEventListener("input", function () {
      var needle = search.value.trim().toLowerCase();
      items.forEach(function (item) {
        item.hidden = needle !== "" && item.getAttribute("data-canned-title").indexOf(needle) === -1;
      });
    });
    search.addEventListener("keydown", function (event) {
      if (event.key !== "Enter") return;
      event.preventDefault();
      var first = Array.prototype.find.call(items, function (item) { return !item.hidden; });
      if (first) first.querySelector("a").click();
    });
    canned.addEventListener("click", function (event) {
      var link = event.target.closest("a[data-preview-url]");
      if (!link) return;
      event.preventDefault();
      fetch(link.getAttribute("data-preview-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
        .then(function (data) {
          previewTitle.textContent = data.title;
          previewText.textContent = data.text;
          preview.hidden = false;
          var note = preview.querySelector("[data-canned-inserted-note]");
          if (note) note.remove();
          insert.focus();
        })
        .catch(function () { window.location.href = link.href; });
    });
    insert.addEventListener("click", function () {
      var text = previewText.textContent;
      if (!text) return;
      var start = body.selectionStart || 0;
      var end = body.selectionEnd || 0;
      if (body.value.trim() === "" ) {
        body.value = text;
      } else {
        body.value = body.value.slice(0, start) + text + body.value.slice(end);
      }
      body.dispatchEvent(new Event("input", { bubbles: true }));
      body.focus();
    });
  }

  // --- @mentions -------------------------------------------------------------------------------
  var list = document.getElementById("mention-list");
  var mentionUrl = form.getAttribute("data-mention-url");
  var active = -1;
  var pending = null;

  function mentionQuery() {
    if (currentMode() !== "note") return null;
    var before = body.value.slice(0, body.selectionStart);
    var match = /(?:^|[\s(])@([\w.+-]{0,30})$/.exec(before);
    return match ? match[1] : null;
  }
  function closeList() {
    list.hidden = true;
    list.innerHTML = "";
    active = -1;
    body.removeAttribute("aria-activedescendant");
  }
  function choose(username) {
    var caret = body.selectionStart;
    var before = body.value.slice(0, caret).replace(/@([\w.+-]*)$/, "@" + username + " ");
    body.value = before + body.value.slice(caret);
    body.selectionStart = body.selectionEnd = before.length;
    closeList();
    body.focus();
  }
  function highlight(index) {
    var options = list.querySelectorAll("[role=option]");
    options.forEach(function (option, i) { option.setAttribute("aria-selected", i === index ? "true" : "false"); });
    active = index;
    if (options[index]) body.setAttribute("aria-activedescendant", options[index].id);
  }
  function suggest() {
    var query = mentionQuery();
    if (query === null) { closeList(); return; }
    if (pending) pending.abort();
    pending = new AbortController();
    fetch(mentionUrl + "?q=" + encodeURIComponent(query), { credentials: "same-origin", signal: pending.signal })
      .then(function (response) { return response.ok ? response.json() : { results: [] }; })
      .then(function (data) {
        list.innerHTML = "";
        data.results.forEach(function (agent, index) {
          var option = document.createElement("li");
          option.id = "mention-option-" + index;
          option.setAttribute("role", "option");
          option.setAttribute("data-username", agent.username);
          option.textContent = agent.name + " (@" + agent.username + ")";
          option.addEventListener("mousedown", function (event) { event.preventDefault(); choose(agent.username); });
          list.appendChild(option);
        });
        list.hidden = data.results.length === 0;
        if (data.results.length) highlight(0);
      })
      .catch(function () {});
  }
  if (body && list && mentionUrl) {
    body.setAttribute("aria-controls", "mention-list");
    body.addEventListener("input", suggest);
    body.addEventListener("keydown", function (event) {
      if (list.hidden) return;
      var options = list.querySelectorAll("[role=option]");
      if (event.key === "ArrowDown") { event.preventDefault(); highlight((active + 1) % options.length); }
      else if (event.key === "ArrowUp") { event.preventDefault(); highlight((active - 1 + options.length) % options.length); }
      else if (event.key === "Enter" || event.key === "Tab") {
        if (options[active]) { event.preventDefault(); choose(options[active].getAttribute("data-username")); }
      } else if (event.key === "Escape") { closeList(); }
    });
    body.addEventListener("blur", function () { setTimeout(closeList, 150); });
  }
})();
