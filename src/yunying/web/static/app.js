/* Yunying console helpers. No inline scripts are allowed by the page's CSP, so page code
 * puts data in the markup and these helpers bring it to life:
 *
 * - Charts: <script type="application/json" class="plotly-figure" data-target="chart-id">
 *   {"data": [...], "layout": {...}, "config": {...}}</script>
 *   renders into #chart-id (or into a new <div class="chart"> placed right after the
 *   script when data-target is absent). Include /static/vendor/plotly.min.js in the
 *   page's `scripts` block. Rendered on page load and after every htmx swap. On a zh-CN
 *   page the charts' own UI (toolbar tooltips, month names) is Chinese: the locale file
 *   /static/plotly-locale-zh-cn.js is loaded first (once) and config.locale is set.
 * - CSRF: htmx requests carry X-CSRF-Token (hx-headers on <body>); Yunying.csrfToken()
 *   gives the token for fetch() calls.
 * - Confirm: <form data-confirm="text"> asks before submitting.
 * - Copy: <button data-copy="#element-id"> copies that element's text.
 * - Auto-submit: <select data-autosubmit> submits its form on change.
 */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // Plotly locales Yunying serves (Plotly itself knows "en"): page language → script.
  var PLOTLY_LOCALES = { "zh-CN": "/static/plotly-locale-zh-cn.js" };
  var localeLoads = {};

  function pageLocale() {
    return (document.body && document.body.dataset.locale) || document.documentElement.lang;
  }

  function assetVersion() {
    var own = document.querySelector('script[src*="/static/app.js"]');
    var match = own && /[?&]v=([^&]+)/.exec(own.getAttribute("src"));
    return match ? "?v=" + match[1] : "";
  }

  // Calls done(locale) once the page language's Plotly locale is registered; done(null)
  // for a language Plotly needs nothing for, or when the file cannot be loaded.
  function withPlotlyLocale(done) {
    var locale = pageLocale();
    var src = PLOTLY_LOCALES[locale];
    if (!src) { done(null); return; }
    var registered = window.YunyingPlotlyLocales && window.YunyingPlotlyLocales[locale];
    if (registered) { done(locale); return; }
    var pending = localeLoads[locale];
    if (!pending) {
      pending = localeLoads[locale] = { waiting: [], ok: null };
      var script = document.createElement("script");
      script.src = src + assetVersion();
      script.onload = function () { finish(pending, true); };
      script.onerror = function () { finish(pending, false); };
      document.head.appendChild(script);
    }
    if (pending.ok !== null) { done(pending.ok ? locale : null); return; }
    pending.waiting.push(function (ok) { done(ok ? locale : null); });
  }

  function finish(pending, ok) {
    pending.ok = ok;
    var waiting = pending.waiting;
    pending.waiting = [];
    waiting.forEach(function (fn) { fn(ok); });
  }

  function renderFigures(root) {
    if (!window.Plotly) return;
    var scope = root && root.querySelectorAll ? root : document;
    if (!scope.querySelector('script.plotly-figure:not([data-rendered])')) return;
    withPlotlyLocale(function (locale) { drawFigures(scope, locale); });
  }

  function drawFigures(scope, locale) {
    var nodes = scope.querySelectorAll('script.plotly-figure:not([data-rendered])');
    nodes.forEach(function (node) {
      var fig;
      try {
        fig = JSON.parse(node.textContent || "{}");
      } catch (err) {
        console.error("Yunying: bad figure JSON", err);
        return;
      }
      var target = node.dataset.target ? document.getElementById(node.dataset.target) : null;
      if (!target) {
        target = document.createElement("div");
        target.className = "chart";
        node.insertAdjacentElement("afterend", target);
      }
      // showSendToCloud: Plotly 4's "Share chart" button posts the chart's data to
      // cloud.plotly.com; a self-hosted console never offers that.
      var config = Object.assign(
        { responsive: true, displaylogo: false, showSendToCloud: false },
        locale ? { locale: locale } : {},
        fig.config || {}
      );
      node.setAttribute("data-rendered", "true");
      window.Plotly.newPlot(target, fig.data || [], fig.layout || {}, config);
    });
  }

  function showError(message) {
    var box = document.getElementById("yy-toast");
    if (!box) {
      box = document.createElement("div");
      box.id = "yy-toast";
      box.className = "toast";
      box.setAttribute("role", "alert");
      box.setAttribute("data-testid", "toast");
      document.body.appendChild(box);
    }
    box.textContent = message;
    box.hidden = false;
    clearTimeout(box._timer);
    box._timer = setTimeout(function () { box.hidden = true; }, 6000);
  }

  document.addEventListener("htmx:configRequest", function (evt) {
    evt.detail.headers["X-CSRF-Token"] = csrfToken();
  });
  document.addEventListener("htmx:load", function (evt) { renderFigures(evt.target); });
  document.addEventListener("htmx:responseError", function () {
    showError(document.body.dataset.msgRequestFailed || "Request failed");
  });
  document.addEventListener("htmx:sendError", function () {
    showError(document.body.dataset.msgRequestFailed || "Request failed");
  });

  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      evt.preventDefault();
    }
  }, true);

  document.addEventListener("change", function (evt) {
    var el = evt.target;
    if (el.matches && el.matches("select[data-autosubmit]") && el.form) el.form.requestSubmit();
  });

  document.addEventListener("click", function (evt) {
    var button = evt.target.closest ? evt.target.closest("[data-copy]") : null;
    if (!button) return;
    var source = document.querySelector(button.dataset.copy);
    if (!source || !navigator.clipboard) return;
    navigator.clipboard.writeText(source.textContent.trim()).then(function () {
      var done = button.dataset.copied;
      if (done) { button.textContent = done; }
    });
  });

  // Close an open <details class="dropdown"> when clicking elsewhere.
  document.addEventListener("click", function (evt) {
    document.querySelectorAll("details.dropdown[open]").forEach(function (d) {
      if (!d.contains(evt.target)) d.removeAttribute("open");
    });
  });

  document.addEventListener("DOMContentLoaded", function () { renderFigures(document); });

  window.Yunying = { csrfToken: csrfToken, renderFigures: renderFigures, showError: showError };
})();
