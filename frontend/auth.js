// The sign-in screen and its steps: e-mail and password; a new password at the first sign-in
// (NEW_PASSWORD_REQUIRED); a 6-digit code (SOFTWARE_TOKEN_MFA); and "Forgot password?" (an
// e-mailed code, then a new password). Server field errors land next to their fields.

import { ApiError, NetworkError, api } from "./api.js";
import { $, checkEmail, clearFieldErrors, show, showError, showFieldErrors } from "./dom.js";
import { beginSession } from "./session.js";

export const PASSWORD_MIN = 12;
const NO_ANSWER = "No answer from the server. Check your connection and try again.";

const STEPS = {
  "sign-in": { form: "sign-in-form", title: "Sign in", focus: "email" },
  "new-password": { form: "new-password-form", title: "Choose your password", focus: "new-password" },
  mfa: { form: "mfa-form", title: "Enter your sign-in code", focus: "mfa-code" },
  forgot: { form: "forgot-form", title: "Reset your password", focus: "forgot-email" },
  reset: { form: "reset-form", title: "Enter the code we e-mailed and a new password", focus: "reset-code" },
};

// The sign-in in progress: who, and Cognito's session for the challenge being answered.
const flow = { email: "", session: "", challenge: "", resetEmail: "" };
let signedInCallback = () => {};
let busy = false;

function setStep(step, { message = "", notice = "" } = {}) {
  const current = STEPS[step];
  for (const [name, info] of Object.entries(STEPS)) {
    const form = $(info.form);
    show(form, name === step);
    clearFieldErrors(form);
  }
  $("auth-title").textContent = current.title;
  // For password managers: whose new password this is.
  $("new-password-username").value = flow.email;
  $("reset-username").value = flow.resetEmail;
  showError($("sign-in-error"), message);
  showError($("auth-notice"), notice);
  const focus = $(current.focus);
  if (step === "sign-in" && $("email").value) $("password").focus();
  else focus.focus();
}

const SECRET_INPUTS = [
  "password",
  "new-password",
  "new-password-confirm",
  "mfa-code",
  "reset-code",
  "reset-password",
  "reset-password-confirm",
];

function forgetSecrets() {
  flow.session = "";
  flow.challenge = "";
  for (const id of SECRET_INPUTS) $(id).value = "";
}

// Shows the sign-in screen (the app hides everything else).
export function showAuth({ message = "", notice = "", email } = {}) {
  show($("sign-in"), true);
  forgetSecrets();
  if (email !== undefined) $("email").value = email;
  setStep("sign-in", { message, notice });
}

export function hideAuth() {
  show($("sign-in"), false);
  showError($("sign-in-error"), "");
  showError($("auth-notice"), "");
}

// Runs one request with the form's submit button disabled; one at a time.
async function submitting(form, work) {
  if (busy) return;
  busy = true;
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  showError($("sign-in-error"), "");
  try {
    await work();
  } finally {
    busy = false;
    button.disabled = false;
  }
}

// A 400's fields next to their inputs; whatever has no place goes in the alert line.
function showServerFields(form, error) {
  const unplaced = showFieldErrors(form, error.fields);
  if (unplaced.length || !Object.keys(error.fields).length) {
    showError($("sign-in-error"), unplaced.length ? unplaced.join("; ") : error.message);
  }
}

function otherError(error) {
  if (error instanceof NetworkError) return NO_ANSWER;
  if (error instanceof ApiError && error.status === 429) {
    return "Too many attempts. Wait a few minutes, then try again.";
  }
  return error instanceof ApiError ? error.message : NO_ANSWER;
}

// A sign-in answer: signed in, or the next challenge.
function signedInOrChallenge(data, email) {
  if (data && data.status === "signed_in" && typeof data.token === "string") {
    beginSession(data, email);
    forgetSecrets();
    hideAuth();
    signedInCallback();
    return;
  }
  if (data && data.status === "challenge") {
    flow.email = data.email || email;
    flow.session = data.session || "";
    flow.challenge = data.challenge || "";
    if (flow.challenge === "NEW_PASSWORD_REQUIRED") {
      setStep("new-password");
      return;
    }
    if (flow.challenge === "SOFTWARE_TOKEN_MFA") {
      setStep("mfa");
      return;
    }
  }
  setStep("sign-in", {
    message: "This account needs a sign-in step this app does not support. Ask an admin for help.",
  });
}

function checkNewPassword(password, confirm) {
  const fields = {};
  if (password.length < PASSWORD_MIN) fields.new_password = `must be at least ${PASSWORD_MIN} characters`;
  else if (password.trim() !== password) fields.new_password = "must not start or end with a space";
  if (!fields.new_password && confirm !== password) fields.confirm = "does not match the new password";
  return fields;
}

async function signIn(event) {
  event.preventDefault();
  const form = $("sign-in-form");
  clearFieldErrors(form);
  showError($("auth-notice"), "");
  const email = $("email").value.trim();
  const password = $("password").value;
  const fields = {};
  const emailProblem = checkEmail(email);
  if (emailProblem) fields.email = emailProblem;
  if (!password) fields.password = "is required";
  if (Object.keys(fields).length) {
    showFieldErrors(form, fields);
    return;
  }
  await submitting(form, async () => {
    try {
      const { data } = await api("api/auth/login", { method: "POST", body: { email, password } });
      $("password").value = "";
      signedInOrChallenge(data, email);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        showError($("sign-in-error"), "Wrong e-mail or password.");
        $("password").focus();
      } else if (error instanceof ApiError && error.status === 400) {
        showServerFields(form, error);
      } else {
        showError($("sign-in-error"), otherError(error));
      }
    }
  });
}

// The challenge answers share their error handling: 401 means Cognito's session ran out.
async function answerChallenge(form, answer) {
  await submitting(form, async () => {
    try {
      const { data } = await api("api/auth/challenge", {
        method: "POST",
        body: { email: flow.email, session: flow.session, challenge: flow.challenge, ...answer },
      });
      signedInOrChallenge(data, flow.email);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        showAuth({
          email: flow.email,
          message: "That took too long, so the sign-in has expired. Please sign in again.",
        });
      } else if (error instanceof ApiError && error.status === 400) {
        showServerFields(form, error);
      } else {
        showError($("sign-in-error"), otherError(error));
      }
    }
  });
}

async function chooseNewPassword(event) {
  event.preventDefault();
  const form = $("new-password-form");
  clearFieldErrors(form);
  const password = $("new-password").value;
  const fields = checkNewPassword(password, $("new-password-confirm").value);
  if (Object.keys(fields).length) {
    showFieldErrors(form, fields);
    return;
  }
  await answerChallenge(form, { new_password: password });
}

async function enterMfaCode(event) {
  event.preventDefault();
  const form = $("mfa-form");
  clearFieldErrors(form);
  const code = $("mfa-code").value.replace(/\s+/g, "");
  if (!/^[0-9]{6}$/.test(code)) {
    showFieldErrors(form, { code: "must be the 6 digits from your authenticator app" });
    return;
  }
  await answerChallenge(form, { code });
}

function startForgot() {
  $("forgot-email").value = $("email").value.trim();
  setStep("forgot");
}

async function requestCode(email) {
  const { data } = await api("api/auth/forgot", { method: "POST", body: { email } });
  flow.resetEmail = email;
  const where = data && typeof data.delivery === "string" && data.delivery ? data.delivery : email;
  $("reset-sent").textContent = `If ${email} has an account, we sent a code to ${where}. It is valid for one hour.`;
}

async function forgot(event) {
  event.preventDefault();
  const form = $("forgot-form");
  clearFieldErrors(form);
  const email = $("forgot-email").value.trim();
  const problem = checkEmail(email);
  if (problem) {
    showFieldErrors(form, { email: problem });
    return;
  }
  await submitting(form, async () => {
    try {
      await requestCode(email);
      setStep("reset");
    } catch (error) {
      if (error instanceof ApiError && error.status === 400) showServerFields(form, error);
      else showError($("sign-in-error"), otherError(error));
    }
  });
}

async function resendCode() {
  const form = $("reset-form");
  await submitting(form, async () => {
    try {
      await requestCode(flow.resetEmail);
      showError($("auth-notice"), "We sent a new code. Use the newest one.");
    } catch (error) {
      showError($("sign-in-error"), otherError(error));
    }
  });
}

async function resetPassword(event) {
  event.preventDefault();
  const form = $("reset-form");
  clearFieldErrors(form);
  showError($("auth-notice"), "");
  const code = $("reset-code").value.trim();
  const password = $("reset-password").value;
  const fields = {};
  if (!code) fields.code = "is required";
  else if (!/^[0-9A-Za-z-]{1,64}$/.test(code)) fields.code = "must be the code from the e-mail";
  Object.assign(fields, checkNewPassword(password, $("reset-password-confirm").value));
  if (Object.keys(fields).length) {
    showFieldErrors(form, fields);
    return;
  }
  await submitting(form, async () => {
    try {
      await api("api/auth/reset", {
        method: "POST",
        body: { email: flow.resetEmail, code, new_password: password },
      });
      showAuth({
        email: flow.resetEmail,
        notice: "Your password has been changed. Sign in with your new password.",
      });
    } catch (error) {
      if (error instanceof ApiError && error.status === 400) showServerFields(form, error);
      else showError($("sign-in-error"), otherError(error));
    }
  });
}

export function initAuth({ signedIn }) {
  signedInCallback = signedIn;
  $("sign-in-form").addEventListener("submit", signIn);
  $("new-password-form").addEventListener("submit", chooseNewPassword);
  $("mfa-form").addEventListener("submit", enterMfaCode);
  $("forgot-start").addEventListener("click", startForgot);
  $("forgot-form").addEventListener("submit", forgot);
  $("reset-form").addEventListener("submit", resetPassword);
  $("reset-resend").addEventListener("click", resendCode);
  for (const button of document.querySelectorAll('[data-action="back-to-sign-in"]')) {
    button.addEventListener("click", () => showAuth({ email: flow.email || flow.resetEmail || $("email").value }));
  }
}
