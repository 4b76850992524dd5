/*
 * Steward help desk behaviour (version {{ version }}). No framework, no inline scripts;
 * every page works without it. It adds:
 *
 *  - bulk selection: input[data-check-all] selects every row of its form, and
 *    [data-selected-count] says how many are chosen;
 *  - canned responses: select[data-canned] inserts the chosen option's data-body into the
 *    textarea named by data-canned-target (without scripts, an "Insert" button reloads
 *    the page with the text filled in);
 *  - the reply button says what it does ("Send reply" / "Add note");
 *  - suggested articles: form[data-suggest-url] asks the server, as the person types,
 *    for knowledge base articles matching the subject and description, and lists them in
 *    [data-suggest-list] (built with textContent: nothing from the server becomes HTML).
 */
(function () {
  "use strict";

  function updateCount(form) {
    var boxes = form.querySelectorAll('input[name="ticket"]');
    var chosen = 0;
    for (var i = 0; i < boxes.length; i++) if (boxes[i].checked) chosen++;
    var out = form.querySelector("[data-selected-count]");
    if (out) {
      out.textContent = chosen ? chosen + " selected" : "Select tickets to act on them";
      out.classList.toggle("muted", !chosen);
    }
    var all = form.querySelector("[data-check-all]");
    if (all) {
      all.checked = chosen > 0 && chosen === boxes.length;
      all.indeterminate = chosen > 0 && chosen < boxes.length;
    }
    form.classList.toggle("has-selection", chosen > 0);
  }

  function insertAtCursor(area, text) {
    var start = area.selectionStart || 0;
    var end = area.selectionEnd || 0;
    var before = area.value.slice(0, start);
    var glue = before && !/\n$/.test(before) ? "\n\n" : "";
    area.value = before + glue + text + area.value.slice(end);
    var caret = (before + glue + text).length;
    area.focus();
    area.setSelectionRange(caret, caret);
  }

  function syncReplyButton(form) {
    var button = form.querySelector("[data-public-label]");
    var internal = form.querySelector('input[name="visibility"][value="internal"]');
    if (!button || !internal) return;
    button.textContent = internal.checked
      ? button.getAttribute("data-internal-label")
      : button.getAttribute("data-public-label");
  }

  // ---------------------------------------------------------------- suggestions

  function setupSuggest(form) {
    var url = form.getAttribute("data-suggest-url");
    var box = document.querySelector("[data-suggest]");
    var list = box && box.querySelector("[data-suggest-list]");
    if (!url || !list) return;
    var timer = null;
    var last = "";
    var fields = form.querySelectorAll("[data-suggest-source]");

    function render(articles) {
      list.textContent = "";
      box.classList.toggle("has-suggestions", articles.length > 0);
      if (!articles.length) {
        var none = document.createElement("li");
        none.className = "muted";
        none.textContent = last.length < 3 ? "Suggestions appear as you type." : "No matching article.";
        list.appendChild(none);
      }
      for (var i = 0; i < articles.length; i++) {
        var item = document.createElement("li");
        var link = document.createElement("a");
        link.href = articles[i].url;
        link.target = "_blank";
        link.rel = "noopener";
        link.textContent = articles[i].title;
        var excerpt = document.createElement("span");
        excerpt.className = "muted";
        excerpt.textContent = articles[i].excerpt;
        item.appendChild(link);
        item.appendChild(excerpt);
        list.appendChild(item);
      }
    }

    function ask() {
      var text = "";
      for (var i = 0; i < fields.length; i++) text += " " + fields[i].value;
      text = text.trim();
      if (text === last) return;
      last = text;
      if (text.length < 3) {
        render([]);
        return;
      }
      fetch(url + "?text=" + encodeURIComponent(text.slice(0, 2000)), {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      })
        .then(function (r) { return r.ok ? r.json() : { articles: [] }; })
        .then(function (data) { if (text === last) render(data.articles || []); })
        .catch(function () { /* suggestions are a help, never a blocker */ });
    }

    form.addEventListener("input", function (event) {
      if (!event.target.hasAttribute("data-suggest-source")) return;
      window.clearTimeout(timer);
      timer = window.setTimeout(ask, 300);
    });
    ask();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var forms = document.querySelectorAll("form[data-bulk]");
    for (var i = 0; i < forms.length; i++) updateCount(forms[i]);
    var suggest = document.querySelectorAll("form[data-suggest-url]");
    for (var j = 0; j < suggest.length; j++) setupSuggest(suggest[j]);
    var reply = document.querySelector("[data-public-label]");
    if (reply && reply.form) syncReplyButton(reply.form);
  });

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) return;
    if (target.hasAttribute("data-check-all") && target.form) {
      var boxes = target.form.querySelectorAll('input[name="ticket"]');
      for (var i = 0; i < boxes.length; i++) boxes[i].checked = target.checked;
      updateCount(target.form);
    } else if (target.getAttribute("name") === "ticket" && target.form &&
               target.form.hasAttribute("data-bulk")) {
      updateCount(target.form);
      var row = target.closest("tr");
      if (row) row.classList.toggle("is-selected", target.checked);
    } else if (target.hasAttribute("data-canned")) {
      var option = target.options[target.selectedIndex];
      var area = document.querySelector(target.getAttribute("data-canned-target"));
      if (option && option.value && area) insertAtCursor(area, option.getAttribute("data-body"));
      target.selectedIndex = 0;
    } else if (target.getAttribute("name") === "visibility" && target.form) {
      syncReplyButton(target.form);
    }
  });
})();
