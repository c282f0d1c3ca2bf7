// How a bot answer's Markdown becomes HTML, shared by the chat widget and the editor's preview so an
// editor sees exactly what customers will: marked (GitHub-flavoured, single line breaks kept), then
// DOMPurify's HTML profile (no script, no event handler, no javascript: URL). Every link opens in a new
// tab that gets no handle on this page (rel="noopener noreferrer").
//
// Needs vendor/marked.umd.js and vendor/purify.min.js loaded before the first render() (in any order
// with this file). Uses its own marked and DOMPurify instances, so options or hooks a host page sets on
// window.marked / window.DOMPurify change nothing here.
//
//   window.SupportbotMarkdown.render(text) -> sanitised HTML string
//   window.SupportbotMarkdown.fill(node, text) -> node, holding that HTML (for pages whose own code
//   never assigns HTML: the staff console)
(function () {
  "use strict";
  if (window.SupportbotMarkdown) return;

  let render = null;

  function make() {
    if (!window.marked || !window.DOMPurify) {
      throw new Error("markdown.js: load vendor/marked.umd.js and vendor/purify.min.js first");
    }
    const marked = new window.marked.Marked({ breaks: true, gfm: true, async: false });
    const purify = window.DOMPurify(window);
    purify.addHook("afterSanitizeAttributes", (node) => {
      if (node.tagName === "A") {
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer");
      }
    });
    return (text) => purify.sanitize(marked.parse(String(text == null ? "" : text)),
                                     { USE_PROFILES: { html: true } });
  }

  window.SupportbotMarkdown = Object.freeze({
    render(text) {
      render = render || make();
      return render(text);
    },
    fill(node, text) {
      node.innerHTML = this.render(text);  // sanitised by DOMPurify
      return node;
    },
  });
})();
