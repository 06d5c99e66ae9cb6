// Close-out (admins): at the end of an event, count what is in hand per method (cash in the box,
// checks in hand, the card terminal's batch total, Venmo received, other transfers), compare it
// with what the ledger recorded (net of voids) and save it with a note explaining any difference.
//
// Money is integer cents throughout (money.js): what is typed is parsed with string operations,
// differences are integer subtractions, and the server gets exact decimal strings. After saving,
// what the sheet shows is the server's answer: its `recorded_cents` are what the ledger held at
// that moment, which may include payments this tab had not seen yet.
//
// The sheet is built here with createElement (no markup in index.html); every value reaches the
// page through textContent.

import { ApiError, NetworkError } from "./api.js";
import {
  checkText,
  clearFieldErrors,
  closeDialog,
  el,
  formatDay,
  formatMoment,
  restoreFocus,
  show,
  showError,
  showFieldErrors,
  toast,
} from "./dom.js";
import { uuid7 } from "./ids.js";
import { MoneyError, centsToDecimal, formatMoney, parseAmountCents } from "./money.js";
import { authed, signedIn } from "./session.js";

export const CLOSEOUT_METHODS = ["cash", "card", "check", "venmo", "other"];
const LABELS = { cash: "Cash", card: "Card", check: "Check", venmo: "Venmo", other: "Other" };
const HINTS = {
  cash: "in the box",
  card: "terminal batch total",
  check: "checks in hand",
  venmo: "received",
  other: "Zelle, PayPal, transfers",
};
const NOTE_MAX = 1000;
// A count is not a single payment: allow far more than MAX_PAYMENT_CENTS (the server has the
// last word and its 400 lands next to the field).
const COUNT_MAX_CENTS = 99999999999; // 999,999,999.99
const CONFIRM_TIMEOUT_MS = 60000;

// How a difference reads: "over $5.00", "short $9.50", "exact".
export function overShort(cents, currency) {
  if (!Number.isSafeInteger(cents)) return "";
  if (cents === 0) return "exact";
  return `${cents > 0 ? "over" : "short"} ${formatMoney(Math.abs(cents), currency)}`;
}

function diffKind(cents) {
  if (cents === null || cents === undefined) return "none";
  if (cents === 0) return "exact";
  return cents > 0 ? "over" : "short";
}

// What was typed as a count -> integer cents (0 allowed); throws MoneyError.
export function parseCountCents(text) {
  const stripped = String(text ?? "")
    .trim()
    .replaceAll(",", "")
    .replace(/^\$/, "");
  if (!stripped) throw new MoneyError("is required (enter 0 if there is none)");
  if (stripped.startsWith("-")) throw new MoneyError("must be 0 or more");
  if (/^0+(?:\.0+)?$/.test(stripped)) return 0;
  return parseAmountCents(stripped, COUNT_MAX_CENTS);
}

// --- the card's close-out line -------------------------------------------------------------------

export function closeoutLine() {
  const line = el("p", { className: "closeout-line" });
  line.hidden = true;
  return line;
}

function newer(a, b) {
  if (!a) return b || null;
  if (!b) return a;
  return Date.parse(b.closed_at) > Date.parse(a.closed_at) ? b : a;
}

// The newest close-out the card knows of: the projection's (summary.closeout), or the one this
// tab just saved while the projection catches up (about a second).
function latestCloseout(card) {
  const projected = card.summary && card.summary.closeout ? card.summary.closeout : null;
  const saved = card.savedCloseout || null;
  if (saved && projected && Date.parse(projected.closed_at) >= Date.parse(saved.closed_at)) {
    card.savedCloseout = null; // the projection has it (or something newer)
    return projected;
  }
  return newer(projected, saved);
}

// Called from renderCard: "Closed out by <e-mail> at <time>, short $9.50".
export function renderCloseout(card) {
  const line = card.closeoutLine;
  if (!line) return;
  const closeout = latestCloseout(card);
  card.root.dataset.closeout = closeout ? (card.savedCloseout ? "pending" : "confirmed") : "none";
  card.root.dataset.closeoutId = closeout ? closeout.closeout_id || "" : "";
  if (!closeout) {
    line.textContent = "";
    line.hidden = true;
    return;
  }
  const currency = card.event.currency || "USD";
  const cents = closeout.over_short_cents;
  line.dataset.kind = diffKind(cents);
  line.textContent =
    `Closed out by ${closeout.closed_by} at ${formatMoment(closeout.closed_at)}, ` +
    `${overShort(cents, currency)}`;
  line.hidden = false;
}

// --- the sheet -----------------------------------------------------------------------------------

const state = {
  hooks: null,
  card: null,
  opener: null,
  closeoutId: null,
  recorded: {},
  currency: "USD",
  inFlight: false,
  ticket: 0,
  saved: null,
};
const ui = {};

function buildSheet() {
  ui.dialog = el("dialog", {
    className: "closeout-dialog",
    attrs: { id: "closeout-dialog", "aria-labelledby": "closeout-title" },
  });
  ui.title = el("h2", { text: "Close out", attrs: { id: "closeout-title" } });
  ui.event = el("p", { className: "muted", attrs: { id: "closeout-event" } });

  // The form: per method what was recorded, what was counted, and the difference.
  ui.rows = {};
  const head = el("div", { className: "co-row co-head", attrs: { "aria-hidden": "true" } }, [
    el("span", { text: "Method" }),
    el("span", { className: "co-num", text: "Recorded" }),
    el("span", { text: "Counted" }),
    el("span", { className: "co-num", text: "Difference" }),
  ]);
  const rows = CLOSEOUT_METHODS.map((method) => {
    const id = `closeout-${method}`;
    const input = el("input", {
      attrs: {
        id,
        name: `counted.${method}`,
        inputmode: "decimal",
        autocomplete: "off",
        required: "",
        "aria-describedby": `${id}-recorded ${id}-diff ${id}-error`,
      },
    });
    const recorded = el("span", { className: "co-num co-recorded", attrs: { id: `${id}-recorded` } });
    const diff = el("output", { className: "co-num co-diff", attrs: { id: `${id}-diff`, for: id } });
    const error = el("p", { className: "field-error", attrs: { id: `${id}-error`, "data-field": `counted.${method}` } });
    error.hidden = true;
    input.addEventListener("input", () => renderDifferences());
    ui.rows[method] = { input, recorded, diff, error };
    const row = el("div", { className: "co-row", attrs: { "data-method": method } }, [
      el("label", { attrs: { for: id } }, [
        LABELS[method],
        el("span", { className: "co-hint", text: ` ${HINTS[method]}` }),
      ]),
      recorded,
      input,
      diff,
      error,
    ]);
    return row;
  });
  ui.total = el("p", { className: "co-total", attrs: { id: "closeout-total", "aria-live": "polite" } });
  ui.asOf = el("p", { className: "muted hint", attrs: { id: "closeout-as-of" } });

  ui.note = el("textarea", {
    attrs: {
      id: "closeout-note",
      name: "note",
      rows: "2",
      maxlength: String(NOTE_MAX),
      "aria-describedby": "closeout-note-hint closeout-note-error",
    },
  });
  ui.noteHint = el("span", { className: "optional", attrs: { id: "closeout-note-hint" } });
  ui.noteError = el("p", { className: "field-error", attrs: { id: "closeout-note-error", "data-field": "note" } });
  ui.noteError.hidden = true;
  ui.error = el("p", { className: "error", attrs: { id: "closeout-error", role: "alert" } });
  ui.error.hidden = true;
  ui.cancel = el("button", { className: "secondary", text: "Cancel", attrs: { id: "closeout-cancel", type: "button" } });
  ui.submit = el("button", { text: "Save close-out", attrs: { id: "closeout-submit", type: "submit" } });
  ui.form = el("form", { attrs: { id: "closeout-form", novalidate: "" } }, [
    el("p", {
      className: "muted hint",
      text: "Count what is in hand for each method; “Recorded” is what the ledger holds, net of voids.",
    }),
    el("div", { className: "co-table", attrs: { role: "group", "aria-label": "Counts per method" } }, [
      head,
      ...rows,
    ]),
    ui.total,
    ui.asOf,
    el("label", { attrs: { for: "closeout-note" } }, ["Note ", ui.noteHint]),
    ui.note,
    ui.noteError,
    ui.error,
    el("div", { className: "dialog-actions" }, [ui.cancel, ui.submit]),
  ]);

  // After saving: the server's answer.
  ui.resultTitle = el("h3", { text: "Saved", attrs: { id: "closeout-result-title", tabindex: "-1" } });
  ui.resultBy = el("p", { className: "muted" });
  ui.resultTable = el("div", { className: "co-table co-result" });
  ui.resultTotal = el("p", { className: "co-total" });
  ui.resultNote = el("p", { className: "notes" });
  ui.resultLate = el("p", { className: "warning" });
  ui.done = el("button", { text: "Done", attrs: { id: "closeout-done", type: "button" } });
  ui.result = el("section", { className: "co-saved", attrs: { id: "closeout-result", "aria-labelledby": "closeout-result-title" } }, [
    ui.resultTitle,
    ui.resultBy,
    ui.resultTable,
    ui.resultTotal,
    ui.resultLate,
    ui.resultNote,
    el("div", { className: "dialog-actions" }, [ui.done]),
  ]);
  ui.result.hidden = true;

  // History: every close-out of the event, newest first (the first one is current).
  ui.historyStatus = el("p", { className: "muted", attrs: { "aria-live": "polite" } });
  ui.history = el("ol", { className: "co-history", attrs: { id: "closeout-history", "aria-labelledby": "closeout-history-title" } });
  const history = el("section", { className: "co-history-section" }, [
    el("h3", { text: "Close-outs of this event", attrs: { id: "closeout-history-title" } }),
    ui.historyStatus,
    ui.history,
  ]);

  ui.dialog.append(ui.title, ui.event, ui.form, ui.result, history);
  document.body.append(ui.dialog);

  ui.note.addEventListener("input", () => renderDifferences());
  ui.form.addEventListener("submit", submit);
  ui.cancel.addEventListener("click", () => closeDialog(ui.dialog));
  ui.done.addEventListener("click", () => closeDialog(ui.dialog));
  ui.dialog.addEventListener("close", () => {
    state.ticket += 1; // answers still on their way no longer touch the sheet
    if (state.card) restoreFocus(state.opener);
  });
}

// hooks: summaryOf(card) -> the summary the card shows; accept(card, summary) takes a fresh
// projection; changed(card) redraws the card (and its payments list) after a close-out.
export function initCloseout(hooks) {
  state.hooks = hooks;
  buildSheet();
}

export function openCloseout(card, opener) {
  const { hooks } = state;
  state.card = card;
  state.opener = opener;
  state.closeoutId = uuid7(); // new per opening, reused on retry: never saved twice
  state.saved = null;
  state.inFlight = false;
  state.currency = card.event.currency || "USD";
  const ticket = (state.ticket += 1);
  ui.form.reset();
  clearFieldErrors(ui.form);
  showError(ui.error, "");
  show(ui.form, true);
  show(ui.result, false);
  ui.submit.disabled = false;
  ui.title.textContent = `Close out ${card.event.event_name || card.event.event_id}`;
  ui.event.textContent = [formatDay(card.event.date), card.event.location].filter(Boolean).join(" · ");
  setRecorded(hooks.summaryOf(card));
  ui.asOf.textContent = "Checking the latest recorded amounts…";
  renderHistory(null);
  ui.dialog.showModal();
  ui.rows.cash.input.focus();
  refreshRecorded(card, ticket);
  loadHistory(card, ticket);
}

function setRecorded(summary) {
  const byMethod = (summary && summary.by_method_cents) || {};
  state.recorded = {};
  for (const method of CLOSEOUT_METHODS) {
    const cents = Number.isSafeInteger(byMethod[method]) ? byMethod[method] : 0;
    state.recorded[method] = cents;
    const { recorded } = ui.rows[method];
    recorded.textContent = formatMoney(cents, state.currency);
    recorded.dataset.cents = String(cents);
  }
  renderDifferences();
}

// The card's summary may be a few seconds old (or from before another device logged more):
// fetch the event once when the sheet opens.
async function refreshRecorded(card, ticket) {
  try {
    const { data } = await authed(`api/events/${encodeURIComponent(card.event.event_id)}`);
    if (data && data.summary) state.hooks.accept(card, data.summary);
    if (ticket !== state.ticket || state.saved) return;
    setRecorded(state.hooks.summaryOf(card));
    ui.asOf.textContent = `Recorded amounts as of ${formatMoment(new Date().toISOString())}. Saving compares with the ledger at that moment.`;
  } catch (error) {
    if (ticket !== state.ticket) return;
    if (!(error instanceof ApiError && error.status === 401)) {
      ui.asOf.textContent = "Could not check the latest recorded amounts; saving compares with the ledger anyway.";
    }
  }
}

// Reads the five counts; { counted: {method: cents}, fields: {name: message} }.
function readCounts() {
  const counted = {};
  const fields = {};
  for (const method of CLOSEOUT_METHODS) {
    try {
      counted[method] = parseCountCents(ui.rows[method].input.value);
    } catch (error) {
      if (!(error instanceof MoneyError)) throw error;
      counted[method] = null;
      fields[`counted.${method}`] = error.message;
    }
  }
  return { counted, fields };
}

function renderDifferences() {
  const { counted } = readCounts();
  let total = 0;
  let complete = true;
  let differs = false;
  for (const method of CLOSEOUT_METHODS) {
    const { diff } = ui.rows[method];
    const count = counted[method];
    if (count === null) {
      complete = false;
      diff.textContent = "—";
      diff.dataset.kind = "none";
      delete diff.dataset.cents;
      continue;
    }
    const cents = count - state.recorded[method];
    total += cents;
    if (cents !== 0) differs = true;
    diff.textContent = overShort(cents, state.currency);
    diff.dataset.kind = diffKind(cents);
    diff.dataset.cents = String(cents);
  }
  if (complete) {
    ui.total.textContent = `Total: ${overShort(total, state.currency)}`;
    ui.total.dataset.kind = diffKind(total);
    ui.total.dataset.cents = String(total);
  } else {
    ui.total.textContent = "Total: enter a count for every method (0 if there is none).";
    ui.total.dataset.kind = "none";
    delete ui.total.dataset.cents;
  }
  ui.noteHint.textContent = differs ? "(required: a count differs from what was recorded)" : "(optional)";
  return { complete, differs };
}

async function submit(event) {
  event.preventDefault();
  if (state.inFlight || !state.card) return; // a double click saves once
  clearFieldErrors(ui.form);
  showError(ui.error, "");
  const { counted, fields } = readCounts();
  const differs = CLOSEOUT_METHODS.some((m) => counted[m] !== null && counted[m] !== state.recorded[m]);
  const note = ui.note.value;
  const noteProblem = checkText(note, { required: differs, max: NOTE_MAX, multiline: true });
  if (noteProblem) {
    fields.note = noteProblem === "is required" ? "is required when a count differs from what was recorded" : noteProblem;
  }
  if (Object.keys(fields).length) {
    showFieldErrors(ui.form, fields);
    showError(ui.error, "Nothing was saved. Please fix the highlighted fields.");
    return;
  }
  const body = { closeout_id: state.closeoutId, counted: {} };
  for (const method of CLOSEOUT_METHODS) body.counted[method] = centsToDecimal(counted[method]);
  if (note.trim()) body.note = note.trim();

  const { card } = state;
  const ticket = state.ticket;
  state.inFlight = true;
  ui.submit.disabled = true;
  ui.submit.textContent = "Saving…";
  try {
    const { data } = await authed(`api/g/${encodeURIComponent(card.event.event_id)}/closeouts`, {
      method: "POST",
      body,
    });
    card.savedCloseout = data;
    state.hooks.changed(card);
    confirmCloseout(card, data);
    toast(`${card.event.event_name} closed out: ${overShort(data.over_short_cents, data.currency || state.currency)}`);
    if (ticket !== state.ticket) return;
    state.saved = data;
    showSaved(data);
    addToHistory(data);
  } catch (error) {
    if (ticket !== state.ticket) return;
    if (error instanceof NetworkError) {
      showError(
        ui.error,
        "No answer from the server, so this close-out may or may not be saved. Press “Save close-out” again: it will not be saved twice.",
      );
    } else if (error instanceof ApiError && error.status === 400) {
      const unplaced = showFieldErrors(ui.form, serverFields(error.fields));
      showError(ui.error, unplaced.length ? `${unplaced.join("; ")}. Nothing was saved.` : `${error.message}. Nothing was saved.`);
    } else if (error instanceof ApiError && error.status === 409) {
      // The earlier attempt from this sheet was saved after all, with other counts: what is
      // saved is in the history; pressing Save again records these counts as a new close-out.
      state.closeoutId = uuid7();
      showError(
        ui.error,
        "A close-out from this sheet was already saved with other counts (see the list below). Press “Save close-out” again to save these counts as a new close-out.",
      );
      loadHistory(card, ticket);
    } else if (error instanceof ApiError && error.status === 404) {
      showError(ui.error, "This event no longer exists. Refresh the events.");
    } else if (error instanceof ApiError && error.status === 403) {
      showError(ui.error, `${error.message}. Nothing was saved.`);
    } else if (!(error instanceof ApiError && error.status === 401)) {
      showError(ui.error, `${error.message}. Nothing was saved; try again.`);
    }
  } finally {
    state.inFlight = false;
    ui.submit.disabled = false;
    ui.submit.textContent = "Save close-out";
  }
}

// The server names count fields "counted.cash" (or "counted" for the whole object).
function serverFields(fields) {
  const out = {};
  for (const [name, message] of Object.entries(fields || {})) {
    const match = /^counted[.[/]?([a-z]+)\]?$/.exec(name);
    out[match && CLOSEOUT_METHODS.includes(match[1]) ? `counted.${match[1]}` : name] = message;
  }
  return out;
}

function methodTable(view, currency, { counts = true } = {}) {
  const cells = [
    el("div", { className: "co-row co-head", attrs: { "aria-hidden": "true" } }, [
      el("span", { text: "Method" }),
      el("span", { className: "co-num", text: "Recorded" }),
      el("span", { className: "co-num", text: counts ? "Counted" : "" }),
      el("span", { className: "co-num", text: "Difference" }),
    ]),
  ];
  for (const method of CLOSEOUT_METHODS) {
    const recorded = (view.recorded_cents || {})[method] ?? 0;
    const counted = (view.counted_cents || {})[method] ?? 0;
    const diff = (view.difference_cents || {})[method] ?? counted - recorded;
    cells.push(
      el("div", { className: "co-row", attrs: { "data-method": method } }, [
        el("span", { className: "co-method", text: LABELS[method] }),
        el("span", { className: "co-num co-recorded", text: `recorded ${formatMoney(recorded, currency)}` }),
        el("span", { className: "co-num co-counted", text: `counted ${formatMoney(counted, currency)}` }),
        el("span", { className: "co-num co-diff", text: overShort(diff, currency), attrs: { "data-kind": diffKind(diff) } }),
      ]),
    );
  }
  return cells;
}

function showSaved(view) {
  const currency = view.currency || state.currency;
  ui.resultTitle.textContent = `Saved: ${overShort(view.over_short_cents, currency)}`;
  ui.resultBy.textContent =
    `Closed out by ${view.closed_by} at ${formatMoment(view.closed_at)} · ` +
    `${view.payment_count} payment${view.payment_count === 1 ? "" : "s"}, ${view.void_count} voided`;
  ui.resultTable.replaceChildren(...methodTable(view, currency));
  ui.resultTotal.textContent = `Total: ${overShort(view.over_short_cents, currency)}`;
  ui.resultTotal.dataset.kind = diffKind(view.over_short_cents);
  // The ledger may hold payments this sheet had not shown (logged elsewhere a moment ago).
  const moved = CLOSEOUT_METHODS.filter(
    (m) => ((view.recorded_cents || {})[m] ?? 0) !== state.recorded[m],
  ).map(
    (m) => `${LABELS[m]} ${formatMoney((view.recorded_cents || {})[m] ?? 0, currency)} (this sheet showed ${formatMoney(state.recorded[m], currency)})`,
  );
  ui.resultLate.textContent = moved.length
    ? `The ledger held more than this sheet showed when it was saved: ${moved.join("; ")}. The differences above use the ledger's amounts.`
    : "";
  show(ui.resultLate, moved.length > 0);
  ui.resultNote.textContent = view.note ? `Note: ${view.note}` : "";
  show(ui.resultNote, Boolean(view.note));
  show(ui.form, false);
  show(ui.result, true);
  ui.done.focus();
}

// --- history -------------------------------------------------------------------------------------

let historyItems = [];

async function loadHistory(card, ticket) {
  ui.historyStatus.textContent = "Loading close-outs…";
  try {
    const { data } = await authed(`api/g/${encodeURIComponent(card.event.event_id)}/closeouts`);
    if (ticket !== state.ticket) return;
    const list = Array.isArray(data && data.closeouts) ? data.closeouts : [];
    // A close-out saved while the list was on its way stays listed.
    const { saved } = state;
    const missing = saved && !list.some((c) => c.closeout_id === saved.closeout_id);
    renderHistory(missing ? [saved, ...list] : list);
  } catch (error) {
    if (ticket !== state.ticket) return;
    if (!(error instanceof ApiError && error.status === 401)) {
      ui.historyStatus.textContent = "Could not load the earlier close-outs.";
    }
  }
}

function addToHistory(view) {
  if (historyItems.some((c) => c.closeout_id === view.closeout_id)) return;
  renderHistory([view, ...historyItems]);
}

function renderHistory(list) {
  if (list === null) {
    historyItems = [];
    ui.history.replaceChildren();
    return;
  }
  historyItems = list
    .slice()
    .sort((a, b) => Date.parse(b.closed_at) - Date.parse(a.closed_at));
  ui.historyStatus.textContent = historyItems.length ? "" : "Not closed out yet.";
  ui.history.replaceChildren(...historyItems.map((c, index) => historyItem(c, index === 0)));
}

function historyItem(view, current) {
  const currency = view.currency || state.currency;
  const item = el("li", { className: "co-item" });
  item.dataset.closeoutId = view.closeout_id || "";
  const head = el("p", { className: "co-item-head" }, [
    el("strong", { className: "co-item-result", text: overShort(view.over_short_cents, currency), attrs: { "data-kind": diffKind(view.over_short_cents) } }),
    ` · ${formatMoment(view.closed_at)} · by ${view.closed_by}`,
  ]);
  if (current) head.append(" ", el("span", { className: "state-badge", text: "current" }));
  item.append(head);
  const differences = CLOSEOUT_METHODS.filter((m) => ((view.difference_cents || {})[m] ?? 0) !== 0).map(
    (m) => `${LABELS[m]} ${overShort(view.difference_cents[m], currency)}`,
  );
  const counted = CLOSEOUT_METHODS.reduce((sum, m) => sum + ((view.counted_cents || {})[m] ?? 0), 0);
  item.append(
    el("p", {
      className: "muted co-item-facts",
      text: [
        `counted ${formatMoney(counted, currency)}`,
        `${view.payment_count} payment${view.payment_count === 1 ? "" : "s"}`,
        ...differences,
      ].join(" · "),
    }),
  );
  if (view.note) item.append(el("p", { className: "notes co-item-note", text: view.note }));
  return item;
}

// --- the projection catches up -------------------------------------------------------------------

// After saving, poll the event until its summary carries this close-out (about a second), so
// the card's line and totals come from the projection again; then redraw the card once more:
// the payments' "after close-out" marks follow the projected close-out.
async function confirmCloseout(card, view) {
  const started = performance.now();
  let delay = 200;
  while (card.savedCloseout && signedIn() && card.root.isConnected !== false) {
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 1.5, 2000);
    if (!card.savedCloseout || card.savedCloseout.closeout_id !== view.closeout_id) return;
    try {
      const { data } = await authed(`api/events/${encodeURIComponent(card.event.event_id)}`);
      if (data && data.summary) state.hooks.accept(card, data.summary);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return;
    }
    if (!card.savedCloseout) {
      state.hooks.changed(card);
      return;
    }
    if (performance.now() - started > CONFIRM_TIMEOUT_MS) return;
  }
}
