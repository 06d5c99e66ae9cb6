// The outbox: payments logged while the API could not be reached, kept in IndexedDB (idb.js)
// until the server has them. One record per payment, keyed by its payment_id:
//
//   { payment_id, event_id, event_name, currency,
//     body,            // the request body exactly as it was first sent (amount as a decimal
//                      // string): replayed byte for byte, so the server sees the same payment
//                      // (same payment_id + same body = an idempotent replay, never a second one)
//     amount_cents,    // integer cents, for the pending totals
//     owner: { person_id, email },   // who logged it: only they ever send it
//     created_at, seq, // when it was saved; replay order (oldest first)
//     status,          // "waiting" (to be sent) or "refused" (the server said no: edit or discard)
//     attempts, last_attempt_at, last_error: { status, code, message, fields } | null }
//
// The same database keeps the last list of events each person saw (`meta` store), so the app
// can show the events, and log payments against them, when it is opened without a connection.
//
// Every tab keeps a copy of the outbox in memory (`entries()`), reloaded when another tab
// changes it (BroadcastChannel); changes are announced to `onOutboxChanged` listeners.

import { openDB } from "./idb.js";

const DB_NAME = "scc-payments";
const DB_VERSION = 1;
const OUTBOX = "outbox";
const META = "meta";
const CHANNEL = "scc-outbox";

export const WAITING = "waiting";
export const REFUSED = "refused";

let opening = null;
let memory = new Map(); // payment_id -> entry
let loaded = false;
let seqCounter = 0;
const listeners = [];
const channel = typeof BroadcastChannel === "function" ? new BroadcastChannel(CHANNEL) : null;
let reloadTimer = 0;

function database() {
  if (!opening) {
    opening = openDB(DB_NAME, DB_VERSION, {
      upgrade(db) {
        if (!db.objectStoreNames.contains(OUTBOX)) db.createObjectStore(OUTBOX, { keyPath: "payment_id" });
        if (!db.objectStoreNames.contains(META)) db.createObjectStore(META, { keyPath: "key" });
      },
    }).catch((error) => {
      opening = null;
      throw error;
    });
  }
  return opening.then((db) => {
    if (!db.closed) return db;
    opening = null; // closed for a newer version in another tab: open again
    return database();
  });
}

export function ownerKey(user) {
  if (!user) return "";
  return user.person_id || String(user.email || "").toLowerCase();
}

export function ownedBy(entry, user) {
  if (!entry || !entry.owner || !user) return false;
  if (entry.owner.person_id && user.person_id) return entry.owner.person_id === user.person_id;
  const email = String(user.email || "").toLowerCase();
  return Boolean(email) && String(entry.owner.email || "").toLowerCase() === email;
}

// Oldest first: the order they were saved in (seq), then their time-ordered UUIDv7.
function byAge(a, b) {
  if (a.seq !== b.seq) return a.seq < b.seq ? -1 : 1;
  return a.payment_id < b.payment_id ? -1 : a.payment_id > b.payment_id ? 1 : 0;
}

export function nextSeq() {
  seqCounter = (seqCounter + 1) % 1000;
  return Date.now() * 1000 + seqCounter;
}

export function onOutboxChanged(listener) {
  listeners.push(listener);
}

function announce({ remote = false } = {}) {
  if (!remote && channel) channel.postMessage({ type: "changed" });
  for (const listener of listeners) {
    try {
      listener({ remote });
    } catch (error) {
      console.error(error);
    }
  }
}

// (Re)reads the outbox from IndexedDB into memory.
export async function load() {
  const db = await database();
  const all = await db.getAll(OUTBOX);
  memory = new Map(all.map((entry) => [entry.payment_id, entry]));
  loaded = true;
  return entries();
}

export function isLoaded() {
  return loaded;
}

// Every entry, oldest first (the in-memory copy).
export function entries() {
  return [...memory.values()].sort(byAge);
}

export function forEvent(eventId) {
  return entries().filter((entry) => entry.event_id === eventId);
}

// The entry as it is on disk now (another tab may have sent or changed it).
export async function fresh(paymentId) {
  const db = await database();
  const entry = await db.get(OUTBOX, paymentId);
  if (entry) memory.set(paymentId, entry);
  else memory.delete(paymentId);
  return entry;
}

export async function add(entry) {
  const db = await database();
  await db.put(OUTBOX, entry);
  memory.set(entry.payment_id, entry);
  announce();
  return entry;
}

export async function remove(paymentId) {
  const db = await database();
  await db.delete(OUTBOX, paymentId);
  memory.delete(paymentId);
  announce();
}

// Records the outcome of an attempt on the entry as it is stored, if it is still there with
// the same body (never brings back an entry another tab sent or discarded meanwhile).
export async function recordAttempt(entry, { status, error }) {
  const db = await database();
  const bodyText = JSON.stringify(entry.body);
  const stored = await db.update(OUTBOX, entry.payment_id, (current) => {
    if (!current || JSON.stringify(current.body) !== bodyText) return undefined;
    return {
      ...current,
      status,
      attempts: (current.attempts || 0) + 1,
      last_attempt_at: new Date().toISOString(),
      last_error: error,
    };
  });
  if (stored) memory.set(stored.payment_id, stored);
  announce();
  return stored;
}

// Called from the announcements of other tabs: reload (coalesced) and tell the listeners.
function remoteChanged() {
  if (reloadTimer) return; // one reload already on its way picks this change up too
  reloadTimer = setTimeout(async () => {
    reloadTimer = 0;
    try {
      await load();
      announce({ remote: true });
    } catch (error) {
      console.error(error);
    }
  }, 50);
}

if (channel) {
  channel.addEventListener("message", (event) => {
    if (event.data && event.data.type === "changed") remoteChanged();
  });
}

// --- the events each person last saw (to open the app offline) ---------------------------------

export async function rememberEvents(user, events) {
  const key = ownerKey(user);
  if (!key) return;
  const db = await database();
  await db.put(META, { key: `events:${key}`, events, saved_at: new Date().toISOString() });
}

export async function savedEvents(user) {
  const key = ownerKey(user);
  if (!key) return null;
  const db = await database();
  const record = await db.get(META, `events:${key}`);
  return record && Array.isArray(record.events) ? record : null;
}

export async function forgetEvents(user) {
  const key = ownerKey(user);
  if (!key) return;
  const db = await database();
  await db.delete(META, `events:${key}`);
}
