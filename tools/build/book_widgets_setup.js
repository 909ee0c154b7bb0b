// Loaded by the HTML book between require.js and the ipywidgets html-manager (embed-amd.js);
// tools/build/book.py html copies it to _build/html/_vendor/. Two fixes for static, offline widgets:
(function () {
  "use strict";
  // 1. The html-manager finds its icon fonts next to the AMD module it runs as. Without a path,
  //    require.js places that module beside the page (book/@jupyter-widgets/...), where the fonts
  //    are not. Map it to the vendored copy, which sits next to this file at any page depth,
  //    over HTTP and from file://.
  var here = document.currentScript.src.replace(/[?#].*$/, "").replace(/[^/]*$/, "");
  if (window.requirejs) {
    window.requirejs.config({
      paths: { "@jupyter-widgets/html-manager": here + "html-manager" },
    });
  }
  // 2. ipywidgets typesets widget labels through the MathJax 2 API (MathJax.Hub.Queue); the book
  //    loads MathJax 3, where that call throws. Route it to MathJax 3's typesetPromise.
  window.addEventListener("DOMContentLoaded", function () {
    var mathjax = window.MathJax;
    if (!mathjax || mathjax.Hub || !mathjax.startup || !mathjax.typesetPromise) {
      return;
    }
    mathjax.Hub = {
      Queue: function () {
        Array.prototype.forEach.call(arguments, function (command) {
          if (Array.isArray(command) && command[0] === "Typeset" && command[2]) {
            mathjax.startup.promise.then(function () {
              return mathjax.typesetPromise([command[2]]);
            });
          }
        });
      },
    };
  });
})();
