/* Collision detection on a ticket page: who else has the ticket open, who is typing a reply,
 * and a warning while you write when the customer or another agent adds a message.
 *
 * Talks to ws/tickets/<id>/presence/ (tickets/presence.py). Texts come translated from the
 * server (templates/tickets/_presence.html); names are inserted as text, never as HTML.
 */
(function () {
  "use strict";

  var body = document.getElementById("composer-body");
  var texts = document.getElementById("presence-texts");
  if (!body || !texts || !window.WebSocket) return;

  function ticketId() {
    // The ticket page's own address: /tickets/<id>/ (the conversation may show other tickets'
    // messages, so their data-ticket-id does not say which ticket this page is).
    var match = window.location.pathname.match(/^\/tickets\/(\d+)\//);
    return match ? match[1] : null;
  }

  var id = ticketId();
  if (!id) return;

  var TYPING_IDLE_MS = 4000;      // typing stops after this much quiet
  var TYPING_REPEAT_MS = 3000;    // while typing, tell the server again this often
  var DRAFT_KEY = "helpdesk:draft:" + id;

  function text(name, agent) {
    var node = texts.content.querySelector('[data-text="' + name + '"]');
    var value = node ? node.textContent.trim() : name;
    return agent === undefined ? value : value.split("{name}").join(agent);
  }

  /* --- The bar above the composer and the banner inside it. --- */
  var form = body.form || body.closest("form");
  var composer = (form && form.closest("section")) || form || body.parentNode;

  var bar = document.createElement("div");
  bar.className = "presence";
  bar.id = "presence";
  bar.setAttribute("role", "status");
  bar.setAttribute("aria-live", "polite");
  bar.setAttribute("aria-label", text("label"));
  bar.hidden = true;
  var list = document.createElement("ul");
  list.className = "presence__list";
  bar.appendChild(list);
  composer.parentNode.insertBefore(bar, composer);

  var banner = document.createElement("div");
  banner.className = "alert alert--warning presence-conflict";
  banner.id = "presence-conflict";
  banner.setAttribute("role", "alert");
  banner.hidden = true;
  var bannerText = document.createElement("p");
  bannerText.className = "presence-conflict__text";
  var bannerActions = document.createElement("p");
  bannerActions.className = "presence-conflict__actions";
  var show = document.createElement("button");
  show.type = "button";
  show.className = "btn btn--small";
  show.textContent = text("conflict-show");
  var dismiss = document.createElement("button");
  dismiss.type = "button";
  dismiss.className = "btn btn--quiet btn--small";
  dismiss.textContent = text("conflict-dismiss");
  bannerActions.appendChild(show);
  bannerActions.appendChild(document.createTextNode(" "));
  bannerActions.appendChild(dismiss);
  banner.appendChild(bannerText);
  banner.appendChild(bannerActions);
  if (form) form.insertBefore(banner, form.firstChild); else composer.appendChild(banner);

  var newMessageId = null;

  // On a chat-widget ticket: "the customer is typing", shown under the viewers.
  var customerTyping = document.createElement("p");
  customerTyping.className = "presence__customer-typing";
  customerTyping.setAttribute("role", "status");
  customerTyping.hidden = true;
  customerTyping.textContent = text("customer-typing");
  if (form) form.insertBefore(customerTyping, form.firstChild); else composer.appendChild(customerTyping);

  function render(state) {
    list.textContent = "";
    var others = state.viewers.filter(function (viewer) { return viewer.user_id !== state.you; });
    others.forEach(function (viewer) {
      var item = document.createElement("li");
      item.className = "presence__viewer" + (viewer.typing ? " presence__viewer--typing" : "");
      item.dataset.userId = viewer.user_id;
      var dot = document.createElement("span");
      dot.className = "presence__dot";
      dot.setAttribute("aria-hidden", "true");
      item.appendChild(dot);
      item.appendChild(document.createTextNode(text(viewer.typing ? "typing" : "viewing", viewer.name)));
      list.appendChild(item);
    });
    bar.hidden = others.length === 0;
  }

  function writing() {
    return body.value.trim().length > 0;
  }

  var pending = null;  // a conflict that arrived before the agent started writing

  function warn(conflict) {
    if (!writing()) { pending = conflict; return; }
    pending = null;
    newMessageId = conflict.message_id;
    bannerText.textContent = conflict.kind === "customer"
      ? text("conflict-customer")
      : text("conflict-agent", conflict.author || "");
    banner.dataset.kind = conflict.kind;
    banner.hidden = false;
  }

  dismiss.addEventListener("click", function () {
    banner.hidden = true;
    body.focus();
  });

  show.addEventListener("click", function () {
    var shown = newMessageId && document.getElementById("message-" + newMessageId);
    if (shown) {
      banner.hidden = true;
      shown.scrollIntoView({ block: "center" });
      return;
    }
    // The message is not on the page yet: reload, keeping the draft for this tab.
    keepDraftAndReload(newMessageId ? "message-" + newMessageId : "");
  });

  try {
    var draft = window.sessionStorage.getItem(DRAFT_KEY);
    if (draft !== null) {
      window.sessionStorage.removeItem(DRAFT_KEY);
      if (!body.value) body.value = draft;
    }
  } catch (error) { /* private mode */ }

  /* --- A reply's delivery state, as the provider reports it. --- */
  function showDelivery(update) {
    var badge = document.querySelector("#message-" + update.message_id + " .badge--delivery");
    if (!badge || !/^[a-z]+$/.test(update.state)) return;
    if (update.state === "failed") {
      // The reason is shown by the server's page: reload it, keeping the draft.
      keepDraftAndReload();
      return;
    }
    Array.prototype.slice.call(badge.classList).forEach(function (name) {
      if (name.indexOf("dl-") === 0) badge.classList.remove(name);
    });
    badge.classList.add("dl-" + update.state);
    badge.textContent = text("delivery-" + update.state);
  }

  function keepDraftAndReload(hash) {
    try { window.sessionStorage.setItem(DRAFT_KEY, body.value); } catch (error) { /* private mode */ }
    if (hash) window.location.hash = hash;
    window.location.reload();
  }

  /* --- The socket, with a heartbeat and reconnection. --- */
  var socket = null;
  var heartbeat = null;
  var heartbeatMs = 8000;
  var retryMs = 1000;
  var typing = false;
  var typingIdle = null;
  var typingSentAt = 0;

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  function startHeartbeat() {
    window.clearInterval(heartbeat);
    heartbeat = window.setInterval(function () { send({ type: "heartbeat" }); }, heartbeatMs);
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + "/ws/tickets/" + id + "/presence/");
    socket.addEventListener("open", function () {
      retryMs = 1000;
      startHeartbeat();
      if (typing) send({ type: "typing" });
    });
    socket.addEventListener("message", function (event) {
      var message;
      try { message = JSON.parse(event.data); } catch (error) { return; }
      if (message.type === "presence") {
        var wanted = Math.max(1000, (message.heartbeat_seconds || 8) * 1000);
        if (wanted !== heartbeatMs) { heartbeatMs = wanted; startHeartbeat(); }
        render(message);
      } else if (message.type === "conflict") {
        warn(message);
      } else if (message.type === "delivery") {
        showDelivery(message);
      } else if (message.type === "visitor_typing") {
        customerTyping.hidden = !message.typing;
      }
    });
    socket.addEventListener("close", function (event) {
      window.clearInterval(heartbeat);
      list.textContent = "";
      bar.hidden = true;
      // 4401/4403: not signed in, or not allowed on this ticket; retrying will not help.
      if (event.code === 4401 || event.code === 4403) return;
      window.setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 30000);
    });
  }

  function stopTyping() {
    window.clearTimeout(typingIdle);
    if (!typing) return;
    typing = false;
    typingSentAt = 0;
    send({ type: "typing_stopped" });
  }

  body.addEventListener("input", function () {
    var now = Date.now();
    if (!typing || now - typingSentAt > TYPING_REPEAT_MS) {
      typing = true;
      typingSentAt = now;
      send({ type: "typing" });
    }
    window.clearTimeout(typingIdle);
    typingIdle = window.setTimeout(stopTyping, TYPING_IDLE_MS);
    if (pending && writing()) warn(pending);
  });

  // Background tabs have their timers slowed (to once a minute in Chromium): such a tab may drop
  // out of the others' lists, and it is back as soon as it is looked at again.
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) send({ type: "heartbeat" });
  });

  if (form) form.addEventListener("submit", stopTyping);
  window.addEventListener("pagehide", function () {
    stopTyping();
    if (socket) socket.close();
  });

  connect();
})();
