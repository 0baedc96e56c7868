// Browser sign-in: the sign-in form (when some user of the service has a password), the session's CSRF token
// for api.js, and sign-out. The session itself is an HttpOnly cookie the page never sees.
"use strict";

import * as api from "./api.js";
import { $ } from "./dom.js";

/** Shows "Sign in with SSO" in the sign-in and key prompts when the service has an OpenID Connect provider. */
async function offerSso() {
  const answer = await fetch("/auth/oidc", { headers: { Accept: "application/json" } })
    .then((response) => (response.ok ? response.json() : null))
    .catch(() => null);
  document.querySelectorAll(".sso-signin").forEach((link) => { link.hidden = !(answer && answer.enabled); });
}

/** Asks who is signed in: { session, offered } (offered: the service takes passwords). Keeps the CSRF token. */
export async function probe() {
  offerSso();
  let response;
  try {
    response = await fetch("/auth/session", { headers: { Accept: "application/json" }, credentials: "same-origin" });
  } catch (error) {
    return { session: null, offered: false };
  }
  if (response.ok) {
    const session = (await response.json()).data;
    api.setCsrfToken(session.csrf_token);
    return { session, offered: true };
  }
  api.setCsrfToken(null);
  return { session: null, offered: response.headers.get("X-Sign-In") === "password" };
}

async function signIn(username, password) {
  const response = await fetch("/auth/signin", {
    method: "POST",
    headers: { Accept: "application/json", "Content-Type": "application/json" },
    credentials: "same-origin",
    body: JSON.stringify({ username, password }),
  });
  const payload = await response.json().catch(() => null);
  if (response.ok && payload && payload.success) return payload.data;
  if (response.status === 429) {
    const wait = Number(response.headers.get("Retry-After")) || 0;
    const minutes = Math.max(1, Math.ceil(wait / 60));
    throw new Error(`Too many failed sign-ins: signing in is locked for about ${minutes} min.`);
  }
  throw new Error((payload && payload.error) || `${response.status} ${response.statusText}`);
}

/** Shows the sign-in form: answers api.SIGNED_IN, "key" (the person chose an API key instead) or null. */
export function prompt(reason) {
  const dialog = $("signin-dialog");
  const form = $("signin-form");
  $("signin-reason").textContent = reason || "";
  $("signin-error").hidden = true;
  $("signin-password").value = "";
  return new Promise((resolve) => {
    const done = (outcome) => {
      form.removeEventListener("submit", submit);
      $("signin-use-key").removeEventListener("click", useKey);
      $("signin-cancel").removeEventListener("click", cancel);
      dialog.removeEventListener("cancel", cancel);
      dialog.close();
      resolve(outcome);
    };
    const submit = async (event) => {
      event.preventDefault();
      $("signin-ok").disabled = true;
      try {
        const session = await signIn($("signin-username").value.trim(), $("signin-password").value);
        api.setCsrfToken(session.csrf_token);
        done(api.SIGNED_IN);
      } catch (error) {
        $("signin-error").textContent = error.message;
        $("signin-error").hidden = false;
      } finally {
        $("signin-password").value = "";
        $("signin-ok").disabled = false;
      }
    };
    const useKey = () => done("key");
    const cancel = (event) => { event.preventDefault(); done(null); };
    form.addEventListener("submit", submit);
    $("signin-use-key").addEventListener("click", useKey);
    $("signin-cancel").addEventListener("click", cancel);
    dialog.addEventListener("cancel", cancel);
    dialog.showModal();
    ($("signin-username").value ? $("signin-password") : $("signin-username")).focus();
  });
}

/** Ends the session on the server (the cookie is cleared by its answer). */
export async function signOut() {
  const token = api.csrfTokenForSignOut();
  api.setCsrfToken(null);
  await fetch("/auth/signout", {
    method: "POST",
    headers: { Accept: "application/json", ...(token ? { "X-CSRF-Token": token } : {}) },
    credentials: "same-origin",
  }).catch(() => null);
}
