/*
 * The shop chat widget. Loaded by /widget/<public key>.js, which queues the widget's settings in
 * window.HelpdeskChatWidgets. Everything lives in a shadow root, so the shop's styles and scripts
 * and the widget's never meet. The visitor's token is kept in localStorage: the conversation
 * survives reloads, and its history is replayed by the server on every (re)connection.
 */
(function () {
  "use strict";

  if (window.HelpdeskChatWidget) {
    window.HelpdeskChatWidget.boot();
    return;
  }

  var widgets = {};
  var URL_PATTERN = /https?:\/\/[^\s<>"']+/g;

  function boot() {
    (window.HelpdeskChatWidgets || []).forEach(function (config) {
      if (!widgets[config.key]) {
        widgets[config.key] = new Widget(config);
      }
    });
  }

  function element(tag, attributes, text) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      node.setAttribute(name, attributes[name]);
    });
    if (text) {
      node.textContent = text;
    }
    return node;
  }

  var ICONS = {
    chat: "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z",
    clip: "M16.5 6.5 8.6 14.4a2 2 0 1 0 2.8 2.8l7.8-7.8a4 4 0 0 0-5.6-5.6l-7.9 7.8a6 6 0 0 0 8.5 8.5l6.4-6.4",
    file: "M6 2h8l6 6v14H6z M14 2v6h6",
  };

  function icon(name) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "20");
    svg.setAttribute("height", "20");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("class", "hd-icon");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", ICONS[name]);
    svg.appendChild(path);
    return svg;
  }

  function format(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (match, name) {
      return name in values ? String(values[name]) : match;
    });
  }

  function newId() {
    if (window.crypto && window.crypto.randomUUID) {
      return window.crypto.randomUUID();
    }
    return "c" + Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  /* Text with its web addresses as links; never HTML. */
  function fillText(node, text) {
    var last = 0;
    String(text).replace(URL_PATTERN, function (url, offset) {
      if (offset > last) {
        node.appendChild(document.createTextNode(text.slice(last, offset)));
      }
      var trimmed = url.replace(/[.,;:!?)]+$/, "");
      var link = element("a", { href: trimmed, target: "_blank", rel: "noopener noreferrer" }, trimmed);
      node.appendChild(link);
      last = offset + trimmed.length;
      return url;
    });
    if (last < text.length) {
      node.appendChild(document.createTextNode(text.slice(last)));
    }
  }

  function storage() {
    try {
      return window.localStorage;
    } catch (error) {
      return null;
    }
  }

  function Widget(config) {
    this.config = config;
    this.strings = config.strings;
    this.storageKey = "helpdesk-chat:" + config.key;
    this.token = storage() ? storage().getItem(this.storageKey) : null;
    this.socket = null;
    this.ready = false;
    this.stopped = false;
    this.retry = 0;
    this.nodes = {}; // message id -> element
    this.pending = {}; // client id -> {text, element}
    this.unread = [];
    this.typingTimer = null;
    this.lastTypingSent = 0;
    this.stopTypingTimer = null;
    this.build();
    if (this.token) {
      this.connect();
    }
  }

  Widget.prototype.build = function () {
    var self = this;
    var strings = this.strings;
    var host = element("div", { "data-helpdesk-chat": this.config.key });
    host.style.setProperty("--hd-primary", this.config.colours.primary);
    host.style.setProperty("--hd-on-primary", this.config.colours.text);
    var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
    root.appendChild(element("link", { rel: "stylesheet", href: this.config.css }));

    var wrapper = element("div", { class: "hd-chat hd-" + this.config.position, lang: this.config.language });
    var launcher = element("button", { type: "button", class: "hd-launcher", "aria-label": strings.open,
                                       "aria-expanded": "false", "data-part": "launcher" });
    launcher.appendChild(icon("chat"));
    launcher.appendChild(element("span", { class: "hd-launcher-label" }, strings.open));
    var badge = element("span", { class: "hd-badge", hidden: "" });
    launcher.appendChild(badge);

    var panel = element("section", { class: "hd-panel", role: "dialog", "aria-label": this.config.title,
                                      hidden: "", "data-part": "panel" });
    var header = element("header", { class: "hd-header" });
    header.appendChild(element("span", { class: "hd-title" }, this.config.title));
    var close = element("button", { type: "button", class: "hd-close", "aria-label": strings.close }, "×");
    header.appendChild(close);
    var status = element("div", { class: "hd-status", role: "status", hidden: "" });
    var log = element("div", { class: "hd-log", role: "log", "aria-live": "polite", "data-part": "log" });
    var typing = element("div", { class: "hd-typing", hidden: "", "data-part": "typing" }, strings.typing);
    var options = element("div", { class: "hd-options", hidden: "", "data-part": "options" });
    var error = element("div", { class: "hd-error", role: "alert", hidden: "", "data-part": "error" });

    var emailForm = element("form", { class: "hd-email", hidden: "", "data-part": "email" });
    emailForm.appendChild(element("label", { for: "hd-email-input" }, strings.emailPrompt));
    var emailRow = element("div", { class: "hd-row" });
    var emailInput = element("input", { id: "hd-email-input", type: "email", required: "",
                                        placeholder: strings.emailPlaceholder, autocomplete: "email" });
    emailRow.appendChild(emailInput);
    emailRow.appendChild(element("button", { type: "submit" }, strings.emailSave));
    emailForm.appendChild(emailRow);
    var emailNote = element("div", { class: "hd-email-note", hidden: "" });

    var composer = element("form", { class: "hd-composer", "data-part": "composer" });
    var fileInput = element("input", { type: "file", hidden: "", accept: "image/*,application/pdf,text/plain" });
    var attach = element("button", { type: "button", class: "hd-attach", "aria-label": strings.attach,
                                     title: strings.attach, "data-part": "attach" });
    attach.appendChild(icon("clip"));
    var text = element("textarea", { rows: "1", maxlength: String(this.config.maxChars),
                                     placeholder: strings.placeholder, "aria-label": strings.placeholder,
                                     "data-part": "input" });
    var send = element("button", { type: "submit", class: "hd-send", "data-part": "send" }, strings.send);
    composer.appendChild(fileInput);
    composer.appendChild(attach);
    composer.appendChild(text);
    composer.appendChild(send);

    [header, status, log, typing, options, error, emailForm, emailNote, composer].forEach(function (node) {
      panel.appendChild(node);
    });
    wrapper.appendChild(panel);
    wrapper.appendChild(launcher);
    root.appendChild(wrapper);
    document.body.appendChild(host);

    this.ui = { host: host, launcher: launcher, badge: badge, panel: panel, log: log, typing: typing,
                error: error, status: status, options: options, emailForm: emailForm, emailInput: emailInput,
                emailNote: emailNote, text: text, fileInput: fileInput, attach: attach };

    launcher.addEventListener("click", function () { self.toggle(); });
    panel.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        self.toggle(false);
        launcher.focus();
      }
    });
    close.addEventListener("click", function () { self.toggle(false); });
    composer.addEventListener("submit", function (event) {
      event.preventDefault();
      self.sendText();
    });
    text.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        self.sendText();
      }
    });
    text.addEventListener("input", function () { self.noteTyping(); });
    attach.addEventListener("click", function () {
      if (!self.token) {
        self.showError(strings.attachFirst);
        return;
      }
      fileInput.click();
    });
    fileInput.addEventListener("change", function () {
      if (fileInput.files && fileInput.files[0]) {
        self.upload(fileInput.files[0]);
      }
      fileInput.value = "";
    });
    emailForm.addEventListener("submit", function (event) {
      event.preventDefault();
      self.send({ type: "email", email: emailInput.value });
    });
    document.addEventListener("visibilitychange", function () { self.markRead(); });
  };

  Widget.prototype.isOpen = function () {
    return !this.ui.panel.hidden;
  };

  Widget.prototype.toggle = function (open) {
    var show = open === undefined ? !this.isOpen() : open;
    this.ui.panel.hidden = !show;
    this.ui.launcher.setAttribute("aria-expanded", show ? "true" : "false");
    this.ui.host.toggleAttribute("data-open", show);
    if (show) {
      if (!this.socket) {
        this.connect();
      }
      this.ui.text.focus();
      this.markRead();
      this.scrollDown();
    }
  };

  /* --- The socket --------------------------------------------------------------------------- */

  Widget.prototype.connect = function () {
    var self = this;
    if (this.stopped) {
      return;
    }
    var socket = new WebSocket(this.config.socket);
    this.socket = socket;
    socket.onopen = function () {
      self.retry = 0;
      socket.send(JSON.stringify({
        type: "hello", token: self.token || undefined,
        language: self.config.languageChosen ? self.config.language : undefined,
      }));
      clearInterval(self.pingTimer);
      self.pingTimer = setInterval(function () { self.send({ type: "ping" }); }, 25000);
    };
    socket.onmessage = function (event) {
      var data;
      try {
        data = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      self.handle(data);
    };
    socket.onclose = function (event) {
      clearInterval(self.pingTimer);
      self.ready = false;
      if (self.socket !== socket) {
        return;
      }
      // A refused page (origin not allowed, widget switched off) never gets "ready": after a few
      // tries the widget says the chat is unavailable and stops asking.
      if (event.code === 4403 || event.code === 4404 || (!self.everReady && self.retry >= 4)) {
        self.stopped = true;
        self.setStatus(self.strings.unavailable);
        return;
      } else {
        self.setStatus(self.strings.reconnecting);
      }
      var delay = Math.min(15000, 1000 * Math.pow(2, self.retry++));
      setTimeout(function () { self.connect(); }, delay);
    };
  };

  Widget.prototype.send = function (data) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(data));
      return true;
    }
    return false;
  };

  Widget.prototype.handle = function (data) {
    var self = this;
    switch (data.type) {
      case "ready":
        this.ready = true;
        this.everReady = true;
        this.setStatus("");
        if (data.reset) {
          this.forgetToken();
        }
        this.ui.log.textContent = "";
        this.nodes = {};
        (data.greeting || []).forEach(function (line, index) {
          self.render({ id: "greeting-" + index, from: "bot", text: line });
        });
        (data.messages || []).forEach(function (message) { self.render(message); });
        this.handedOff = !!data.handed_off;
        this.email = data.email || "";
        this.showEmail(this.handedOff && !this.email, this.email);
        this.showOptions(data.options || []);
        if (data.handed_off) {
          this.ui.log.setAttribute("data-handed-off", "");
        }
        // Messages typed while the connection was down go out now.
        Object.keys(this.pending).forEach(function (clientId) {
          var item = self.pending[clientId];
          self.ui.log.appendChild(item.element);
          self.send({ type: "message", text: item.text, client_id: clientId, page: location.href });
        });
        this.acknowledge(data.messages || []);
        this.scrollDown();
        break;
      case "token":
        this.token = data.token;
        if (storage()) {
          storage().setItem(this.storageKey, data.token);
        }
        break;
      case "message":
        this.render(data.message);
        this.acknowledge([data.message]);
        if (data.message.from === "agent") {
          this.ui.typing.hidden = true;
        }
        this.scrollDown();
        break;
      case "typing":
        this.showTyping(data.typing);
        break;
      case "handoff":
        this.handedOff = true;
        this.email = data.email || this.email || "";
        this.ui.log.setAttribute("data-handed-off", "");
        this.ui.log.appendChild(element("div", { class: "hd-note", role: "status" }, this.strings.handedOff));
        this.scrollDown();
        this.showEmail(!this.email, this.email);
        break;
      case "options":
        this.showOptions(data.options || []);
        break;
      case "ask_email":
        this.showEmail(!this.email, this.email);
        break;
      case "email_saved":
        this.email = data.email;
        this.showEmail(false, data.email);
        break;
      case "error":
        this.showError(data.message || "");
        break;
      default:
        break;
    }
  };

  Widget.prototype.forgetToken = function () {
    this.token = null;
    if (storage()) {
      storage().removeItem(this.storageKey);
    }
  };

  /* --- Messages ----------------------------------------------------------------------------- */

  Widget.prototype.render = function (message) {
    var self = this;
    var node = this.nodes[message.id];
    if (!node && message.client_id && this.pending[message.client_id]) {
      node = this.pending[message.client_id].element;
      delete this.pending[message.client_id];
    }
    if (!node && message.client_id) {
      node = this.ui.log.querySelector('[data-client-id="' + CSS.escape(message.client_id) + '"]');
    }
    if (!node) {
      node = element("div", {});
    }
    var fresh = node.parentNode !== this.ui.log;
    node.className = "hd-message hd-from-" + message.from;
    node.setAttribute("data-message-id", message.id);
    node.removeAttribute("data-pending");
    if (message.client_id) {
      node.setAttribute("data-client-id", message.client_id);
    }
    node.textContent = "";
    var label = message.from === "visitor" ? this.strings.you
      : message.from === "bot" ? this.strings.bot : (message.author || this.strings.agent);
    node.appendChild(element("span", { class: "hd-author" }, label));
    var body = element("div", { class: "hd-text" });
    fillText(body, message.text || "");
    node.appendChild(body);
    (message.attachments || []).forEach(function (file) {
      var line = element(file.id ? "button" : "div", { class: "hd-file", type: "button" });
      line.appendChild(icon("file"));
      line.appendChild(document.createTextNode(" " + file.name));
      if (file.id) {
        line.addEventListener("click", function () { self.download(file); });
      }
      node.appendChild(line);
    });
    this.nodes[message.id] = node;
    if (fresh) {
      this.ui.log.appendChild(node);
    }
    if (message.from === "agent" && !this.isOpen()) {
      this.ui.badge.hidden = false;
      this.ui.badge.textContent = "•";
    }
  };

  Widget.prototype.acknowledge = function (messages) {
    var ids = messages.filter(function (message) { return message.from === "agent"; })
      .map(function (message) { return message.id; });
    if (!ids.length) {
      return;
    }
    this.send({ type: "ack", ids: ids, state: "delivered" });
    this.unread = this.unread.concat(ids);
    this.markRead();
  };

  Widget.prototype.markRead = function () {
    if (!this.isOpen() || document.visibilityState === "hidden" || !this.unread.length) {
      return;
    }
    if (this.send({ type: "ack", ids: this.unread, state: "read" })) {
      this.unread = [];
    }
    this.ui.badge.hidden = true;
  };

  Widget.prototype.sendText = function () {
    var text = this.ui.text.value.trim();
    if (!text) {
      return;
    }
    this.ui.text.value = "";
    this.showError("");
    this.showOptions([]);
    var clientId = newId();
    var node = element("div", { class: "hd-message hd-from-visitor", "data-pending": "",
                                "data-client-id": clientId });
    node.appendChild(element("span", { class: "hd-author" }, this.strings.you));
    var body = element("div", { class: "hd-text" });
    fillText(body, text);
    node.appendChild(body);
    this.ui.log.appendChild(node);
    this.pending[clientId] = { text: text, element: node };
    this.scrollDown();
    if (!this.socket) {
      this.connect();
    } else if (this.ready) {
      this.send({ type: "message", text: text, client_id: clientId, page: location.href });
    }
    this.send({ type: "typing", typing: false });
  };

  Widget.prototype.noteTyping = function () {
    var self = this;
    var now = Date.now();
    if (now - this.lastTypingSent > 2500) {
      this.lastTypingSent = now;
      this.send({ type: "typing", typing: true });
    }
    clearTimeout(this.stopTypingTimer);
    this.stopTypingTimer = setTimeout(function () {
      self.lastTypingSent = 0;
      self.send({ type: "typing", typing: false });
    }, 4000);
  };

  Widget.prototype.showTyping = function (typing) {
    var self = this;
    clearTimeout(this.typingTimer);
    this.ui.typing.hidden = !typing;
    if (typing) {
      this.typingTimer = setTimeout(function () { self.ui.typing.hidden = true; }, 8000);
      this.scrollDown();
    }
  };

  Widget.prototype.upload = function (file) {
    var self = this;
    var strings = this.strings;
    if (file.size > this.config.maxBytes) {
      this.showError(format(strings.fileTooLarge, { size: Math.round(this.config.maxBytes / 1048576) }));
      return;
    }
    var form = new FormData();
    form.append("file", file);
    form.append("client_id", newId());
    this.setStatus(format(strings.uploading, { name: file.name }));
    fetch(this.config.upload, { method: "POST", headers: { "X-Widget-Token": this.token }, body: form, mode: "cors" })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          self.setStatus("");
          if (!response.ok) {
            self.showError(body.error || strings.uploadFailed);
          }
        });
      })
      .catch(function () {
        self.setStatus("");
        self.showError(strings.uploadFailed);
      });
  };

  /* Files come with the visitor's token in a header, never in a link anyone could reuse. */
  Widget.prototype.download = function (file) {
    var self = this;
    fetch(this.config.files + file.id + "/", { headers: { "X-Widget-Token": this.token }, mode: "cors" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.blob();
      })
      .then(function (blob) {
        var link = element("a", { href: URL.createObjectURL(blob), download: file.name });
        self.ui.host.shadowRoot.appendChild(link);
        link.click();
        link.remove();
        setTimeout(function () { URL.revokeObjectURL(link.href); }, 60000);
      })
      .catch(function () { self.showError(self.strings.downloadFailed); });
  };

  /* --- Small pieces of the panel -------------------------------------------------------------- */

  Widget.prototype.showOptions = function (options) {
    var self = this;
    var box = this.ui.options;
    box.textContent = "";
    options.forEach(function (option) {
      var button = element("button", { type: "button", class: "hd-option" }, option);
      button.addEventListener("click", function () {
        self.ui.text.value = option;
        self.sendText();
      });
      box.appendChild(button);
    });
    box.hidden = !options.length;
    this.scrollDown();
  };

  Widget.prototype.showEmail = function (ask, email) {
    this.ui.emailForm.hidden = !ask;
    this.ui.emailNote.hidden = !email;
    if (email) {
      this.ui.emailNote.textContent = format(this.strings.emailSaved, { email: email });
    }
  };

  Widget.prototype.showError = function (message) {
    this.ui.error.textContent = message;
    this.ui.error.hidden = !message;
  };

  Widget.prototype.setStatus = function (message) {
    this.ui.status.textContent = message;
    this.ui.status.hidden = !message;
  };

  Widget.prototype.scrollDown = function () {
    this.ui.log.scrollTop = this.ui.log.scrollHeight;
  };

  window.HelpdeskChatWidget = { boot: boot };
  boot();
})();
