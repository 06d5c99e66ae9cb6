// SCC Payments: sign in, then list events. Every piece of server data reaches the page through
// textContent and createElement, never parsed as markup, so a name can never become HTML.

const SESSION_KEY = "scc.session";

const $ = (id) => document.getElementById(id);

// --- session (sessionStorage: gone when the tab closes) ---------------------------------------

function loadSession() {
  try {
    const session = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
    if (!session || typeof session.token !== "string") return null;
    if (session.expiresAt && Date.parse(session.expiresAt) <= Date.now()) {
      clearSession();
      return null;
    }
    return session;
  } catch {
    return null;
  }
}

function saveSession(session) {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
}

function clearSession() {
  sessionStorage.removeItem(SESSION_KEY);
}

// --- API ---------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error && body.error.message) || `Request failed (${status})`);
    this.status = status;
    this.body = body;
  }
}

async function api(path, { method = "GET", body, token } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  let data = null;
  const text = await response.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// --- formatting --------------------------------------------------------------------------------

// Integer cents to "1,234.50": integer arithmetic only, so no float ever touches money.
function formatCents(cents, currency) {
  if (!Number.isInteger(cents)) return "";
  const sign = cents < 0 ? "-" : "";
  const absolute = Math.abs(cents);
  const whole = Math.trunc(absolute / 100).toLocaleString("en-US");
  const fraction = String(absolute % 100).padStart(2, "0");
  return `${sign}${currency || ""} ${whole}.${fraction}`.trim();
}

function formatDate(isoDate) {
  // Dates are calendar dates (YYYY-MM-DD): format them in UTC so no time zone shifts the day.
  const parsed = new Date(`${isoDate}T00:00:00Z`);
  if (Number.isNaN(parsed.getTime())) return String(isoDate || "");
  return parsed.toLocaleDateString(undefined, {
    timeZone: "UTC",
    weekday: "short",
    year: "numeric",
    month: "short",
    day: "numeric",
  });
}

// --- views -------------------------------------------------------------------------------------

function show(element, visible) {
  element.hidden = !visible;
}

function showError(element, message) {
  element.textContent = message || "";
  show(element, Boolean(message));
}

function showSignIn(message) {
  show($("session"), false);
  show($("events"), false);
  show($("sign-in"), true);
  showError($("sign-in-error"), message);
  $("event-list").replaceChildren();
  $("email").focus();
}

function showEvents(session) {
  show($("sign-in"), false);
  show($("session"), true);
  show($("events"), true);
  $("session-email").textContent = session.email || "";
  loadEvents(session);
}

function eventItem(event) {
  const item = document.createElement("li");
  item.className = "event";

  const name = document.createElement("h3");
  name.textContent = event.event_name || event.event_id || "";
  item.append(name);

  const details = document.createElement("p");
  details.className = "muted";
  details.textContent = [formatDate(event.date), event.location].filter(Boolean).join(" · ");
  item.append(details);

  const summary = event.summary;
  if (summary && Number.isInteger(summary.net_cents)) {
    const net = document.createElement("p");
    net.className = "net";
    net.textContent = `Collected ${formatCents(summary.net_cents, event.currency)}`;
    if (Number.isInteger(summary.payment_count)) {
      net.textContent += ` (${summary.payment_count} payment${summary.payment_count === 1 ? "" : "s"})`;
    }
    item.append(net);
  }
  return item;
}

async function loadEvents(session) {
  const status = $("events-status");
  const list = $("event-list");
  showError($("events-error"), "");
  status.textContent = "Loading events…";
  try {
    const data = await api("/api/events", { token: session.token });
    const events = Array.isArray(data && data.events) ? data.events : [];
    list.replaceChildren(...events.map(eventItem));
    status.textContent = events.length ? "" : "No events yet.";
  } catch (error) {
    status.textContent = "";
    if (error instanceof ApiError && error.status === 401) {
      clearSession();
      showSignIn("Your session has expired. Please sign in again.");
      return;
    }
    showError($("events-error"), "Could not load the events. Check your connection and try again.");
  }
}

async function signIn(event) {
  event.preventDefault();
  const email = $("email").value.trim();
  const password = $("password").value;
  if (!email || !password) {
    showError($("sign-in-error"), "Enter your e-mail and password.");
    return;
  }
  const submit = $("sign-in-submit");
  submit.disabled = true;
  showError($("sign-in-error"), "");
  try {
    const data = await api("/api/auth/login", { method: "POST", body: { email, password } });
    const session = { token: data.token, expiresAt: data.expires_at, email };
    saveSession(session);
    $("password").value = "";
    showEvents(session);
  } catch (error) {
    let message = "Sign-in failed. Please try again.";
    if (error instanceof ApiError && error.status === 401) message = "Wrong e-mail or password.";
    if (error instanceof ApiError && error.status === 429) {
      message = "Too many attempts. Wait a few minutes, then try again.";
    }
    showError($("sign-in-error"), message);
  } finally {
    submit.disabled = false;
  }
}

function signOut() {
  clearSession();
  $("password").value = "";
  showSignIn("");
}

function start() {
  $("sign-in-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", signOut);
  $("refresh").addEventListener("click", () => {
    const session = loadSession();
    if (session) loadEvents(session);
    else showSignIn("Your session has expired. Please sign in again.");
  });
  const session = loadSession();
  if (session) showEvents(session);
  else showSignIn("");
}

start();
