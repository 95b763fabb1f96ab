// What Gradio and Plotly write into the page in English themselves, said in the page's language
// seqcompare.ui.common.page_words_script fills in the three placeholders in capitals, as JSON.
(function () {
  var said = __WORDS__, refusal = new RegExp(__REFUSAL__), attributes = ['aria-label', 'title', 'data-title', 'alt'];
  Object.keys(said).forEach(function (lang) {     // each pattern made once
    said[lang].lines.concat(said[lang].composed).forEach(function (p) { p[0] = new RegExp(p[0]); });
  });
  function words() { return said[document.documentElement.lang] || said[__DEFAULT__]; }
  function translating() {                       // a page in another language than Gradio's and Plotly's own
    var lang = document.documentElement.lang;
    return lang !== __DEFAULT__ && Object.prototype.hasOwnProperty.call(said, lang);
  }
  function patterned(value, patterns) {           // the first pattern's words for value, its parts kept; or null
    for (var i = 0; i < patterns.length; i++) {
      var found = value.match(patterns[i][0]);
      if (found) return patterns[i][1].replace(/\{(\w+)\}/g, function (_, name) { return found.groups[name]; });
    }
    return null;
  }
  function rewrite(node) {
    var w = words(), text = node.nodeValue && node.nodeValue.trim();
    var line = translating() && text ? patterned(text, w.lines) : null;   // the status lines: their numbers kept
    if (line !== null && line !== text) node.nodeValue = node.nodeValue.replace(text, function () { return line; });
    var m = node.nodeValue && node.nodeValue.match(refusal);
    if (!m) return;
    var names = m[1].replace(/^"|"$/g, '').split('", "').join(', ');       // Gradio quotes each name
    node.nodeValue = w.text.replace('{names}', function () { return names; });    // a name's $ kept as it is
    var toast = node.parentElement && node.parentElement.closest('.toast-body');
    var title = toast && toast.querySelector('.toast-title');
    if (title && title.firstChild && title.firstChild.nodeType === 3 && title.firstChild.nodeValue.trim() === 'Error') {
      title.firstChild.nodeValue = w.title + ' ';
    }
  }
  function relabel(el, name) {
    var w = words(), v = el.getAttribute(name);
    if (!v || !translating()) return;
    var t = Object.prototype.hasOwnProperty.call(w.labels, v) ? w.labels[v] : patterned(v, w.composed);   // own words
    if (t && t !== v) el.setAttribute(name, t);
  }
  function scan(root) {
    if (root.nodeType === 3) return rewrite(root);
    if (root.nodeType !== 1) return;
    var walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT), node;
    while ((node = walk.nextNode())) rewrite(node);
    attributes.forEach(function (name) {
      if (root.hasAttribute(name)) relabel(root, name);
      root.querySelectorAll('[' + name + ']').forEach(function (el) { relabel(el, name); });
    });
  }
  new MutationObserver(function (records) {
    records.forEach(function (r) {
      if (r.type === 'characterData') rewrite(r.target);
      else if (r.type === 'attributes') relabel(r.target, r.attributeName);
      else r.addedNodes.forEach(scan);
    });
  }).observe(document.documentElement, {childList: true, subtree: true, characterData: true,
                                        attributes: true, attributeFilter: attributes});
})();
