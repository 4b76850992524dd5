/*
 * Steward console behaviour. No framework, no build step, no inline scripts (so a strict
 * Content-Security-Policy can forbid them). Every page works without it; it adds:
 *
 *  - the colour theme toggle: [data-theme-toggle] buttons cycle automatic -> light ->
 *    dark; the choice is kept in localStorage and applied as <html data-theme="...">
 *    (automatic = no attribute: the CSS follows prefers-color-scheme);
 *  - copy buttons: [data-copy="text"] copies the text, or, when the attribute is empty,
 *    the text of the element named by data-copy-target (a CSS selector);
 *  - select[data-autosubmit] submits its form on change (the form keeps a submit button,
 *    .no-js-only, for browsers without scripts);
 *  - the user menu (<details class="user-menu">) closes on Escape or an outside click.
 *
 * Loaded in <head> without defer: the theme must be set before the first paint.
 */
(function () {
  "use strict";

  var KEY = "steward-theme";
  var MODES = ["auto", "light", "dark"];
  var LABELS = { auto: "automatic", light: "light", dark: "dark" };
  var root = document.documentElement;

  function storedMode() {
    try {
      var mode = window.localStorage.getItem(KEY);
      return MODES.indexOf(mode) >= 0 ? mode : "auto";
    } catch (e) {
      return "auto"; // storage disabled: follow the system
    }
  }

  function applyMode(mode) {
    if (mode === "auto") {
      root.removeAttribute("data-theme");
    } else {
      root.setAttribute("data-theme", mode);
    }
    var buttons = document.querySelectorAll("[data-theme-toggle]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].setAttribute("data-mode", mode);
      buttons[i].setAttribute("aria-label", "Colour theme: " + LABELS[mode] + " (change)");
      buttons[i].title = "Colour theme: " + LABELS[mode];
    }
  }

  function cycleMode() {
    var next = MODES[(MODES.indexOf(storedMode()) + 1) % MODES.length];
    try {
      window.localStorage.setItem(KEY, next);
    } catch (e) {
      /* not kept across pages, still applied to this one */
    }
    applyMode(next);
  }

  function copy(button) {
    var text = button.getAttribute("data-copy");
    if (!text) {
      var target = document.querySelector(button.getAttribute("data-copy-target") || "");
      text = target ? target.textContent.trim() : "";
    }
    if (!text) return;
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      button.classList.add("copied");
      window.setTimeout(function () {
        button.textContent = label;
        button.classList.remove("copied");
      }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallbackCopy(text, done); });
    } else {
      fallbackCopy(text, done); // plain HTTP on a LAN address: no Clipboard API
    }
  }

  function fallbackCopy(text, done) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    try {
      if (document.execCommand("copy")) done();
    } finally {
      document.body.removeChild(area);
    }
  }

  function closeMenus(except) {
    var open = document.querySelectorAll("details.user-menu[open]");
    for (var i = 0; i < open.length; i++) {
      if (open[i] !== except) open[i].removeAttribute("open");
    }
  }

  root.classList.add("js");
  applyMode(storedMode());

  // Rule forms: show only the condition fields of the chosen kind (all show without JS).
  function showKindFields(select) {
    var form = select.form;
    if (!form) return;
    form.querySelectorAll("[data-kinds]").forEach(function (box) {
      var kinds = box.getAttribute("data-kinds").split(" ");
      box.hidden = kinds.indexOf(select.value) < 0;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    applyMode(storedMode());
    document.querySelectorAll("select[data-rule-kind]").forEach(showKindFields);
  });

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) return;
    var toggle = target.closest("[data-theme-toggle]");
    if (toggle) {
      cycleMode();
      return;
    }
    var copyButton = target.closest("[data-copy]");
    if (copyButton) {
      event.preventDefault();
      copy(copyButton);
      return;
    }
    closeMenus(target.closest("details.user-menu"));
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      var open = document.querySelector("details.user-menu[open]");
      if (open) {
        open.removeAttribute("open");
        open.querySelector("summary").focus();
      }
    }
  });

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target instanceof HTMLSelectElement && target.hasAttribute("data-rule-kind")) {
      showKindFields(target);
    }
    if (target instanceof HTMLSelectElement && target.hasAttribute("data-autosubmit") &&
        target.form) {
      if (target.form.requestSubmit) target.form.requestSubmit();
      else target.form.submit();
    }
  });
})();
