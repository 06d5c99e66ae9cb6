// The People screen (admins): everyone who can sign in, their role and status; invite someone,
// change a role, disable (after a confirmation) and enable. Roles: admin and crew.

import { ApiError, NetworkError } from "./api.js";
import {
  $,
  checkEmail,
  checkText,
  clearFieldErrors,
  confirmAction,
  el,
  formatMoment,
  showError,
  showFieldErrors,
  toast,
} from "./dom.js";
import { SESSION_ENDED, authed, currentUser, endSession } from "./session.js";

const ROLES = ["crew", "admin"];
const ROLE_LABELS = { admin: "Admin", crew: "Crew" };
const NAME_MAX = 120;
const STATUS_LABELS = {
  FORCE_CHANGE_PASSWORD: "Invited — waiting for first sign-in",
  CONFIRMED: "Active",
  RESET_REQUIRED: "Must reset their password at next sign-in",
  UNCONFIRMED: "Not confirmed yet",
  COMPROMISED: "Password compromised — must reset it",
  ARCHIVED: "Archived",
  EXTERNAL_PROVIDER: "Signs in through another provider",
  UNKNOWN: "Status unknown",
};

const rows = new Map(); // person_id -> row state
let loadTicket = 0;
let rowCounter = 0;

export function roleLabel(role) {
  return ROLE_LABELS[role] || "No role";
}

function displayName(person) {
  return person.name || person.email || "(no name)";
}

function isMe(person) {
  const me = currentUser();
  if (!me) return false;
  if (me.person_id && person.person_id) return me.person_id === person.person_id;
  return Boolean(me.email) && me.email.toLowerCase() === String(person.email || "").toLowerCase();
}

function problemMessage(error) {
  if (error instanceof NetworkError) return "No answer from the server. Check your connection and try again.";
  if (error instanceof ApiError) {
    if (error.status === 400) {
      const fields = Object.entries(error.fields).map(([name, message]) => `${name} ${message}`);
      return fields.length ? fields.join("; ") : error.message;
    }
    if (error.status === 404) return "This person no longer exists. Refresh the list.";
    return error.message;
  }
  return String(error && error.message ? error.message : error);
}

// --- the list ------------------------------------------------------------------------------------

export async function loadPeople() {
  const ticket = (loadTicket += 1);
  const status = $("people-status");
  showError($("people-error"), "");
  status.textContent = "Loading people…";
  try {
    const { data } = await authed("api/people");
    if (ticket !== loadTicket || !currentUser()) return;
    const people = Array.isArray(data && data.people) ? data.people.slice() : [];
    people.sort((a, b) => displayName(a).localeCompare(displayName(b), "en", { sensitivity: "base" }));
    const seen = new Set();
    const items = people.map((person) => {
      seen.add(person.person_id);
      return upsertRow(person).root;
    });
    for (const id of [...rows.keys()]) if (!seen.has(id)) rows.delete(id);
    $("people-list").replaceChildren(...items);
    status.textContent = people.length ? `${people.length} ${people.length === 1 ? "person" : "people"}` : "Nobody yet.";
  } catch (error) {
    if (ticket !== loadTicket) return;
    status.textContent = "";
    if (error instanceof ApiError && error.status === 401) return;
    showError(
      $("people-error"),
      error instanceof ApiError && error.status === 403
        ? "Only admins can see people."
        : "Could not load the people. Check your connection and try again.",
    );
  }
}

export function forgetPeople() {
  rows.clear();
  loadTicket += 1;
  $("people-list").replaceChildren();
  $("people-status").textContent = "";
}

function upsertRow(person) {
  let row = rows.get(person.person_id);
  if (!row) {
    row = buildRow(person);
    rows.set(person.person_id, row);
  }
  row.person = person;
  renderRow(row);
  return row;
}

function buildRow(person) {
  rowCounter += 1;
  const id = (name) => `person-${rowCounter}-${name}`;
  const row = { person, busy: false };
  row.name = el("h3", { className: "person-name", attrs: { id: id("name") } });
  row.roleBadge = el("span", { className: "role-badge" });
  row.stateBadge = el("span", { className: "state-badge" });
  row.email = el("p", { className: "muted person-email" });
  row.status = el("p", { className: "person-status" });
  row.roleSelect = el("select", { attrs: { id: id("role"), name: "role" } });
  row.roleButton = el("button", { className: "secondary small", text: "Change role", attrs: { type: "button" } });
  row.toggleButton = el("button", { className: "small", attrs: { type: "button" } });
  row.error = el("p", { className: "error", attrs: { role: "alert" } });
  row.error.hidden = true;

  row.roleSelect.addEventListener("change", () => syncRoleButton(row));
  row.roleButton.addEventListener("click", () => changeRole(row));
  row.toggleButton.addEventListener("click", () => (row.person.enabled ? disable(row) : enable(row)));

  row.root = el("li", { className: "person card", attrs: { "aria-labelledby": id("name") } }, [
    el("div", { className: "person-head" }, [
      row.name,
      el("span", { className: "badges" }, [row.roleBadge, row.stateBadge]),
    ]),
    row.email,
    row.status,
    el("div", { className: "person-actions" }, [
      el("div", { className: "role-change" }, [
        el("label", { text: "Role", attrs: { for: id("role") } }),
        el("div", { className: "inline" }, [row.roleSelect, row.roleButton]),
      ]),
      row.toggleButton,
    ]),
    row.error,
  ]);
  return row;
}

function renderRow(row) {
  const { person } = row;
  const name = displayName(person);
  const me = isMe(person);
  row.root.dataset.personId = person.person_id;
  row.root.dataset.email = person.email || "";
  row.root.dataset.enabled = person.enabled ? "true" : "false";
  row.root.classList.toggle("disabled", !person.enabled);
  row.name.textContent = me ? `${name} (you)` : name;
  row.roleBadge.textContent = roleLabel(person.role);
  row.roleBadge.dataset.role = person.role || "";
  row.stateBadge.textContent = person.enabled ? "Enabled" : "Disabled";
  row.stateBadge.dataset.state = person.enabled ? "enabled" : "disabled";
  const added = person.created_at ? `added ${formatMoment(person.created_at)}` : "";
  // Without a name the heading already is the e-mail address.
  row.email.textContent = [person.name ? person.email : "", added].filter(Boolean).join(" · ");
  const statusText = STATUS_LABELS[person.status] || String(person.status || "Status unknown");
  row.status.textContent = person.enabled ? statusText : `Disabled: cannot sign in (${statusText.toLowerCase()})`;
  row.status.dataset.status = person.status || "";

  const options = [];
  if (!ROLES.includes(person.role)) {
    const none = el("option", { text: "No role — choose one", attrs: { value: "" } });
    none.disabled = true;
    options.push(none);
  }
  for (const role of ROLES) options.push(el("option", { text: ROLE_LABELS[role], attrs: { value: role } }));
  row.roleSelect.replaceChildren(...options);
  row.roleSelect.value = ROLES.includes(person.role) ? person.role : "";
  row.roleButton.setAttribute("aria-label", `Change role of ${name}`);
  row.toggleButton.textContent = person.enabled ? "Disable" : "Enable";
  row.toggleButton.className = person.enabled ? "small danger" : "small";
  row.toggleButton.setAttribute("aria-label", `${person.enabled ? "Disable" : "Enable"} ${name}`);
  syncRoleButton(row);
}

function syncRoleButton(row) {
  const chosen = row.roleSelect.value;
  row.roleButton.disabled = row.busy || !chosen || chosen === row.person.role;
  row.toggleButton.disabled = row.busy;
  row.roleSelect.disabled = row.busy;
}

async function act(row, work) {
  if (row.busy) return;
  row.busy = true;
  syncRoleButton(row);
  showError(row.error, "");
  try {
    await work();
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) showError(row.error, problemMessage(error));
  } finally {
    row.busy = false;
    syncRoleButton(row);
  }
}

function accept(row, person) {
  if (person && typeof person === "object" && person.person_id) {
    if (person.person_id !== row.person.person_id) rows.delete(row.person.person_id);
    rows.set(person.person_id, row);
    row.person = person;
  }
  renderRow(row);
}

function path(row, action) {
  return `api/people/${encodeURIComponent(row.person.person_id)}/${action}`;
}

async function changeRole(row) {
  const role = row.roleSelect.value;
  if (!ROLES.includes(role) || role === row.person.role) return;
  const name = displayName(row.person);
  await act(row, async () => {
    const { data } = await authed(path(row, "role"), { method: "POST", body: { role } });
    accept(row, data);
    toast(`${name} is now ${ROLE_LABELS[role].toLowerCase()}. Their next action asks them to sign in again.`);
  });
  if (row.person.role !== row.roleSelect.value) {
    row.roleSelect.value = ROLES.includes(row.person.role) ? row.person.role : "";
    syncRoleButton(row);
  }
}

async function disable(row) {
  const { person } = row;
  const name = displayName(person);
  const me = isMe(person);
  const yes = await confirmAction({
    title: "Disable this person?",
    text:
      `Disable ${name} (${person.email})? ` +
      (me ? "This is you: you will be signed out at once. " : "They are signed out at once. ") +
      "They cannot sign in until an admin enables them again; the payments they logged stay in the ledger.",
    action: "Disable",
    opener: row.toggleButton,
  });
  if (!yes) return;
  await act(row, async () => {
    const { data } = await authed(path(row, "disable"), { method: "POST" });
    accept(row, data);
    toast(`${name} is disabled and signed out.`);
  });
  if (me && !row.person.enabled) endSession(SESSION_ENDED);
  else if (row.toggleButton.isConnected) row.toggleButton.focus();
}

async function enable(row) {
  const name = displayName(row.person);
  await act(row, async () => {
    const { data } = await authed(path(row, "enable"), { method: "POST" });
    accept(row, data);
    toast(`${name} is enabled and can sign in again.`);
  });
  if (row.toggleButton.isConnected) row.toggleButton.focus();
}

// --- the invite form -----------------------------------------------------------------------------

let inviting = false;

async function invite(event) {
  event.preventDefault();
  if (inviting) return;
  const form = $("invite-form");
  clearFieldErrors(form);
  showError($("invite-error"), "");
  const email = $("invite-email").value.trim();
  const name = $("invite-name").value;
  const role = $("invite-role").value;
  const fields = {};
  const emailProblem = checkEmail(email);
  if (emailProblem) fields.email = emailProblem;
  const nameProblem = checkText(name, { required: true, max: NAME_MAX });
  if (nameProblem) fields.name = nameProblem;
  if (!ROLES.includes(role)) fields.role = "must be admin or crew";
  if (Object.keys(fields).length) {
    showFieldErrors(form, fields);
    return;
  }
  const submit = $("invite-submit");
  inviting = true;
  submit.disabled = true;
  try {
    const { data } = await authed("api/people", {
      method: "POST",
      body: { email, name: name.trim(), role },
    });
    form.reset();
    toast(`Invitation sent to ${email}.`);
    if (data && data.person_id) {
      const row = upsertRow(data);
      if (!row.root.isConnected) $("people-list").prepend(row.root);
    }
    await loadPeople();
    $("invite-email").focus();
  } catch (error) {
    if (error instanceof ApiError && (error.status === 400 || error.status === 409)) {
      const unplaced = showFieldErrors(form, error.fields);
      const message =
        error.status === 409 && !error.message.startsWith("Request failed")
          ? error.message
          : error.status === 409
            ? "Someone with this e-mail address already has an account."
            : unplaced.join("; ") || (Object.keys(error.fields).length ? "" : error.message);
      showError($("invite-error"), message);
      if (error.status === 409 && !Object.keys(error.fields).length) $("invite-email").focus();
    } else if (!(error instanceof ApiError && error.status === 401)) {
      showError($("invite-error"), problemMessage(error));
    }
  } finally {
    inviting = false;
    submit.disabled = false;
  }
}

export function initPeople() {
  $("invite-form").addEventListener("submit", invite);
  $("people-refresh").addEventListener("click", () => loadPeople());
}
