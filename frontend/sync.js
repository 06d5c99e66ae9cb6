// Logging offline. When the API cannot be reached (api.js `unreachable`: no answer, or a
// 502/503/504 from the gateway), "Log payment" saves the payment in the outbox (outbox.js,
// IndexedDB) with the payment_id its dialog was opened with and the exact body it sent, and the
// outbox is replayed when the API answers again: on the `online` event, on a retry timer with
// exponential backoff (2 s doubling to 60 s, with jitter), when the app is opened or shown,
// and after sign-in.
//
// Replay sends the waiting entries of the signed-in person only (never someone else's with
// this person's token), one at a time, oldest first:
//   201 / 200  recorded (200: the server already had this payment_id with this body) -> removed
//   401        paused: the session flow asks for sign-in; replay resumes after it
//   429, 5xx   kept waiting; tried again later
//   other 4xx  (400 validation, 409 payment_id already used for another payment, 403, 404)
//              kept, marked refused with the server's message and fields, until the person
//              edits it (a 409'd entry gets a new payment_id: its own is taken) or discards it
// Nothing is ever dropped silently. Two tabs do not replay at the same time (a Web Lock per
// person, where the browser has Web Locks), but nothing depends on it: an entry's body is
// stored exactly as first sent, so the same entry sent twice is one payment (the second is an
// idempotent replay, 200).
//
// Pending money (waiting entries) is shown beside an event's totals, never added into them.

import { ApiError, unreachable } from "./api.js";
import { $, confirmAction, el, formatMoment, toast } from "./dom.js";
import { formatMoney } from "./money.js";
import * as outbox from "./outbox.js";
import { REFUSED, WAITING, ownedBy, ownerKey } from "./outbox.js";
import { authed, currentUser, onSessionChanged, onSessionEnded } from "./session.js";

export const SAVED_OFFLINE = "Saved on this device — will sync when online";
const BACKOFF_FIRST_MS = 2000;
const BACKOFF_MAX_MS = 60000;
const PERSIST_ASKED_KEY = "scc.storage-persist-asked";

let hooks = {
  cards: () => [], // every card on the page
  card: () => null, // event_id -> card
  methodLabel: (method) => method,
  recorded: () => {}, // (entry, status, data): one entry is in the ledger now (also from other tabs)
  roundDone: () => {}, // (event ids): a replay round recorded payments for these events
  edit: () => {}, // (card, entry, paymentId): reopen Log payment with the entry
};
let failures = 0;
let retryTimer = 0;
let running = false;
let again = false;
let renderQueued = false;
let signInNote = null;
// Tells the other tabs what this one recorded, so their totals follow at once (as if they had
// sent it themselves) instead of waiting for their next load.
const recordedChannel = typeof BroadcastChannel === "function" ? new BroadcastChannel("scc-outbox-recorded") : null;

// --- the outbox shown: on each card, in its payments list, on the sign-in screen -----------------

function describe(error) {
  if (error instanceof ApiError) {
    return { status: error.status, code: error.code, message: error.message, fields: { ...error.fields } };
  }
  return { status: 0, code: "unreachable", message: "No answer from the server", fields: {} };
}

function plural(count, one, many = `${one}s`) {
  return `${count} ${count === 1 ? one : many}`;
}

// The server's message, and its per-field messages the message does not already say.
function reason(entry) {
  const error = entry.last_error || {};
  const message = error.message || `Request failed (${error.status})`;
  const fields = Object.entries(error.fields || {})
    .filter(([, text]) => !message.includes(String(text)))
    .map(([name, text]) => `${name} ${text}`);
  return fields.length ? `${message} (${fields.join("; ")})` : message;
}

function matchesFilters(entry, filters) {
  const body = entry.body || {};
  if (filters.method && (body.payment_method || "other") !== filters.method) return false;
  if (filters.q && !String(body.patron_name || "").toLowerCase().includes(filters.q.toLowerCase())) return false;
  const day = String(body.received_at || entry.created_at || "").slice(0, 10);
  if (filters.from && day < filters.from) return false;
  if (filters.to && day > filters.to) return false;
  return true;
}

function outboxRow(card, entry, user) {
  const body = entry.body || {};
  const currency = entry.currency || card.event.currency;
  const mine = ownedBy(entry, user);
  const row = el("li", { className: `payment outbox ${entry.status}` });
  row.dataset.paymentId = entry.payment_id;
  row.dataset.outbox = entry.status;
  row.append(
    el("div", { className: "payment-head" }, [
      el("span", { className: "patron", text: body.patron_name }),
      el("span", { className: "amount", text: formatMoney(entry.amount_cents, currency) }),
    ]),
  );
  const facts = [
    hooks.methodLabel(body.payment_method || "other"),
    body.received_at ? `received ${formatMoment(body.received_at)}` : `saved ${formatMoment(entry.created_at)}`,
    body.reference ? `ref ${body.reference}` : null,
    `logged by ${entry.owner && entry.owner.email ? entry.owner.email : "?"} on this device`,
  ].filter(Boolean);
  row.append(el("p", { className: "muted facts", text: facts.join(" · ") }));
  if (body.notes) row.append(el("p", { className: "notes", text: body.notes }));
  let state;
  if (!mine) {
    const who = (entry.owner && entry.owner.email) || "the person who logged it";
    state = entry.status === REFUSED ? `refused: ${reason(entry)} — waiting for ${who} to sign in` : `waiting for ${who} to sign in`;
  } else if (entry.status === REFUSED) {
    state = `refused: ${reason(entry)}`;
  } else {
    state = "waiting to sync";
  }
  row.append(el("p", { className: "outbox-state", text: state }));
  if (mine && entry.status === REFUSED) {
    const edit = el("button", {
      className: "secondary small",
      text: "Edit",
      attrs: { type: "button", "aria-label": `Edit the refused payment from ${body.patron_name}` },
    });
    edit.addEventListener("click", () => editEntry(entry));
    const discard = el("button", {
      className: "secondary small",
      text: "Discard",
      attrs: { type: "button", "aria-label": `Discard the refused payment from ${body.patron_name}` },
    });
    discard.addEventListener("click", () => discardEntry(entry, discard));
    row.append(el("div", { className: "outbox-actions" }, [edit, discard]));
  }
  return row;
}

// The card's outbox line (waiting count, pending amount, refused count) and its payments
// list's outbox rows. app.js calls this from renderCard.
export function renderOutbox(card) {
  if (!card || !card.outboxNote) return;
  const list = outbox.forEvent(card.event.event_id);
  const waiting = list.filter((entry) => entry.status !== REFUSED);
  const refused = list.filter((entry) => entry.status === REFUSED);
  const currency = card.event.currency || "USD";
  const parts = [];
  if (waiting.length) {
    const cents = waiting.reduce((sum, entry) => sum + (Number.isSafeInteger(entry.amount_cents) ? entry.amount_cents : 0), 0);
    parts.push(
      el("span", { className: "outbox-count", text: `${waiting.length} waiting to sync` }),
      el("span", { className: "outbox-amount", text: `${formatMoney(cents, currency)} pending` }),
    );
    card.outboxNote.dataset.pendingCents = String(cents);
  } else {
    delete card.outboxNote.dataset.pendingCents;
  }
  if (refused.length) {
    parts.push(el("span", { className: "outbox-refused", text: `${plural(refused.length, "payment")} refused — see Payments` }));
  }
  card.outboxNote.replaceChildren(...parts);
  card.outboxNote.hidden = parts.length === 0;
  card.root.dataset.outbox = refused.length ? "refused" : waiting.length ? "waiting" : "";
  if (card.outboxList) renderOutboxRows(card, list);
}

// The rows are drawn only while the payments list is open, and a row is only built again when
// its entry changed (hundreds of entries replaying must not mean hundreds of redraws of all).
function renderOutboxRows(card, list) {
  const open = !card.paymentsSection || card.paymentsSection.open;
  const user = currentUser();
  const drawn = card.outboxRows || new Map(); // payment_id -> { stamp, row }
  const next = new Map();
  const rows = [];
  if (open) {
    for (const entry of list) {
      if (!matchesFilters(entry, card.filters || {})) continue;
      const stamp = `${entry.status}|${entry.attempts}|${entry.last_attempt_at}|${ownedBy(entry, user)}`;
      const known = drawn.get(entry.payment_id);
      const row = known && known.stamp === stamp ? known.row : outboxRow(card, entry, user);
      next.set(entry.payment_id, { stamp, row });
      rows.push(row);
    }
  }
  card.outboxRows = next;
  const current = card.outboxList.children;
  if (current.length !== rows.length || rows.some((row, index) => current[index] !== row)) {
    card.outboxList.replaceChildren(...rows);
  }
  card.outboxList.hidden = rows.length === 0;
}

function renderSignInNote() {
  if (!signInNote) return;
  const count = outbox.entries().length;
  signInNote.textContent = count
    ? `${plural(count, "payment")} saved on this device ${count === 1 ? "is" : "are"} waiting to sync. ` +
      "Sign in and they are sent (each person's own payments, when they sign in)."
    : "";
  signInNote.hidden = count === 0;
}

function renderAll() {
  renderQueued = false;
  for (const card of hooks.cards()) renderOutbox(card);
  renderSignInNote();
  const all = outbox.entries();
  document.documentElement.dataset.outbox = String(all.length);
  document.documentElement.dataset.outboxWaiting = String(all.filter((e) => e.status === WAITING).length);
}

function queueRender() {
  if (renderQueued) return;
  renderQueued = true;
  setTimeout(renderAll, 0);
}

function outboxChanged() {
  queueRender();
}

function recordedElsewhere(event) {
  const { type, entry, status, data } = event.data || {};
  if (type !== "recorded" || !entry || typeof entry.event_id !== "string") return;
  try {
    hooks.recorded(entry, status, data);
  } catch (error) {
    console.error(error);
  }
}

// --- saving, editing, discarding -----------------------------------------------------------------

// Browsers may clear a site's storage under pressure unless it is "persistent": ask once.
function askForPersistence() {
  try {
    if (localStorage.getItem(PERSIST_ASKED_KEY)) return;
    localStorage.setItem(PERSIST_ASKED_KEY, new Date().toISOString());
  } catch {
    return;
  }
  if (navigator.storage && typeof navigator.storage.persist === "function") {
    navigator.storage.persist().catch(() => {}); // refused: nothing to show
  }
}

// Log payment could not reach the API: keep the payment (its payment_id and the exact body
// that was sent) until it can. `replacing`: the payment_id of the refused entry this is an
// edit of. Resolves to the entry; rejects when this device cannot store it.
export async function saveForLater({ card, body, cents, error, replacing = null }) {
  const user = currentUser();
  if (!user) throw new Error("not signed in");
  const previous = replacing ? outbox.entries().find((entry) => entry.payment_id === replacing) : null;
  const now = new Date().toISOString();
  const entry = {
    payment_id: body.payment_id,
    event_id: card.event.event_id,
    event_name: card.event.event_name || "",
    currency: card.event.currency || "USD",
    body,
    amount_cents: cents,
    owner: { person_id: user.person_id || "", email: user.email || "" },
    created_at: previous ? previous.created_at : now,
    seq: previous ? previous.seq : outbox.nextSeq(),
    status: WAITING,
    attempts: 1,
    last_attempt_at: now,
    last_error: describe(error),
  };
  await outbox.add(entry);
  if (replacing && replacing !== entry.payment_id) await outbox.remove(replacing);
  askForPersistence();
  retryLater();
  return entry;
}

// The entry with this payment_id, if this device still has it.
export function outboxEntry(paymentId) {
  return (paymentId && outbox.entries().find((entry) => entry.payment_id === paymentId)) || null;
}

// An edited refused entry was logged (sent directly): it is no longer needed.
export async function entryDone(paymentId) {
  await outbox.remove(paymentId);
}

function localDateTimeValue(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}`
  );
}

// The Log payment dialog's inputs for an entry (the names of app.js's PAYMENT_FIELDS).
export function entryValues(entry) {
  const body = entry.body || {};
  const text = (value) => (value === undefined || value === null ? "" : String(value));
  return {
    patron_name: text(body.patron_name),
    amount: text(body.amount),
    payment_method: text(body.payment_method || "other"),
    reference: text(body.reference),
    received_at: body.received_at ? localDateTimeValue(body.received_at) : "",
    patron_email: text(body.patron_email),
    notes: text(body.notes),
  };
}

export function refusalNotice(entry) {
  const conflict = entry.last_error && entry.last_error.status === 409;
  return (
    `The server refused this payment saved on this device: ${reason(entry)}. ` +
    (conflict
      ? "Its payment id is taken, so it gets a new one. Check the payments list first: it may already be logged."
      : "Correct it and press “Log payment”.")
  );
}

function editEntry(entry) {
  const card = hooks.card(entry.event_id);
  if (!card) {
    toast(`${entry.event_name || "That event"} is not listed, so its payment cannot be edited now.`, "warn");
    return;
  }
  // A 409 means the payment_id is taken (by another body): the edit must not reuse it. After
  // any other refusal nothing was recorded under it, so it may stay.
  const conflict = entry.last_error && entry.last_error.status === 409;
  hooks.edit(card, entry, conflict ? null : entry.payment_id);
}

async function discardEntry(entry, opener) {
  const body = entry.body || {};
  const money = formatMoney(entry.amount_cents, entry.currency);
  const confirmed = await confirmAction({
    title: "Discard this payment?",
    text:
      `${body.patron_name}: ${money} (${entry.event_name}) was refused by the server and is not in ` +
      "the ledger. Discarding deletes it from this device; this cannot be undone.",
    action: "Discard",
    opener,
  });
  if (!confirmed) return;
  try {
    await outbox.remove(entry.payment_id);
    toast(`Discarded: ${body.patron_name} ${money} was not logged.`, "warn");
  } catch (error) {
    toast(`Could not discard it: ${error.message}`, "warn");
  }
}

// --- replay ----------------------------------------------------------------------------------------

function mineWaiting(user) {
  return outbox.entries().filter((entry) => entry.status === WAITING && ownedBy(entry, user));
}

function sameUser(user) {
  return ownerKey(currentUser()) === ownerKey(user);
}

function withLock(name, work) {
  if (navigator.locks && typeof navigator.locks.request === "function") {
    return navigator.locks.request(name, work);
  }
  return work();
}

function retryLater() {
  if (retryTimer) return;
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** Math.min(failures, 16));
  failures += 1;
  const wait = base / 2 + Math.random() * (base / 2); // "equal jitter"
  retryTimer = setTimeout(() => {
    retryTimer = 0;
    runReplay();
  }, wait);
}

// Replay now (the connection is back, the app was opened or shown, someone signed in).
export function replayNow() {
  failures = 0;
  clearTimeout(retryTimer);
  retryTimer = 0;
  runReplay();
}

async function runReplay() {
  if (running) {
    again = true;
    return;
  }
  running = true;
  try {
    do {
      again = false;
      const user = currentUser();
      if (!user || !outbox.isLoaded()) break;
      await outbox.load(); // what is on disk now (other tabs)
      if (!mineWaiting(user).length) break;
      const outcome = await withLock(`scc-outbox-replay:${ownerKey(user)}`, () => replayAll(user));
      if (outcome === "retry") retryLater();
      if (outcome !== "done") break;
      failures = 0;
    } while (again);
  } catch (error) {
    console.error(error);
    retryLater();
  } finally {
    running = false;
  }
}

async function replayAll(user) {
  await outbox.load();
  const tried = new Set();
  const recorded = new Set();
  let outcome = "done";
  try {
    for (;;) {
      const next = mineWaiting(user).find((entry) => !tried.has(entry.payment_id));
      if (!next) break;
      tried.add(next.payment_id);
      if (!sameUser(user)) return "paused"; // signed out, or someone else signed in
      const entry = await outbox.fresh(next.payment_id); // another tab may have sent it
      if (!entry || entry.status !== WAITING || !ownedBy(entry, user)) continue;
      const result = await send(entry);
      if (result === "recorded") recorded.add(entry.event_id);
      else if (result === "unreachable") return "retry";
      else if (result === "paused") return "paused";
      else if (result === "later") outcome = "retry";
    }
    return outcome;
  } finally {
    if (recorded.size) hooks.roundDone([...recorded]);
  }
}

async function send(entry) {
  let reply;
  try {
    reply = await authed(`api/g/${encodeURIComponent(entry.event_id)}/payment`, {
      method: "POST",
      body: entry.body,
    });
  } catch (error) {
    if (unreachable(error)) {
      await outbox.recordAttempt(entry, { status: WAITING, error: describe(error) });
      return "unreachable";
    }
    if (error instanceof ApiError && error.status === 401) return "paused"; // sign-in is asked for
    if (error instanceof ApiError && (error.status === 429 || error.status >= 500)) {
      await outbox.recordAttempt(entry, { status: WAITING, error: describe(error) });
      return "later";
    }
    if (error instanceof ApiError && error.status >= 400) {
      const stored = await outbox.recordAttempt(entry, { status: REFUSED, error: describe(error) });
      if (stored) {
        const body = entry.body || {};
        toast(
          `The server refused the payment from ${body.patron_name} (${formatMoney(entry.amount_cents, entry.currency)}) ` +
            `saved on this device: ${error.message}. Open Payments on ${entry.event_name || "its event"} to edit or discard it.`,
          "warn",
        );
      }
      return "refused";
    }
    throw error;
  }
  await outbox.remove(entry.payment_id);
  hooks.recorded(entry, reply.status, reply.data);
  if (recordedChannel) {
    const { event_id, payment_id, amount_cents, body } = entry;
    recordedChannel.postMessage({
      type: "recorded",
      entry: { event_id, payment_id, amount_cents, body: { payment_method: body && body.payment_method } },
      status: reply.status,
      data: reply.data,
    });
  }
  return "recorded";
}

// --- start -------------------------------------------------------------------------------------------

export function initSync(appHooks) {
  hooks = { ...hooks, ...appHooks };
  signInNote = el("p", { className: "notice outbox-sign-in", attrs: { role: "status" } });
  signInNote.hidden = true;
  const form = $("sign-in-form");
  if (form) form.before(signInNote);
  outbox.onOutboxChanged(outboxChanged);
  if (recordedChannel) recordedChannel.addEventListener("message", recordedElsewhere);
  onSessionChanged(queueRender);
  onSessionEnded(queueRender);
  window.addEventListener("online", replayNow);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") replayNow();
  });
  return outbox.load().then(
    () => {
      renderAll();
      replayNow();
    },
    (error) => {
      console.error("the outbox cannot be opened:", error);
    },
  );
}

// --- the events each person last saw (so the app opens, and logs payments, offline) ------------

export function rememberEvents(events) {
  const user = currentUser();
  if (user) outbox.rememberEvents(user, events).catch((error) => console.warn("events not kept:", error));
}

export async function savedEvents() {
  try {
    return await outbox.savedEvents(currentUser());
  } catch {
    return null;
  }
}
