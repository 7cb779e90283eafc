// Search results quote a page's text as it is in the HTML file, before MathJax typesets it, so inline
// math shows as TeX with its delimiters ("\(d\)"). Drop the delimiters in the summaries: "d".
(function () {
  const strip = (text) => text.replace(/\\\(|\\\)|\\\[|\\\]|\$\$/g, "");
  const wrap = () => {
    if (typeof Search === "undefined" || !Search.htmlToText || Search.htmlToText.mathStripped) return;
    const original = Search.htmlToText;
    Search.htmlToText = (html, anchor) => strip(original(html, anchor));
    Search.htmlToText.mathStripped = true;
  };
  wrap();
  document.addEventListener("DOMContentLoaded", wrap);
})();
