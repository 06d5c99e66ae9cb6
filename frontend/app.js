// SCC Payments app. Every piece of server or user data reaches the page through textContent,
// element properties and createElement: nothing is ever parsed as markup, so a patron named
// "<img src=x onerror=alert(1)>" is shown as exactly that text.
//
// Everyone signs in as themselves (Amazon Cognito behind /api/auth/*); roles are admin and
// crew. Crew list events, log payments and see payments; admins also create events, void
// payments and manage people. The API enforces the roles; the app only hides what a person
// cannot use.

import { ApiError, NetworkError, unreachable } from "./api.js";
import {
  $,
  DAY,
  EMAIL,
  EMAIL_MAX,
  checkText,
  clearFieldErrors,
  closeDialog,
  el,
  formatDay,
  formatMoment,
  initConfirmDialog,
  restoreFocus,
  show,
  showError,
  showFieldErrors,
  toast,
} from "./dom.js";
import { initAuth, showAuth } from "./auth.js";
import { closeoutLine, initCloseout, openCloseout, renderCloseout } from "./closeout.js";
import { downloadEventCsv, initExport, showExport } from "./export.js";
import { uuid7 } from "./ids.js";
import { MoneyError, formatMoney, parseAmountCents } from "./money.js";
import { forgetPeople, initPeople, loadPeople, roleLabel } from "./people.js";
import {
  SAVED_OFFLINE,
  entryDone,
  entryValues,
  initSync,
  outboxEntry,
  refusalNotice,
  rememberEvents,
  renderOutbox,
  replayNow,
  saveForLater,
  savedEvents,
} from "./sync.js";
import {
  authed,
  currentUser,
  isAdmin,
  onSessionChanged,
  onSessionEnded,
  resumeSession,
  signOut as endOwnSession,
  signedIn,
} from "./session.js";

const METHODS = ["cash", "card", "check", "venmo", "other"];
const METHOD_LABELS = { cash: "Cash", card: "Card", check: "Check", venmo: "Venmo", other: "Other" };
const PATRON_NAME_MAX = 120;
const NOTES_MAX = 1000;
const REFERENCE_MAX = 100;
const VOID_REASON_MAX = 500;
const CONFIRM_TIMEOUT_MS = 60000;
const DRAFT_KEY = "scc.draft";
const PAYMENT_FIELDS = [
  ["patron_name", "patron-name"],
  ["amount", "amount"],
  ["payment_method", "method"],
  ["reference", "reference"],
  ["received_at", "received-at"],
  ["patron_email", "patron-email"],
  ["notes", "notes"],
];

function localDateTimeValue(date = new Date()) {
  const pad = (n) => String(n).padStart(2, "0");
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}`
  );
}

function forbidden(error) {
  return error instanceof ApiError && error.status === 403;
}

// --- who is signed in, and what they may see ---------------------------------------------------

let shownRole = null;

function applyUser(user) {
  if (!user) return;
  $("session-user").textContent = user.name || user.email || "";
  $("session-user").title = user.email || "";
  $("session-role").textContent = roleLabel(user.role);
  $("session-role").dataset.role = user.role || "";
  document.body.dataset.role = user.role || "";
  const admin = user.role === "admin";
  show($("nav-people"), admin);
  show($("create-event"), admin);
  showExport(admin);
  const changed = shownRole !== null && shownRole !== user.role;
  shownRole = user.role;
  if (!changed) return;
  // A role change (seen at a refresh): redraw what depends on it.
  for (const card of cards.values()) {
    renderCard(card); // the admins' Close out and Download CSV
    if (card.paymentsSection.open) loadPayments(card);
  }
  const sheet = $("closeout-dialog"); // closeout.js
  if (!admin && sheet && sheet.open) sheet.close();
  if (!admin && !$("people").hidden) route();
}

// --- views: sign-in, events, people --------------------------------------------------------------

function currentView() {
  return location.hash === "#people" && isAdmin() ? "people" : "events";
}

function showView(view, { focus = false } = {}) {
  show($("events"), view === "events");
  show($("people"), view === "people");
  for (const [id, name] of [
    ["nav-events", "events"],
    ["nav-people", "people"],
  ]) {
    if (name === view) $(id).setAttribute("aria-current", "page");
    else $(id).removeAttribute("aria-current");
  }
  if (focus) $(view === "people" ? "people-title" : "events-title").focus();
}

async function route({ focus = false } = {}) {
  if (!signedIn()) return;
  const view = currentView();
  showView(view, { focus });
  if (view === "people") await loadPeople();
  else await loadEvents();
}

function showSignIn(message, email) {
  show($("session"), false);
  show($("events"), false);
  show($("people"), false);
  $("event-list").replaceChildren();
  cards.clear();
  forgetPeople();
  shownRole = null;
  showAuth({ message, email });
}

async function afterSignIn() {
  applyUser(currentUser());
  show($("session"), true);
  const draft = takeDraft(currentUser());
  if (draft && location.hash === "#people") history.replaceState(null, "", "#events");
  await route();
  replayNow(); // payments saved on this device while the API was out of reach (sync.js)
  if (draft) reopenDraft(draft);
}

// The session ended (refresh refused, person disabled, role changed): back to sign-in, and an
// open dialog's entries are kept for when the same person signs in again.
function sessionEnded(message, ended) {
  const kept = keepDraft(ended);
  for (const dialog of document.querySelectorAll("dialog[open]")) dialog.close();
  const text = kept
    ? `${message} What you entered in “${kept.kind === "void" ? "Void payment" : "Log payment"}” is kept and reopens after you sign in.`
    : message;
  showSignIn(text, ended.user && ended.user.email ? ended.user.email : undefined);
}

function signOut() {
  sessionStorage.removeItem(DRAFT_KEY);
  endOwnSession();
  for (const dialog of document.querySelectorAll("dialog[open]")) dialog.close();
  showSignIn("", "");
  toast("Signed out.");
}

// --- drafts: an open dialog survives a session that ends -----------------------------------------

function ownerOf(user) {
  return user ? user.person_id || (user.email || "").toLowerCase() : "";
}

function keepDraft(ended) {
  const owner = ownerOf(ended && ended.user);
  let draft = null;
  if ($("payment-dialog").open && paymentState.card && paymentState.paymentId) {
    const values = {};
    for (const [name, id] of PAYMENT_FIELDS) values[name] = $(id).value;
    draft = {
      kind: "payment",
      owner,
      event_id: paymentState.card.event.event_id,
      event_name: paymentState.card.event.event_name,
      payment_id: paymentState.paymentId,
      outbox_id: paymentState.outboxEntry ? paymentState.outboxEntry.payment_id : null, // an edit (sync.js)
      values,
    };
  } else if ($("void-dialog").open && voidState.card && voidState.payment) {
    draft = {
      kind: "void",
      owner,
      event_id: voidState.card.event.event_id,
      event_name: voidState.card.event.event_name,
      payment: voidState.payment,
      reason: $("void-reason").value,
    };
  }
  if (draft) sessionStorage.setItem(DRAFT_KEY, JSON.stringify(draft));
  return draft;
}

// The kept draft if it belongs to `user` (anyone else signing in in this tab drops it).
function takeDraft(user) {
  let draft = null;
  try {
    draft = JSON.parse(sessionStorage.getItem(DRAFT_KEY) || "null");
  } catch {
    draft = null;
  }
  sessionStorage.removeItem(DRAFT_KEY);
  if (!draft || typeof draft !== "object" || draft.owner !== ownerOf(user)) return null;
  if (draft.kind === "void" && !isAdmin()) return null;
  return draft;
}

function reopenDraft(draft) {
  const card = cards.get(draft.event_id);
  if (!card) {
    toast(`What you entered for ${draft.event_name || "an event"} could not be reopened: the event is not listed.`, "warn");
    return;
  }
  if (draft.kind === "payment") openPaymentDialog(card, { draft, outboxEntry: outboxEntry(draft.outbox_id) });
  else if (draft.kind === "void") openVoidDialog(card, draft.payment, card.logButton, { reason: draft.reason });
}

// --- events ------------------------------------------------------------------------------------

// event_id -> card state: { event, summary (server), pending: [ops], elements..., filters }
const cards = new Map();

async function loadEvents() {
  const status = $("events-status");
  showError($("events-error"), "");
  status.textContent = "Loading events…";
  try {
    const { data } = await authed("api/events");
    if (!signedIn()) return; // signed out while the list was on its way
    const events = Array.isArray(data && data.events) ? data.events : [];
    eventsFromDevice = false;
    rememberEvents(events); // so the app opens, and logs payments, without a connection
    showEvents(events);
  } catch (error) {
    status.textContent = "";
    if (unreachable(error) && (await showSavedEvents())) return;
    if (forbidden(error)) {
      showError($("events-error"), "Your account has no role yet, so it cannot see events. Ask an admin to give you one.");
    } else if (!(error instanceof ApiError && error.status === 401)) {
      showError($("events-error"), "Could not load the events. Check your connection and try again.");
    }
  }
}

function showEvents(events) {
  const status = $("events-status");
  const seen = new Set();
  const items = events.map((event) => {
    seen.add(event.event_id);
    return upsertCard(event).root;
  });
  for (const id of [...cards.keys()]) if (!seen.has(id)) cards.delete(id);
  $("event-list").replaceChildren(...items);
  if (events.length) status.textContent = "";
  else if (isAdmin()) status.textContent = "No events yet. Create one with “New event”.";
  else status.textContent = "No events yet. An admin creates them.";
  if (!events.length && isAdmin()) $("create-event").open = true;
}

// No connection: the events as this person last saw them on this device (totals may be behind).
let eventsFromDevice = false;

async function showSavedEvents() {
  const saved = await savedEvents();
  if (!saved || !signedIn()) return false;
  showEvents(saved.events);
  eventsFromDevice = true;
  $("events-status").textContent =
    `No connection: the events as of ${formatMoment(saved.saved_at)}. ` +
    "Payments you log are saved on this device and sync when the connection is back.";
  return true;
}

function upsertCard(event) {
  let card = cards.get(event.event_id);
  if (!card) {
    card = buildCard(event);
    cards.set(event.event_id, card);
  }
  card.event = event;
  if (event.summary) card.summary = event.summary;
  renderCard(card);
  return card;
}

function buildCard(event) {
  const card = { event, summary: event.summary || null, pending: [], filters: {}, cursor: null };
  const titleId = `event-${event.event_id}-title`;
  card.title = el("h3", { attrs: { id: titleId } });
  card.details = el("p", { className: "muted" });
  card.net = el("p", { className: "net" });
  card.sync = el("span", { className: "sync", attrs: { "aria-live": "polite" } });
  card.outboxNote = el("p", { className: "outbox-note", attrs: { "aria-live": "polite" } }); // sync.js
  card.outboxNote.hidden = true;
  card.stats = el("dl", { className: "stats" });
  card.logButton = el("button", { text: "Log payment", attrs: { type: "button" } });
  card.logButton.dataset.action = "log-payment";
  card.logButton.addEventListener("click", () => openPaymentDialog(card));

  card.paymentsList = el("ul", { className: "payments" });
  card.outboxList = el("ul", { className: "payments outbox-list" }); // sync.js
  card.outboxList.hidden = true;
  card.paymentsStatus = el("p", { className: "muted", attrs: { "aria-live": "polite" } });
  card.more = el("button", { className: "secondary", text: "Load more", attrs: { type: "button" } });
  card.more.hidden = true;
  card.more.addEventListener("click", () => loadPayments(card, { append: true }));
  card.filterForm = buildFilterForm(card);
  card.paymentsSection = el("details", { className: "payments-section" }, [
    el("summary", { text: "Payments" }),
    card.filterForm,
    card.outboxList,
    card.paymentsStatus,
    card.paymentsList,
    card.more,
  ]);
  card.paymentsSection.addEventListener("toggle", () => {
    if (card.paymentsSection.open) loadPayments(card);
  });

  // Admins: close out the event (closeout.js) and download its payments (export.js).
  card.closeoutLine = closeoutLine();
  card.closeoutButton = el("button", {
    className: "secondary small",
    text: "Close out",
    attrs: { type: "button" },
  });
  card.closeoutButton.addEventListener("click", () => openCloseout(card, card.closeoutButton));
  card.downloadButton = el("button", {
    className: "secondary small",
    text: "Download CSV",
    attrs: { type: "button" },
  });
  card.downloadButton.addEventListener("click", () => downloadEventCsv(card.event, card.downloadButton));
  card.tools = el("div", { className: "card-tools" }, [card.closeoutButton, card.downloadButton]);

  card.root = el("li", { className: "event card", attrs: { "aria-labelledby": titleId } }, [
    el("div", { className: "card-head" }, [
      el("div", { className: "card-title" }, [card.title, card.details]),
      card.logButton,
    ]),
    el("div", { className: "totals" }, [card.net, card.sync, card.outboxNote]),
    card.stats,
    card.closeoutLine,
    card.tools,
    card.paymentsSection,
  ]);
  card.root.dataset.eventId = event.event_id;
  return card;
}

function buildFilterForm(card) {
  const id = (name) => `f-${card.event.event_id}-${name}`;
  const method = el("select", { attrs: { id: id("method"), name: "method" } }, [
    el("option", { text: "All methods", attrs: { value: "" } }),
    ...METHODS.map((m) => el("option", { text: METHOD_LABELS[m], attrs: { value: m } })),
  ]);
  const from = el("input", { attrs: { id: id("from"), name: "from", type: "date" } });
  const to = el("input", { attrs: { id: id("to"), name: "to", type: "date" } });
  const q = el("input", {
    attrs: { id: id("q"), name: "q", type: "search", maxlength: "120", autocomplete: "off" },
  });
  const error = el("p", { className: "error", attrs: { role: "alert" } });
  error.hidden = true;
  const field = (input, text) =>
    el("div", { className: "filter" }, [el("label", { text, attrs: { for: input.id } }), input]);
  const apply = el("button", { text: "Filter", attrs: { type: "submit" } });
  const clear = el("button", { className: "secondary", text: "Clear", attrs: { type: "reset" } });
  const form = el("form", { className: "filters", attrs: { role: "search", novalidate: "" } }, [
    field(method, "Method"),
    field(from, "From"),
    field(to, "To"),
    field(q, "Patron"),
    el("div", { className: "filter-actions" }, [apply, clear]),
    error,
  ]);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const filters = { method: method.value, from: from.value, to: to.value, q: q.value.trim() };
    if (filters.from && filters.to && filters.from > filters.to) {
      showError(error, "“To” must be on or after “From”.");
      return;
    }
    const bad = checkText(filters.q, { max: PATRON_NAME_MAX });
    if (bad) {
      showError(error, `Patron ${bad}.`);
      return;
    }
    showError(error, "");
    card.filters = filters;
    loadPayments(card);
  });
  form.addEventListener("reset", () => {
    showError(error, "");
    card.filters = {};
    setTimeout(() => loadPayments(card), 0);
  });
  card.filterError = error;
  return form;
}

// The summary shown: the server's projection plus what this tab has logged or voided that
// the projection has not caught up with yet (integer cents only).
function effectiveSummary(card) {
  const base = card.summary || {
    payment_count: 0,
    void_count: 0,
    gross_cents: 0,
    voided_cents: 0,
    net_cents: 0,
    by_method_cents: {},
    outstanding_cents: card.event.expected_total_cents ?? null,
  };
  const s = { ...base, by_method_cents: { ...(base.by_method_cents || {}) } };
  for (const op of card.pending) {
    const sign = op.kind === "payment" ? 1 : -1;
    if (op.kind === "payment") {
      s.payment_count += 1;
      s.gross_cents += op.cents;
    } else {
      s.void_count += 1;
      s.voided_cents += op.cents;
    }
    s.net_cents += sign * op.cents;
    s.by_method_cents[op.method] = (s.by_method_cents[op.method] || 0) + sign * op.cents;
    if (s.outstanding_cents !== null && s.outstanding_cents !== undefined) {
      s.outstanding_cents -= sign * op.cents;
    }
  }
  return s;
}

function renderCard(card) {
  const { event } = card;
  const currency = event.currency || "USD";
  card.title.textContent = event.event_name || event.event_id || "";
  card.details.textContent = [formatDay(event.date), event.location].filter(Boolean).join(" · ");
  const s = effectiveSummary(card);
  card.net.textContent = `${formatMoney(s.net_cents, currency)} collected`;
  card.net.dataset.netCents = String(s.net_cents);
  const pending = card.pending.length > 0;
  card.root.dataset.sync = pending ? "pending" : "confirmed";
  card.sync.textContent = pending ? "Updating totals…" : "";

  const rows = [
    ["Payments", String(s.payment_count), "payment-count"],
    ...METHODS.map((m) => [METHOD_LABELS[m], formatMoney(s.by_method_cents[m] || 0, currency), m]),
    ["Voided", `${formatMoney(s.voided_cents, currency)} (${s.void_count})`, "voided"],
  ];
  if (event.expected_total_cents !== null && event.expected_total_cents !== undefined) {
    rows.push(["Expected", formatMoney(event.expected_total_cents, currency), "expected"]);
    rows.push(["Outstanding", formatMoney(s.outstanding_cents ?? 0, currency), "outstanding"]);
  }
  card.stats.replaceChildren(
    ...rows.map(([term, value, key]) =>
      el("div", { attrs: { "data-stat": key } }, [el("dt", { text: term }), el("dd", { text: value })]),
    ),
  );
  card.tools.hidden = !isAdmin();
  renderCloseout(card);
  renderOutbox(card);
}

// --- the payments list -------------------------------------------------------------------------

async function loadPayments(card, { append = false } = {}) {
  const eventId = card.event.event_id;
  const query = { ...card.filters, limit: "50" };
  if (append && card.cursor) query.cursor = card.cursor;
  const ticket = (card.ticket = (card.ticket || 0) + 1);
  renderOutbox(card); // this device's waiting payments, with the same filters
  card.paymentsStatus.textContent = "Loading payments…";
  try {
    const { data } = await authed(`api/g/${encodeURIComponent(eventId)}/payments`, { query });
    if (ticket !== card.ticket) return; // a newer request owns the list
    const payments = Array.isArray(data.payments) ? data.payments : [];
    const rows = payments.map((p) => paymentRow(card, p));
    if (append) card.paymentsList.append(...rows);
    else card.paymentsList.replaceChildren(...rows);
    card.cursor = data.next_cursor || null;
    card.more.hidden = !card.cursor;
    const count = card.paymentsList.children.length;
    card.paymentsStatus.textContent = count ? "" : "No payments match.";
    if (data.event) card.event = { ...card.event, ...data.event };
    if (data.summary) acceptSummary(card, data.summary);
  } catch (error) {
    if (ticket !== card.ticket) return;
    card.paymentsStatus.textContent = "";
    if (error instanceof ApiError && error.status === 400) {
      showError(card.filterError, Object.values(error.fields).join("; ") || error.message);
    } else if (forbidden(error)) {
      card.paymentsStatus.textContent = error.message;
    } else if (!(error instanceof ApiError && error.status === 401)) {
      card.paymentsStatus.textContent = unreachable(error)
        ? "No connection: the payments in the ledger cannot be shown now."
        : "Could not load the payments. Try again.";
    }
  }
}

function paymentRow(card, payment) {
  const currency = payment.currency || card.event.currency;
  const voided = Boolean(payment.void);
  const row = el("li", { className: voided ? "payment voided" : "payment" });
  row.dataset.paymentId = payment.payment_id;
  const head = el("div", { className: "payment-head" }, [
    el("span", { className: "patron", text: payment.patron_name }),
    el("span", { className: "amount", text: formatMoney(payment.amount_cents, currency) }),
  ]);
  const facts = [
    METHOD_LABELS[payment.payment_method] || payment.payment_method,
    `received ${formatMoment(payment.received_at)}`,
    payment.reference ? `ref ${payment.reference}` : null,
    `logged by ${payment.logged_by}`,
  ].filter(Boolean);
  row.append(head, el("p", { className: "muted facts", text: facts.join(" · ") }));
  if (payment.notes) row.append(el("p", { className: "notes", text: payment.notes }));
  if (payment.after_closeout) {
    row.dataset.afterCloseout = "true";
    row.append(
      el("p", {
        className: "after-closeout",
        text: "after close-out",
        attrs: { title: "Logged after the event's last close-out: the next close-out counts it." },
      }),
    );
  }
  if (voided) {
    row.append(
      el("p", {
        className: "void-note",
        text: `Voided by ${payment.void.voided_by} (${formatMoment(payment.void.timestamp)}): ${payment.void.reason}`,
      }),
    );
  } else if (isAdmin()) {
    const button = el("button", {
      className: "secondary small",
      text: "Void",
      attrs: { type: "button", "aria-label": `Void payment from ${payment.patron_name}` },
    });
    button.addEventListener("click", () => openVoidDialog(card, payment, button));
    row.append(button);
  }
  return row;
}

// --- optimistic totals, confirmed by polling the projection -------------------------------------

function acceptSummary(card, summary) {
  card.summary = summary;
  // A pending change is confirmed once the projection counts it.
  card.pending = card.pending.filter((op) =>
    op.kind === "payment" ? summary.payment_count < op.target : summary.void_count < op.target,
  );
  renderCard(card);
}

function addPending(card, op) {
  const base = card.summary || { payment_count: 0, void_count: 0 };
  const sameKind = card.pending.filter((p) => p.kind === op.kind).length;
  const counted = op.kind === "payment" ? base.payment_count : base.void_count;
  card.pending.push({ since: performance.now(), ...op, target: counted + sameKind + 1 });
  renderCard(card);
  confirmTotals(card);
}

// The projection's summary now (after the outbox replayed payments, some perhaps already counted).
async function refreshSummary(card) {
  try {
    const { data } = await authed(`api/events/${encodeURIComponent(card.event.event_id)}`);
    if (data && data.summary && cards.get(card.event.event_id) === card) acceptSummary(card, data.summary);
  } catch {
    // the next load or poll catches up
  }
}

async function confirmTotals(card) {
  if (card.polling) return;
  card.polling = true;
  const started = performance.now();
  // Quick polls while the projection usually catches up (its batching window is about a
  // second), then back off to one a second.
  let delay = 100;
  try {
    while (card.pending.length && signedIn() && cards.get(card.event.event_id) === card) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (performance.now() - started > 3000) delay = Math.min(delay * 1.5, 1000);
      try {
        const { data } = await authed(`api/events/${encodeURIComponent(card.event.event_id)}`);
        const before = card.pending.slice();
        if (data && data.summary) acceptSummary(card, data.summary);
        for (const op of before) {
          if (!card.pending.includes(op)) {
            performance.measure(`scc:confirmed:${op.id}`, { start: op.since, end: performance.now() });
          }
        }
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) return;
      }
      if (performance.now() - started > CONFIRM_TIMEOUT_MS) {
        card.sync.textContent = "Totals are taking longer than usual to update; refresh later.";
        return;
      }
    }
  } finally {
    card.polling = false;
  }
}

// --- the Log Payment dialog --------------------------------------------------------------------

const paymentState = { card: null, paymentId: null, opener: null, inFlight: false, outboxEntry: null };

// `draft`: the entries and payment_id kept when the session ended while this dialog was open;
// the same payment_id again means a retry can never log the payment twice.
// `outboxEntry`: a payment saved on this device that the server refused, being edited (sync.js;
// `draft` then holds its entries, and its payment_id unless that is taken: a 409).
function openPaymentDialog(card, { draft = null, outboxEntry = null } = {}) {
  const form = $("payment-form");
  form.reset();
  clearFieldErrors(form);
  showError($("payment-error"), "");
  paymentState.card = card;
  paymentState.outboxEntry = outboxEntry;
  paymentState.paymentId = draft && draft.payment_id ? draft.payment_id : uuid7(); // new per opening, reused on retry
  paymentState.opener = card.logButton;
  $("payment-event").textContent = `${card.event.event_name} · ${formatDay(card.event.date)}`;
  $("received-at").value = localDateTimeValue();
  if (draft) {
    for (const [name, id] of PAYMENT_FIELDS) {
      const value = draft.values && draft.values[name];
      if (typeof value === "string") $(id).value = value;
    }
  }
  showReferenceHint();
  showError(
    $("payment-notice"),
    outboxEntry
      ? refusalNotice(outboxEntry)
      : draft
      ? "You were asked to sign in again while logging this payment; your entries are kept. Check them and press “Log payment”: it will not be logged twice."
      : "",
  );
  $("payment-submit").disabled = false;
  $("payment-dialog").showModal();
  $("patron-name").focus();
}

function showReferenceHint() {
  $("reference-hint").textContent = $("method").value === "other" ? "(what it was)" : "(check no., Venmo handle…)";
}

function paymentBody() {
  const fields = {};
  const body = { payment_id: paymentState.paymentId };
  const name = $("patron-name").value;
  const nameProblem = checkText(name, { required: true, max: PATRON_NAME_MAX });
  if (nameProblem) fields.patron_name = nameProblem;
  body.patron_name = name.trim();
  try {
    body.amount = parseAmountText($("amount").value);
  } catch (error) {
    if (!(error instanceof MoneyError)) throw error;
    fields.amount = error.message;
  }
  const method = $("method").value;
  if (!METHODS.includes(method)) fields.payment_method = `must be one of ${METHODS.join(", ")}`;
  body.payment_method = method;
  const reference = $("reference").value;
  const refProblem = checkText(reference, { max: REFERENCE_MAX });
  if (refProblem) fields.reference = refProblem;
  if (reference.trim()) body.reference = reference.trim();
  const received = $("received-at").value;
  if (received) {
    const moment = new Date(received);
    if (Number.isNaN(moment.getTime())) fields.received_at = "must be a date and time";
    else if (moment.getTime() > Date.now() + 5 * 60 * 1000) fields.received_at = "must not be in the future";
    else body.received_at = moment.toISOString();
  }
  const email = $("patron-email").value.trim();
  if (email) {
    if (email.length > EMAIL_MAX || !EMAIL.test(email)) fields.patron_email = "must be an e-mail address";
    else body.patron_email = email;
  }
  const notes = $("notes").value;
  const notesProblem = checkText(notes, { max: NOTES_MAX, multiline: true });
  if (notesProblem) fields.notes = notesProblem;
  if (notes.trim()) body.notes = notes.trim();
  return { body, fields };
}

// The amount goes to the server as the exact decimal string of its integer cents.
function parseAmountText(text) {
  const cents = parseAmountCents(text);
  const digits = String(cents).padStart(3, "0");
  return { cents, text: `${digits.slice(0, -2)}.${digits.slice(-2)}` };
}

async function submitPayment(event) {
  event.preventDefault();
  if (paymentState.inFlight) return; // a double click sends one request
  const form = $("payment-form");
  clearFieldErrors(form);
  showError($("payment-error"), "");
  const { body, fields } = paymentBody();
  if (Object.keys(fields).length) {
    showFieldErrors(form, fields);
    return;
  }
  const { card } = paymentState;
  const amount = body.amount;
  const request = { ...body, amount: amount.text };
  const submit = $("payment-submit");
  paymentState.inFlight = true;
  submit.disabled = true;
  submit.textContent = "Logging…";
  const since = performance.now();
  try {
    const { data } = await authed(`api/g/${encodeURIComponent(card.event.event_id)}/payment`, {
      method: "POST",
      body: request,
    });
    const opener = paymentState.opener;
    paymentState.paymentId = null;
    if (paymentState.outboxEntry) {
      // The refused entry this was an edit of is logged now.
      entryDone(paymentState.outboxEntry.payment_id).catch((problem) => console.error(problem));
      paymentState.outboxEntry = null;
    }
    closeDialog($("payment-dialog"));
    restoreFocus(opener);
    const money = formatMoney(amount.cents, card.event.currency);
    toast(`Payment logged for ${request.patron_name}: ${money}`);
    addPending(card, {
      id: data.payment_id,
      kind: "payment",
      cents: amount.cents,
      method: request.payment_method,
      since,
    });
    if (card.paymentsSection.open) loadPayments(card);
  } catch (error) {
    if (unreachable(error) && (await savePaymentForLater(card, request, amount.cents, error))) {
      // saved in the outbox (sync.js): replayed, same payment_id and body, when the API answers
    } else if (unreachable(error)) {
      showError(
        $("payment-error"),
        "No answer from the server, so this payment may or may not be saved. Press “Log payment” again: it will not be logged twice.",
      );
    } else if (error instanceof ApiError && error.status === 400) {
      const unplaced = showFieldErrors(form, error.fields);
      showError($("payment-error"), unplaced.length ? unplaced.join("; ") : "Please fix the highlighted fields.");
    } else if (error instanceof ApiError && error.status === 409) {
      showError(
        $("payment-error"),
        "This payment was already logged with different details. Cancel and check the payments list before logging it again.",
      );
    } else if (error instanceof ApiError && error.status === 404) {
      showError($("payment-error"), "This event no longer exists. Refresh the events.");
    } else if (forbidden(error)) {
      showError($("payment-error"), `${error.message}. Nothing was logged.`);
    } else if (!(error instanceof ApiError && error.status === 401)) {
      showError($("payment-error"), `${error.message}. Nothing was logged; try again.`);
    }
  } finally {
    paymentState.inFlight = false;
    submit.disabled = false;
    submit.textContent = "Log payment";
  }
}

// The API is out of reach: the payment goes to this device's outbox and the dialog closes.
async function savePaymentForLater(card, request, cents, error) {
  const replacing = paymentState.outboxEntry ? paymentState.outboxEntry.payment_id : null;
  try {
    await saveForLater({ card, body: request, cents, error, replacing });
  } catch (problem) {
    console.error("could not save the payment on this device:", problem);
    return false;
  }
  const opener = paymentState.opener;
  paymentState.paymentId = null;
  paymentState.outboxEntry = null;
  closeDialog($("payment-dialog"));
  restoreFocus(opener);
  toast(SAVED_OFFLINE);
  return true;
}

// --- the Void dialog (reason, then an explicit confirmation) ----------------------------------

const voidState = { card: null, payment: null, opener: null, confirming: false, inFlight: false };

function openVoidDialog(card, payment, opener, { reason = null } = {}) {
  const form = $("void-form");
  form.reset();
  clearFieldErrors(form);
  showError($("void-error"), "");
  Object.assign(voidState, { card, payment, opener, confirming: false });
  if (typeof reason === "string") $("void-reason").value = reason;
  showError(
    $("void-notice"),
    reason === null ? "" : "You were asked to sign in again while voiding this payment; your reason is kept.",
  );
  $("void-summary").textContent =
    `${payment.patron_name} · ${formatMoney(payment.amount_cents, payment.currency)} · ` +
    `${METHOD_LABELS[payment.payment_method] || payment.payment_method}`;
  setVoidStep(false);
  $("void-dialog").showModal();
  $("void-reason").focus();
}

function setVoidStep(confirming) {
  voidState.confirming = confirming;
  show($("void-step-reason"), !confirming);
  show($("void-back"), confirming);
  show($("void-confirm-text"), confirming);
  $("void-submit").textContent = confirming ? "Void payment" : "Continue";
  if (confirming) {
    const { payment } = voidState;
    $("void-confirm-text").textContent =
      `Void ${formatMoney(payment.amount_cents, payment.currency)} from ${payment.patron_name}? ` +
      `Reason: ${$("void-reason").value.trim()}. The payment stays in the ledger, marked void; this cannot be undone.`;
    $("void-submit").focus();
  } else {
    $("void-reason").focus();
  }
}

async function submitVoid(event) {
  event.preventDefault();
  if (voidState.inFlight) return;
  const form = $("void-form");
  clearFieldErrors(form);
  showError($("void-error"), "");
  const reason = $("void-reason").value;
  const problem = checkText(reason, { required: true, max: VOID_REASON_MAX, multiline: true });
  if (problem) {
    setVoidStep(false);
    showFieldErrors(form, { reason: problem });
    return;
  }
  if (!voidState.confirming) {
    setVoidStep(true);
    return;
  }
  const { card, payment, opener } = voidState;
  const submit = $("void-submit");
  voidState.inFlight = true;
  submit.disabled = true;
  try {
    const path =
      `api/g/${encodeURIComponent(card.event.event_id)}/payments/` +
      `${encodeURIComponent(payment.payment_id)}/void`;
    await authed(path, { method: "POST", body: { reason: reason.trim() } });
    closeDialog($("void-dialog"));
    restoreFocus(card.logButton);
    toast(`Payment from ${payment.patron_name} voided: ${formatMoney(payment.amount_cents, payment.currency)}`);
    addPending(card, {
      id: `void-${payment.payment_id}`,
      kind: "void",
      cents: payment.amount_cents,
      method: payment.payment_method,
    });
    loadPayments(card);
  } catch (error) {
    if (error instanceof ApiError && error.status === 409) {
      closeDialog($("void-dialog"));
      restoreFocus(opener);
      toast("That payment was already voided.", "warn");
      loadPayments(card);
    } else if (error instanceof ApiError && error.status === 400) {
      setVoidStep(false);
      const unplaced = showFieldErrors(form, error.fields);
      if (unplaced.length) showError($("void-error"), unplaced.join("; "));
    } else if (error instanceof NetworkError) {
      showError($("void-error"), "No answer from the server. Try again: a payment is never voided twice.");
    } else if (!(error instanceof ApiError && error.status === 401)) {
      showError($("void-error"), error.message);
    }
  } finally {
    voidState.inFlight = false;
    submit.disabled = false;
  }
}

// --- create event ------------------------------------------------------------------------------

async function createEvent(event) {
  event.preventDefault();
  const form = $("create-event-form");
  clearFieldErrors(form);
  showError($("create-event-error"), "");
  const fields = {};
  const body = {};
  const name = $("event-name").value;
  const nameProblem = checkText(name, { required: true, max: 120 });
  if (nameProblem) fields.event_name = nameProblem;
  body.event_name = name.trim();
  const date = $("event-date").value;
  if (!DAY.test(date)) fields.date = "must be a date as YYYY-MM-DD";
  body.date = date;
  const location = $("event-location").value;
  const locationProblem = checkText(location, { max: 200 });
  if (locationProblem) fields.location = locationProblem;
  if (location.trim()) body.location = location.trim();
  body.currency = $("event-currency").value;
  const expected = $("event-expected").value.trim();
  if (expected) {
    try {
      body.expected_total = parseAmountText(expected).text;
    } catch (error) {
      if (!(error instanceof MoneyError)) throw error;
      fields.expected_total = error.message;
    }
  }
  if (Object.keys(fields).length) {
    showFieldErrors(form, fields);
    return;
  }
  const submit = $("create-event-submit");
  submit.disabled = true;
  try {
    const { data } = await authed("api/events", { method: "POST", body });
    form.reset();
    $("create-event").open = false;
    toast(`Event created: ${data.event_name}`);
    await loadEvents();
    const card = cards.get(data.event_id);
    if (card) card.logButton.focus();
  } catch (error) {
    if (error instanceof ApiError && (error.status === 400 || error.status === 409)) {
      const unplaced = showFieldErrors(form, error.fields);
      showError($("create-event-error"), unplaced.length ? unplaced.join("; ") : error.message);
    } else if (forbidden(error)) {
      showError($("create-event-error"), error.message);
    } else if (!(error instanceof ApiError && error.status === 401)) {
      showError($("create-event-error"), "Could not create the event. Check your connection and try again.");
    }
  } finally {
    submit.disabled = false;
  }
}

// --- start -------------------------------------------------------------------------------------

async function start() {
  initConfirmDialog();
  initAuth({ signedIn: afterSignIn });
  initPeople();
  initExport();
  initCloseout({
    summaryOf: effectiveSummary,
    accept: acceptSummary,
    changed: (card) => {
      renderCard(card);
      if (card.paymentsSection.open) loadPayments(card);
    },
  });
  initSync({
    cards: () => cards.values(),
    card: (eventId) => cards.get(eventId),
    methodLabel: (method) => METHOD_LABELS[method] || method,
    recorded: (entry, status, data) => {
      // 201: new in the ledger, like a payment just logged (200: it already was).
      const card = cards.get(entry.event_id);
      if (!card || status !== 201) return;
      addPending(card, {
        id: (data && data.payment_id) || entry.payment_id,
        kind: "payment",
        cents: entry.amount_cents,
        method: (entry.body && entry.body.payment_method) || "other",
      });
    },
    roundDone: (eventIds) => {
      if (eventsFromDevice) loadEvents();
      for (const id of eventIds) {
        const card = cards.get(id);
        if (!card) continue;
        refreshSummary(card);
        if (card.paymentsSection.open) loadPayments(card);
      }
    },
    edit: (card, entry, paymentId) =>
      openPaymentDialog(card, { draft: { payment_id: paymentId, values: entryValues(entry) }, outboxEntry: entry }),
  });
  window.addEventListener("online", () => {
    if (signedIn() && eventsFromDevice) loadEvents();
  });
  $("method").addEventListener("change", showReferenceHint);
  onSessionEnded(sessionEnded);
  onSessionChanged((user) => {
    if (user) applyUser(user);
  });
  $("sign-out").addEventListener("click", signOut);
  $("refresh").addEventListener("click", () => loadEvents());
  $("create-event-form").addEventListener("submit", createEvent);
  $("payment-form").addEventListener("submit", submitPayment);
  $("payment-cancel").addEventListener("click", () => closeDialog($("payment-dialog")));
  $("payment-dialog").addEventListener("close", () => restoreFocus(paymentState.opener));
  $("void-form").addEventListener("submit", submitVoid);
  $("void-cancel").addEventListener("click", () => closeDialog($("void-dialog")));
  $("void-back").addEventListener("click", () => setVoidStep(false));
  $("void-dialog").addEventListener("close", () => {
    if (voidState.opener && voidState.opener.isConnected) voidState.opener.focus();
    else if (voidState.card) restoreFocus(voidState.card.logButton);
  });
  window.addEventListener("hashchange", () => route({ focus: true }));
  if (await resumeSession()) {
    await afterSignIn();
  } else if (!signedIn() && $("sign-in").hidden) {
    showSignIn("");
  }
}

start();
