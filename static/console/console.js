// Small progressive enhancements. No inline scripts anywhere (strict CSP); everything works without this file.
document.addEventListener("DOMContentLoaded", () => {
  // Copy buttons: <button data-copy="text">.
  document.body.addEventListener("click", (event) => {
    const button = event.target.closest("[data-copy]");
    if (!button || !navigator.clipboard) return;
    navigator.clipboard.writeText(button.dataset.copy).then(() => {
      const label = button.textContent;
      button.textContent = "Copied";
      setTimeout(() => { button.textContent = label; }, 1500);
    });
  });
});

// A form's submit buttons, including those outside it that name it with form="..." (the "Sync now" buttons).
const submitButtons = (form) => Array.from(form.elements).filter((e) => e.type === "submit");

// Forms marked data-disable-on-submit disable their submit buttons while the request is in flight, so a double
// click sends one request (the server is idempotent anyway).
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!form.matches("[data-disable-on-submit]")) return;
  if (form.dataset.submitting === "1") { event.preventDefault(); return; }
  form.dataset.submitting = "1";
  // Let the clicked button's name/value go with the form before disabling it.
  setTimeout(() => submitButtons(form).forEach((b) => { b.disabled = true; b.setAttribute("aria-busy", "true"); }), 0);
});
const enableSubmit = (form) => {
  delete form.dataset.submitting;
  submitButtons(form).forEach((b) => { b.disabled = false; b.removeAttribute("aria-busy"); });
};
// Coming back with the browser's back button must not leave the form disabled.
window.addEventListener("pageshow", () => document.querySelectorAll("form[data-submitting]").forEach(enableSubmit));
// A form sent by htmx stays on the page (e.g. "Create a reconnect link"): usable again once its answer is in.
document.addEventListener("htmx:afterRequest", (event) => {
  const elt = event.detail && event.detail.elt;
  const form = elt && elt.closest ? elt.closest("form[data-submitting]") : null;
  if (form) enableSubmit(form);
});

// The connector list's cells request (data-fills-cells: the ids of the cells it fills): once it has answered, a cell
// it did not fill (the request failed, and says why in its place) stops saying it is loading.
// Its answer takes its place, so htmx tells the page from the element's parent: requestConfig.elt is the request's own.
document.addEventListener("htmx:afterRequest", (event) => {
  const detail = event.detail || {};
  const elt = (detail.requestConfig && detail.requestConfig.elt) || detail.elt;
  if (!elt || !elt.dataset || !elt.dataset.fillsCells) return;
  elt.dataset.fillsCells.split(" ").forEach((id) => {
    const cell = document.getElementById(id);
    if (cell) cell.removeAttribute("aria-busy");
  });
});

// The channel form shows the one field its "Channel type" needs (without JavaScript, all three, with a hint).
function showChannelField(form) {
  const kind = form.querySelector("select[name=kind]");
  if (!kind) return;
  form.querySelectorAll("[data-channel-kind]").forEach((box) => {
    box.hidden = box.dataset.channelKind !== kind.value;
  });
  const hint = form.querySelector("[data-channel-hint]");
  if (hint) hint.hidden = true;
}
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("form[data-channel-form]").forEach(showChannelField);
});
document.addEventListener("change", (event) => {
  const form = event.target.closest("form[data-channel-form]");
  if (form && event.target.name === "kind") showChannelField(form);
});

// "/" focuses the page's search field (the overview's), unless the key is typed into a field.
document.addEventListener("keydown", (event) => {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target.closest("input, textarea, select, [contenteditable]")) return;
  const search = document.querySelector("[data-search-shortcut]");
  if (!search) return;
  event.preventDefault();
  search.focus();
  search.select();
});

// Polling (an hx-trigger with "every Ns") pauses while the tab is hidden and catches up once when it shows again.
// htmx's own [document.visibilityState ...] trigger filter needs eval, which the CSP forbids (htmx ignores it).
const polls = (elt) => /(^|[\s,])every\s/.test(elt.getAttribute("hx-trigger") || "");
document.addEventListener("htmx:beforeRequest", (event) => {
  if (document.visibilityState === "hidden" && polls(event.detail.elt)) event.preventDefault();
});
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState !== "visible" || !window.htmx) return;
  document.querySelectorAll("[hx-get][hx-trigger*='every']").forEach((elt) => {
    if (polls(elt)) window.htmx.ajax("GET", elt.getAttribute("hx-get"), { source: elt });
  });
});

// ----- First-time nits (issue 13): confirmations, stale messages, the scope tree -----------------------------------

// One way to confirm: data-confirm="Question?" on a form or its submit button asks before it is sent (Cancel sync,
// Remove key, Remove channel). Capturing, so that it runs before htmx and data-disable-on-submit see the submit.
document.addEventListener("submit", (event) => {
  const question = (event.submitter && event.submitter.dataset.confirm) || event.target.dataset.confirm;
  if (question && !window.confirm(question)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);

// A sync that finished while its status was watched (polled, or cancelled, in #sync-status) makes "Sync started." and
// the like stale: they go. (The list's cells say "finished" too, when they load: that is no news.)
document.addEventListener("sync-finished", (event) => {
  if (!event.target.closest || !event.target.closest("#sync-status")) return;
  document.querySelectorAll("#messages .flash:not(.flash-error):not(.flash-warning)").forEach((m) => m.remove());
});

// The create form: a banner about the fields of the provider shown before goes when another provider is picked.
document.addEventListener("htmx:afterSwap", (event) => {
  if (event.detail.target && event.detail.target.id === "provider-fields") {
    document.querySelectorAll("[data-stale-on-provider-change]").forEach((banner) => banner.remove());
  }
});

// The scope tree: the "Changes to save" panel says what the ticks on the page change. Coming back with the browser's
// Back, the browser restores the ticks but not the panel: ask again. And a folder ticked or unticked with its contents
// open shows them again, "included with" it or not.
const scopeForm = () => document.querySelector("form[data-scope-form][hx-post]");
window.addEventListener("pageshow", (event) => {
  const form = scopeForm();
  if (!form || !window.htmx) return;
  const navigation = performance.getEntriesByType ? performance.getEntriesByType("navigation")[0] : null;
  if (event.persisted || (navigation && navigation.type === "back_forward")) window.htmx.trigger(form, "change");
});
let changedFolder = null;
document.addEventListener("change", (event) => {
  const item = event.target.closest("form[data-scope-form] li.tree-item");
  changedFolder = item && item.querySelector(":scope > details.tree-children[open]") ? item : null;
});
document.addEventListener("htmx:afterRequest", (event) => {
  if (!changedFolder || event.detail.elt !== scopeForm() || !window.htmx) return;
  const details = changedFolder.querySelector(":scope > details.tree-children");
  changedFolder = null;
  window.htmx.ajax("GET", details.getAttribute("hx-get"), { target: details.querySelector("ul"), swap: "innerHTML" });
});
