// Registers the service worker (sw.js: the app shell, precached per version, so the app opens
// without a connection) and moves this page to a new version once it is installed whole.
//
// A new version installs its whole precache first and then waits. This page switches to it
// only as a whole: it asks the waiting worker to take over, then reloads, so HTML and modules
// always come from one version. That happens at once when no dialog is open; otherwise a
// banner offers it (a reload must not throw away what someone is typing). A page another tab
// moved to the new version reloads too, unless a dialog is open there (then the banner).

const banner = { node: null };
let hadController = false;
let asked = false;
let reloading = false;

function busy() {
  return document.querySelector("dialog[open]") !== null;
}

function reload() {
  if (reloading) return;
  reloading = true;
  location.reload();
}

function showBanner(text, action, onAction) {
  if (!banner.node) {
    banner.node = document.createElement("div");
    banner.node.className = "update-banner";
    banner.node.setAttribute("role", "status");
    document.body.append(banner.node);
  }
  const message = document.createElement("span");
  message.textContent = text;
  const button = document.createElement("button");
  button.type = "button";
  button.className = "secondary small";
  button.textContent = action;
  button.addEventListener("click", onAction);
  banner.node.replaceChildren(message, button);
  banner.node.hidden = false;
}

function activate(worker) {
  asked = true;
  worker.postMessage({ type: "SKIP_WAITING" });
}

function offer(worker) {
  if (!busy()) {
    activate(worker);
    return;
  }
  showBanner("A new version of SCC Payments is ready.", "Update now", () => activate(worker));
}

function watch(registration) {
  if (registration.waiting && hadController) offer(registration.waiting);
  registration.addEventListener("updatefound", () => {
    const worker = registration.installing;
    if (!worker) return;
    document.documentElement.dataset.shellUpdate = "installing";
    worker.addEventListener("statechange", () => {
      // "redundant" before "installed": its precache could not be filled; the old one stays.
      document.documentElement.dataset.shellUpdate = worker.state === "redundant" ? "failed" : worker.state;
      // Installed (its precache complete) while an older version controls this page.
      if (worker.state === "installed" && navigator.serviceWorker.controller) offer(worker);
    });
  });
}

// Which version's cache this page came from, on <html data-shell-version> (for people and tests).
function askVersion() {
  const controller = navigator.serviceWorker.controller;
  if (controller) controller.postMessage({ type: "VERSION" });
}

async function register() {
  if (!("serviceWorker" in navigator)) return;
  hadController = Boolean(navigator.serviceWorker.controller);
  navigator.serviceWorker.addEventListener("message", (event) => {
    if (event.data && event.data.type === "VERSION" && typeof event.data.version === "string") {
      document.documentElement.dataset.shellVersion = event.data.version;
    }
  });
  askVersion();
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    // The first install claims the page: it already runs what that version holds.
    if (!hadController) {
      hadController = true;
      askVersion();
      return;
    }
    if (asked || !busy()) reload();
    else showBanner("SCC Payments was updated in another tab.", "Reload", reload);
  });
  try {
    const registration = await navigator.serviceWorker.register("sw.js", { updateViaCache: "none" });
    watch(registration);
  } catch (error) {
    // No service worker (private mode, blocked): the app works, just not offline.
    console.warn("service worker not registered:", error && error.message);
  }
}

register();
