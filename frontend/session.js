// The signed-in session: Cognito's ID token (sent as the bearer token), when it expires, the
// refresh token and who is signed in. It lives in sessionStorage (gone with the tab).
//
// Tokens are short-lived (15 minutes by default), so a timer refreshes the session a minute
// before it expires. A request the API Gateway authorizer refuses (a 401 without our error
// envelope: expired or not valid) is refreshed once and retried once. When the refresh is
// refused, or the API itself says the session has ended (a 401 in our envelope: the person was
// disabled or their role changed), the app goes back to sign-in.

import { ApiError, NetworkError, api } from "./api.js";

const SESSION_KEY = "scc.session";
export const REFRESH_AHEAD_MS = 60_000; // refresh this long before the token expires
const RETRY_REFRESH_MS = 15_000; // after a refresh that got no answer
const MAX_TIMER_MS = 2 ** 31 - 1;
export const SESSION_ENDED = "Your session has ended. Please sign in again.";

let session = null; // { sid, token, expires_at, refresh_token, user }
let refreshTimer = 0;
let refreshing = null; // the refresh in flight, shared by everyone who needs it
const listeners = { ended: [], changed: [] };

export function onSessionEnded(listener) {
  listeners.ended.push(listener);
}

export function onSessionChanged(listener) {
  listeners.changed.push(listener);
}

export function currentUser() {
  return session ? session.user : null;
}

export function signedIn() {
  return session !== null;
}

export function isAdmin() {
  return Boolean(session && session.user && session.user.role === "admin");
}

// The current ID token, for the one kind of request `authed` cannot make: a download read as a
// Blob (export.js), which refreshes and retries on its own like `authed`.
export function currentToken() {
  return session ? session.token : null;
}

function normalUser(user, fallbackEmail = "") {
  const u = user && typeof user === "object" ? user : {};
  const role = u.role === "admin" || u.role === "crew" ? u.role : null;
  return {
    person_id: typeof u.person_id === "string" ? u.person_id : "",
    email: typeof u.email === "string" && u.email ? u.email : fallbackEmail,
    name: typeof u.name === "string" ? u.name : "",
    role,
  };
}

// When the token expires on this device's clock: from `expires_in` (seconds from now) when the
// server gives it, so a device clock that is off does not matter; else `expires_at`.
function localExpiry(data) {
  const seconds = Number(data.expires_in);
  if (Number.isFinite(seconds) && seconds > 0) return new Date(Date.now() + seconds * 1000).toISOString();
  const at = Date.parse(data.expires_at);
  return Number.isFinite(at) ? new Date(at).toISOString() : null;
}

function save() {
  if (session) sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  else sessionStorage.removeItem(SESSION_KEY);
}

function notifyChanged() {
  for (const listener of listeners.changed) listener(session ? session.user : null);
}

function schedule() {
  clearTimeout(refreshTimer);
  if (!session || !session.refresh_token) return;
  const expires = Date.parse(session.expires_at);
  if (!Number.isFinite(expires)) return;
  const wait = Math.min(Math.max(0, expires - REFRESH_AHEAD_MS - Date.now()), MAX_TIMER_MS);
  refreshTimer = setTimeout(timedRefresh, wait);
}

async function timedRefresh() {
  try {
    await refreshSession();
  } catch {
    // No answer (offline): try again soon; a request meanwhile refreshes on its own 401.
    if (session) {
      clearTimeout(refreshTimer);
      refreshTimer = setTimeout(timedRefresh, RETRY_REFRESH_MS);
    }
  }
}

// A successful sign-in (or challenge) answer starts a session.
export function beginSession(data, fallbackEmail = "") {
  session = {
    sid: crypto.getRandomValues(new Uint32Array(2)).join("-"),
    token: String(data.token),
    expires_at: localExpiry(data),
    refresh_token: typeof data.refresh_token === "string" ? data.refresh_token : "",
    user: normalUser(data.user, fallbackEmail),
  };
  save();
  schedule();
  notifyChanged();
}

// The session this tab had before a reload, if any. An expired token is refreshed first.
export async function resumeSession() {
  let stored = null;
  try {
    stored = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
  } catch {
    stored = null;
  }
  if (!stored || typeof stored.token !== "string" || typeof stored.sid !== "string") {
    sessionStorage.removeItem(SESSION_KEY);
    return false;
  }
  session = { ...stored, user: normalUser(stored.user) };
  const expires = Date.parse(session.expires_at);
  if (Number.isFinite(expires) && expires - REFRESH_AHEAD_MS <= Date.now()) {
    try {
      if (!(await refreshSession())) return false;
    } catch {
      // No answer: keep the stored session; the first request will refresh or end it.
    }
  }
  schedule();
  notifyChanged();
  return session !== null;
}

// New tokens for the refresh token. True when refreshed; false when the session is over (the
// app is then back at sign-in). Throws NetworkError when the refresh got no answer.
export function refreshSession() {
  if (!session) return Promise.resolve(false);
  if (refreshing) return refreshing;
  const sid = session.sid;
  const refreshToken = session.refresh_token;
  refreshing = (async () => {
    try {
      if (!refreshToken) {
        endSession(SESSION_ENDED);
        return false;
      }
      const { data } = await api("api/auth/refresh", {
        method: "POST",
        body: { refresh_token: refreshToken },
      });
      if (!session || session.sid !== sid) return false; // signed out meanwhile
      if (!data || data.status !== "signed_in" || typeof data.token !== "string") {
        endSession(SESSION_ENDED);
        return false;
      }
      const user = normalUser(data.user || session.user, session.user.email);
      const roleChanged = user.role !== session.user.role || user.name !== session.user.name;
      session = {
        ...session,
        token: data.token,
        expires_at: localExpiry(data),
        refresh_token: typeof data.refresh_token === "string" && data.refresh_token ? data.refresh_token : refreshToken,
        user,
      };
      save();
      schedule();
      if (roleChanged) notifyChanged();
      return true;
    } catch (error) {
      // Refused (revoked, expired, person disabled): the session is over. A throttled or
      // failed refresh (429, 5xx) is not an answer about the session: try again later.
      if (error instanceof ApiError && error.status >= 400 && error.status < 500 && error.status !== 429) {
        if (session && session.sid === sid) endSession(SESSION_ENDED);
        return false;
      }
      throw error instanceof NetworkError ? error : new NetworkError(error.message || "refresh failed");
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

// Ends the session (the listeners show sign-in with `message`). They get the session that
// ended, so they can keep an open dialog's entries for the same person.
export function endSession(message) {
  const ended = session;
  session = null;
  clearTimeout(refreshTimer);
  save();
  if (ended) for (const listener of listeners.ended) listener(message, ended);
}

// Sign out: the refresh token is revoked on the server (best effort: the session is gone from
// this tab whatever the answer).
export function signOut() {
  const ended = session;
  session = null;
  clearTimeout(refreshTimer);
  save();
  if (ended && ended.refresh_token) {
    api("api/auth/logout", { method: "POST", body: { refresh_token: ended.refresh_token } }).catch(() => {});
  }
}

function refusal() {
  return new ApiError(401, { error: { code: "unauthorized", message: SESSION_ENDED } });
}

// Every call that needs a signed-in person.
export async function authed(path, options = {}) {
  if (!session) throw refusal();
  const { sid, token } = session;
  try {
    return await api(path, { ...options, token });
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) throw error;
    if (!session || session.sid !== sid) throw error; // this sign-in is already over
    if (error.sessionEnded) {
      endSession(SESSION_ENDED);
      throw error;
    }
    // The authorizer refused the token: refresh (unless another call already did), retry once.
    if (session.token === token && !(await refreshSession())) throw error;
    if (!session || session.sid !== sid) throw error;
    try {
      return await api(path, { ...options, token: session.token });
    } catch (retryError) {
      if (retryError instanceof ApiError && retryError.status === 401 && session && session.sid === sid) {
        endSession(SESSION_ENDED);
      }
      throw retryError;
    }
  }
}

// After the tab sleeps timers fire late: refresh as soon as it is visible again if due.
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState !== "visible" || !session) return;
  const expires = Date.parse(session.expires_at);
  if (Number.isFinite(expires) && expires - REFRESH_AHEAD_MS <= Date.now()) timedRefresh();
});
