// CSV downloads (admins): one event's payments (the card's "Download CSV"), and every payment
// received in a date range ("Export payments", from/to).
//
// A plain link cannot carry the bearer token, so the file is fetched with the token in the
// Authorization header, read as a Blob and saved through an object URL on a temporary
// <a download>. An export too large for one Lambda response comes back as JSON instead,
// {"status": "exported", "url": <short-lived presigned link>, ...}: the browser then navigates to
// that link (a plain GET: the CSP's connect-src governs fetch, not navigation), and the storage
// service's attachment header turns it into a download.

import { ApiError, NetworkError } from "./api.js";
import { $, DAY, clearFieldErrors, el, show, showError, showFieldErrors, toast } from "./dom.js";
import { SESSION_ENDED, currentToken, endSession, refreshSession } from "./session.js";


function refusal() {
  return new ApiError(401, { error: { code: "unauthorized", message: SESSION_ENDED } });
}

async function readBody(response) {
  try {
    const text = await response.text();
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

async function send(url, token) {
  try {
    return await fetch(url, {
      headers: { Accept: "text/csv, application/json", Authorization: `Bearer ${token}` },
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch (error) {
    throw new NetworkError(error && error.message ? error.message : "network error");
  }
}

// GET with the session's token; like session.authed: a token the authorizer refuses is
// refreshed once and the request retried once; the API saying the session is over ends it.
async function authedDownload(url) {
  const token = currentToken();
  if (!token) throw refusal();
  let response = await send(url, token);
  if (response.status === 401) {
    const error = new ApiError(401, await readBody(response));
    if (error.sessionEnded) {
      if (currentToken() === token) endSession(SESSION_ENDED);
      throw error;
    }
    if (currentToken() === token && !(await refreshSession())) throw error;
    const fresh = currentToken();
    if (!fresh) throw error;
    response = await send(url, fresh);
    if (response.status === 401) {
      const retryError = new ApiError(401, await readBody(response));
      if (currentToken() === fresh) endSession(SESSION_ENDED);
      throw retryError;
    }
  }
  if (!response.ok) throw new ApiError(response.status, await readBody(response));
  return response;
}

// `attachment; filename="x.csv"` (or RFC 5987's filename*=UTF-8''x.csv) -> a safe file name.
export function filenameFrom(header, fallback) {
  let name = "";
  const text = String(header || "");
  const extended = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(text);
  if (extended) {
    try {
      name = decodeURIComponent(extended[1].trim());
    } catch {
      name = "";
    }
  }
  if (!name) {
    const plain = /filename\s*=\s*("((?:[^"\\]|\\.)*)"|[^;]+)/.exec(text);
    if (plain) name = plain[2] !== undefined ? plain[2].replace(/\\(.)/g, "$1") : plain[1].trim();
  }
  name = name.replace(/[\u0000-\u001f\u007f"*/:<>?\\|]+/g, "_").replace(/^\.+/, "").trim();
  return name && name.length <= 200 ? name : fallback;
}

function clickLink(href, filename) {
  const link = el("a", { attrs: { href, rel: "noopener noreferrer" } });
  if (filename) link.download = filename;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
}

// Fetches an export and hands it to the browser's downloads. Resolves to
// { kind: "file", filename, bytes } or { kind: "link", rows, expires_at }.
async function downloadExport(url, fallbackName) {
  const response = await authedDownload(url);
  const type = (response.headers.get("content-type") || "").toLowerCase();
  if (type.includes("application/json")) {
    const data = await readBody(response);
    const link = data && typeof data.url === "string" ? data.url : "";
    if (!data || data.status !== "exported" || !/^https?:\/\//i.test(link)) {
      throw new Error("The server's answer was not an export");
    }
    clickLink(link, fallbackName); // a plain navigation: the link's own headers make it a download
    return { kind: "link", rows: data.rows, expires_at: data.expires_at };
  }
  let blob;
  try {
    blob = await response.blob();
  } catch (error) {
    throw new NetworkError(error && error.message ? error.message : "network error");
  }
  const filename = filenameFrom(response.headers.get("content-disposition"), fallbackName);
  const objectUrl = URL.createObjectURL(blob);
  clickLink(objectUrl, filename);
  setTimeout(() => URL.revokeObjectURL(objectUrl), 60000);
  return { kind: "file", filename, bytes: blob.size };
}

function problem(error) {
  if (error instanceof NetworkError) return "No answer from the server. Check your connection and try again.";
  if (error instanceof ApiError) {
    if (error.status === 403) return "Only admins can download payments.";
    if (error.status === 404) return "This event no longer exists. Refresh the events.";
    return error.message;
  }
  return String(error && error.message ? error.message : error);
}

function rowsText(rows) {
  return Number.isSafeInteger(rows) ? `${rows} payment${rows === 1 ? "" : "s"}` : "the payments";
}

// --- one event -----------------------------------------------------------------------------------

export async function downloadEventCsv(event, button) {
  if (button.dataset.busy === "true") return;
  button.dataset.busy = "true";
  button.disabled = true;
  const label = button.textContent;
  button.textContent = "Downloading…";
  try {
    const url = `api/g/${encodeURIComponent(event.event_id)}/payments.csv`;
    const result = await downloadExport(url, `${event.event_id}-payments.csv`);
    if (result.kind === "link") toast(`Export of ${rowsText(result.rows)} is ready; the download starts now.`);
    else toast(`Downloaded ${result.filename}`);
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) toast(`Could not download the payments: ${problem(error)}`, "warn");
  } finally {
    button.dataset.busy = "false";
    button.disabled = false;
    button.textContent = label;
  }
}

// --- a date range (every event) ------------------------------------------------------------------

function localDate(date = new Date()) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

function field(id, name, text) {
  const input = el("input", { attrs: { id, name, type: "date", required: "", "aria-describedby": `${id}-error` } });
  const error = el("p", { className: "field-error", attrs: { id: `${id}-error`, "data-field": name } });
  error.hidden = true;
  return { input, box: el("div", {}, [el("label", { text, attrs: { for: id } }), input, error]) };
}

// The "Export payments" panel, after "New event" (hidden until an admin signs in).
export function initExport() {
  const from = field("export-from", "from", "From");
  const to = field("export-to", "to", "To");
  const status = el("p", { className: "muted", attrs: { id: "export-status", "aria-live": "polite" } });
  const error = el("p", { className: "error", attrs: { id: "export-error", role: "alert" } });
  error.hidden = true;
  const submit = el("button", { text: "Download CSV", attrs: { id: "export-submit", type: "submit" } });
  const form = el("form", { attrs: { id: "export-form", novalidate: "" } }, [
    el("p", {
      className: "muted hint",
      text: "Every payment received on these days (UTC), from every event, voided ones included.",
    }),
    el("div", { className: "row" }, [from.box, to.box]),
    error,
    status,
    submit,
  ]);
  const panel = el("details", { className: "panel create-event export-payments", attrs: { id: "export-payments" } }, [
    el("summary", { text: "Export payments" }),
    form,
  ]);
  panel.hidden = true;
  panel.addEventListener("toggle", () => {
    if (!panel.open) return;
    const today = localDate();
    if (!to.input.value) to.input.value = today;
    if (!from.input.value) from.input.value = `${today.slice(0, 8)}01`;
  });
  $("create-event").after(panel);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (submit.disabled) return;
    clearFieldErrors(form);
    showError(error, "");
    status.textContent = "";
    const fields = {};
    const range = { from: from.input.value, to: to.input.value };
    for (const name of ["from", "to"]) {
      if (!DAY.test(range[name])) fields[name] = "must be a date";
    }
    if (!Object.keys(fields).length && range.from > range.to) fields.to = "must be on or after “From”";
    if (Object.keys(fields).length) {
      showFieldErrors(form, fields);
      return;
    }
    submit.disabled = true;
    status.textContent = "Preparing the export…";
    try {
      const query = new URLSearchParams(range).toString();
      const result = await downloadExport(`api/payments.csv?${query}`, `payments-${range.from}-to-${range.to}.csv`);
      status.textContent =
        result.kind === "link"
          ? `Export of ${rowsText(result.rows)} is ready; the download starts now (the link is valid for a short while).`
          : `Downloaded ${result.filename}.`;
    } catch (failure) {
      status.textContent = "";
      if (failure instanceof ApiError && failure.status === 400) {
        const unplaced = showFieldErrors(form, failure.fields);
        showError(error, unplaced.length ? unplaced.join("; ") : failure.message);
      } else if (!(failure instanceof ApiError && failure.status === 401)) {
        showError(error, `Could not export the payments: ${problem(failure)}`);
      }
    } finally {
      submit.disabled = false;
    }
  });
}

export function showExport(visible) {
  const panel = $("export-payments");
  if (panel) show(panel, visible);
}
