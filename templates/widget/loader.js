/* Shop chat widget loader: the widget's settings and texts, then its code (static/widget/widget.js). */
(function () {
  "use strict";
  var config = {{ config_json|safe }};
  var queue = (window.HelpdeskChatWidgets = window.HelpdeskChatWidgets || []);
  queue.push(config);
  if (window.HelpdeskChatWidget) {
    window.HelpdeskChatWidget.boot();
    return;
  }
  if (document.querySelector("script[data-helpdesk-chat-code]")) {
    return;
  }
  var code = document.createElement("script");
  code.src = config.code;
  code.async = true;
  code.setAttribute("data-helpdesk-chat-code", "");
  (document.head || document.documentElement).appendChild(code);
})();
