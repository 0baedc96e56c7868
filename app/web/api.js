// The API client of the page: JSON envelopes in, data or an ApiError out. The API key (when the service
// has keys) is asked for once, kept in sessionStorage for this tab and sent as a Bearer token. A person
// signed in (signin.js) has an HttpOnly session cookie instead, which the browser sends by itself; the page
// adds the session's CSRF token to every request that changes something.
"use strict";

const API = "/api/v1";
const KEY_STORAGE = "newremora.apiKey";

export class ApiError extends Error {
  constructor(status, message, retryAfter = null) {
    super(message);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

export const apiKey = {
  get: () => sessionStorage.getItem(KEY_STORAGE),
  set: (key) => sessionStorage.setItem(KEY_STORAGE, key),
  clear: () => sessionStorage.removeItem(KEY_STORAGE),
};

// Set by the page: async (reason) => a key, or null when the user gives up.
let keyPrompt = null;
let pendingPrompt = null;
// Once the user dismissed the prompt, refreshes that meet a 401 fail quietly instead of asking again
// every few seconds; the page offers a button that asks (enterKey).
let declined = false;
const keyListeners = new Set();

export function setKeyPrompt(prompt) {
  keyPrompt = prompt;
}

export function onKeyChange(listener) {
  keyListeners.add(listener);
}

export function forgetKey() {
  apiKey.clear();
  declined = false;
  keyListeners.forEach((listener) => listener());
}

export const keyDeclined = () => declined;

// The CSRF token of the browser session (GET /auth/session), in memory only; null when not signed in.
let csrfToken = null;
const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);
/** What the credentials prompt answers when the person signed in (the cookie is set; no key to keep). */
export const SIGNED_IN = "signed-in";

export function setCsrfToken(token) {
  csrfToken = token || null;
}

export const signedIn = () => Boolean(csrfToken) && !apiKey.get();
export const csrfTokenForSignOut = () => csrfToken;

/** Uses this key from now on (a key the page itself just made, while the API was still open). */
export function useKey(key) {
  apiKey.set(key);
  declined = false;
  keyListeners.forEach((listener) => listener());
}

/** Asks for a key now (the page's "Enter API key" button); true when one was given. */
export async function enterKey() {
  declined = false;
  return Boolean(await askForKey("Enter an API key."));
}

// Requests that meet a 401 together wait for one prompt, then all retry with the key it gave.
function askForKey(reason) {
  if (!pendingPrompt) {
    pendingPrompt = (keyPrompt ? keyPrompt(reason) : Promise.resolve(null)).then((key) => {
      // Declining after a 401 also drops the key that met it: it was refused. Signing in keeps no key.
      if (key && key !== SIGNED_IN) apiKey.set(key);
      else apiKey.clear();
      declined = !key;
      keyListeners.forEach((listener) => listener());
      return key;
    }).finally(() => { pendingPrompt = null; });
  }
  return pendingPrompt;
}

function url(path, query) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") params.set(name, String(value));
  }
  const search = params.toString();
  return `${API}${path}${search ? `?${search}` : ""}`;
}

function headers(extra = {}) {
  const key = apiKey.get();
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

/** Sends a request; answers the envelope's data, or throws ApiError with the envelope's message. */
export async function request(method, path, { query, body } = {}) {
  for (;;) {
    const sentKey = apiKey.get();
    const sentCsrf = csrfToken;
    const init = { method, headers: headers({ Accept: "application/json" }), credentials: "same-origin" };
    if (!sentKey && csrfToken && UNSAFE.has(method)) init.headers["X-CSRF-Token"] = csrfToken;
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url(path, query), init);
    } catch (error) {
      throw new ApiError(0, "The service cannot be reached (network error)");
    }
    if (response.status === 401) {
      // A 401 changed nothing on the server, so the request is safe to send again with a key.
      if (!sentKey && sentCsrf && csrfToken === sentCsrf) csrfToken = null;  // the session ended or expired
      const reason = sentKey
        ? "The API key was refused (revoked or mistyped)."
        : sentCsrf ? "Your session has ended: sign in again." : "This service requires you to sign in or an API key.";
      if (apiKey.get() === sentKey && csrfToken === null && (declined || !(await askForKey(reason)))) {
        throw new ApiError(401, "An API key is required");
      }
      continue;
    }
    const payload = await response.json().catch(() => null);
    if (!response.ok || !payload || payload.success !== true) {
      const retryAfter = Number(response.headers.get("Retry-After")) || null;
      const message = (payload && payload.error) || `${response.status} ${response.statusText}`;
      throw new ApiError(response.status, message, retryAfter);
    }
    return payload.data;
  }
}

export const get = (path, query) => request("GET", path, { query });
export const post = (path, body, query) => request("POST", path, { body, query });
export const put = (path, body) => request("PUT", path, { body });
export const del = (path, query) => request("DELETE", path, { query });

/** The job's event stream. EventSource cannot send headers: the key travels as ?access_token=. */
export function streamUrl(jobId, lastSeq) {
  return url(`/jobs/${encodeURIComponent(jobId)}/stream`, {
    access_token: apiKey.get(),
    last_event_id: lastSeq > 0 ? lastSeq : null,
  });
}

/** A text endpoint (/logs, /stdout, /stderr) as a Blob, with the key. */
export async function text(path) {
  const response = await fetch(url(path), { headers: headers(), credentials: "same-origin" });
  if (!response.ok) {
    const payload = await response.json().catch(() => null);
    throw new ApiError(response.status, (payload && payload.error) || response.statusText);
  }
  return response.blob();
}
