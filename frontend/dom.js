// Small DOM helpers shared by the screens. Data only ever reaches the page through textContent,
// element properties and createElement: nothing is parsed as markup.

export const $ = (id) => document.getElementById(id);

export const EMAIL = /^[^@\s<>"',;]+@[^@\s<>"',;]+\.[A-Za-z]{2,}$/;
export const EMAIL_MAX = 254;
// A day as the API takes it (YYYY-MM-DD); the server also checks that it is a real date.
export const DAY = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/;
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
const CONTROL_MULTILINE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

export function el(tag, { className, text, attrs } = {}, children = []) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

export function show(element, visible) {
  element.hidden = !visible;
}

export function showError(element, message) {
  element.textContent = message || "";
  show(element, Boolean(message));
}

export function toast(message, kind = "ok") {
  const item = el("p", { className: `toast toast-${kind}`, text: message });
  $("toasts").append(item);
  setTimeout(() => item.remove(), 6000);
}

export function formatDay(isoDate) {
  // Calendar dates (YYYY-MM-DD): formatted in UTC so no time zone shifts the day.
  const parsed = new Date(`${isoDate}T00:00:00Z`);
  if (Number.isNaN(parsed.getTime())) return String(isoDate || "");
  return parsed.toLocaleDateString("en-US", {
    timeZone: "UTC",
    weekday: "short",
    year: "numeric",
    month: "short",
    day: "numeric",
  });
}

export function formatMoment(iso) {
  const parsed = new Date(iso);
  if (Number.isNaN(parsed.getTime())) return String(iso || "");
  return parsed.toLocaleString("en-US", { dateStyle: "medium", timeStyle: "short" });
}

// Per-field messages (client checks and the server's 400 "fields") next to their inputs.
export function clearFieldErrors(form) {
  for (const node of form.querySelectorAll(".field-error")) showError(node, "");
  for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
}

// Shows each message in its field's slot; returns "field: message" for fields without one.
export function showFieldErrors(form, fields) {
  let first = null;
  const unplaced = [];
  for (const [name, message] of Object.entries(fields || {})) {
    const slot = form.querySelector(`.field-error[data-field="${CSS.escape(name)}"]`);
    if (!slot) {
      unplaced.push(`${name}: ${message}`);
      continue;
    }
    showError(slot, `${labelFor(slot)} ${message}`);
    const input = form.querySelector(`[aria-describedby~="${CSS.escape(slot.id)}"]`);
    if (input) {
      input.setAttribute("aria-invalid", "true");
      first = first || input;
    }
  }
  if (first) first.focus();
  return unplaced;
}

function labelFor(slot) {
  const input = slot.closest("form").querySelector(`[aria-describedby~="${CSS.escape(slot.id)}"]`);
  const label = input && input.labels && input.labels[0];
  if (!label) return "This field";
  const text = (label.firstChild && label.firstChild.textContent) || label.textContent;
  return text.trim();
}

export function checkText(value, { required = false, max, multiline = false }) {
  const text = value.trim();
  if (required && !text) return "is required";
  if ((multiline ? CONTROL_MULTILINE : CONTROL).test(text)) {
    return "must not contain control characters";
  }
  if (text.length > max) return `must be at most ${max} characters`;
  return null;
}

export function checkEmail(value) {
  const email = value.trim();
  if (!email) return "is required";
  if (email.length > EMAIL_MAX || !EMAIL.test(email)) return "must be an e-mail address";
  return null;
}

export function closeDialog(dialog) {
  if (dialog.open) dialog.close();
}

export function restoreFocus(opener) {
  if (opener && opener.isConnected) opener.focus();
}

// A yes/no question in the shared confirmation dialog; resolves true when confirmed.
let pendingConfirm = null;

export function confirmAction({ title, text, action, opener }) {
  const dialog = $("confirm-dialog");
  if (pendingConfirm) pendingConfirm(false);
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-submit").textContent = action;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (answer) => {
      if (settled) return;
      settled = true;
      pendingConfirm = null;
      closeDialog(dialog);
      restoreFocus(opener);
      resolve(answer);
    };
    pendingConfirm = finish;
    dialog.showModal();
    $("confirm-cancel").focus();
  });
}

export function initConfirmDialog() {
  $("confirm-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (pendingConfirm) pendingConfirm(true);
  });
  $("confirm-cancel").addEventListener("click", () => {
    if (pendingConfirm) pendingConfirm(false);
  });
  $("confirm-dialog").addEventListener("close", () => {
    if (pendingConfirm) pendingConfirm(false);
  });
}
