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
// Coming back with the browser's back button must not leave the form disabled.
window.addEventListener("pageshow", () => {
  document.querySelectorAll("form[data-submitting]").forEach((form) => {
    delete form.dataset.submitting;
    submitButtons(form).forEach((b) => { b.disabled = false; b.removeAttribute("aria-busy"); });
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
