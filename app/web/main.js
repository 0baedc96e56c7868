// The page's entry point: hash routing between the views, and the sign-in / API key prompt.
//   #/            dashboard          #/servers        servers
//   #/run         submit a job       #/jobs?...       jobs list (filters in the query)
//   #/jobs/<id>   one job, live log  /?job=<id>       older link to a job's log, still honoured
//   #/keys        API keys           #/users          users (admins)     #/audit?...  audit trail (admins)
//   #/schedules   schedules: next runs, create, enable/disable, recent runs
//   #/settings    runtime settings (admins)   #/notifications   notification targets (admins)
//   #/templates   job templates      #/templates/<id> one template: launch, edit, versions
// A view with `needs` (an endpoint) shows "not for your role" instead when /me does not allow it.
"use strict";

import * as access from "./access.js";
import * as api from "./api.js";
import { audit } from "./audit.js";
import { $ } from "./dom.js";
import { dashboard } from "./dashboard.js";
import { job } from "./job.js";
import { jobs } from "./jobs.js";
import { keys } from "./keys.js";
import { notifications } from "./notifications.js";
import { run } from "./run.js";
import { servers } from "./servers.js";
import * as signin from "./signin.js";
import { schedules } from "./schedules.js";
import { settings } from "./settings.js";
import { templates } from "./templates.js";
import { users } from "./users.js";

const denied = { section: "view-denied", nav: null, enter() {}, leave() {} };
const VIEWS = [dashboard, servers, run, jobs, job, keys, users, audit, templates, schedules, notifications, settings, denied];
const ROUTES = { servers, run, keys, users, audit, templates, schedules, notifications, settings };
let active = null;

function route() {
  const [path, search = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const query = new URLSearchParams(search);
  let view = dashboard;
  let params = {};
  if (parts[0] === "jobs" && parts[1]) { view = job; params = { id: parts[1] }; }
  else if (parts[0] === "templates" && parts[1]) { view = templates; params = { id: parts[1] }; }
  else if (parts[0] === "jobs") view = jobs;
  else if (parts[0] === "templates" && parts[1]) { view = template; params = { id: parts[1] }; }
  else if (ROUTES[parts[0]]) view = ROUTES[parts[0]];
  if (view.needs && !access.can(view.needs)) {
    $("denied-text").textContent = access.current()
      ? `Your role (${access.current().role}) cannot use this page.`
      : "This page needs an API key.";
    view = denied;
  }
  active?.leave();
  for (const candidate of VIEWS) $(candidate.section).hidden = candidate !== view;
  for (const link of document.querySelectorAll("nav a[data-nav]")) {
    link.toggleAttribute("aria-current", link.dataset.nav === view.nav);
  }
  active = view;
  view.enter(params, query);
}

// ----- API key ----------------------------------------------------------------------------------------

function promptForKey(reason) {
  const dialog = $("key-dialog");
  $("key-reason").textContent = reason;
  $("key-input").value = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      const key = dialog.returnValue === "ok" ? $("key-input").value.trim() : "";
      resolve(key || null);
    }, { once: true });
    dialog.showModal();
    $("key-input").focus();
  });
}

// On a 401: the sign-in form when the service takes passwords (an API key stays one click away), else the key.
async function promptForCredentials(reason) {
  const { session, offered } = await signin.probe();
  if (session) return api.SIGNED_IN;  // signed in meanwhile (another tab)
  if (offered) {
    const outcome = await signin.prompt(reason);
    if (outcome !== "key") return outcome;
  }
  return promptForKey(reason);
}

function showKeyState() {
  $("key-state").hidden = !api.apiKey.get();
  $("key-needed").hidden = Boolean(api.apiKey.get()) || !api.keyDeclined();
}

// The user menu and the controls the role allows; a change of role (another key) shows the view again.
function showMe() {
  const me = access.current();
  $("user-menu").hidden = !me;
  $("me-who").textContent = access.who();
  $("me-role").textContent = me ? me.role : "";
  $("me-role").className = `role ${me ? me.role : ""}`;
  $("sign-out").hidden = !(me && me.kind === "user" && api.signedIn());
  access.apply();
}

async function loadMe() {
  let changed = false;
  try {
    changed = await access.load();
  } catch (error) {
    return false;  // the service is unreachable or busy: the views say so; the menu stays as it was
  }
  showMe();
  return changed;
}

api.setKeyPrompt(promptForCredentials);
api.onKeyChange(async () => {
  showKeyState();
  if ((await loadMe()) && active) route();
});
$("forget-key").addEventListener("click", () => {
  api.forgetKey();
  route();
});
$("sign-out").addEventListener("click", async () => {
  await signin.signOut();
  await loadMe();  // 401 now: the sign-in form comes back
  route();
});
$("enter-key").addEventListener("click", async () => {
  if (await api.enterKey()) route();
});
showKeyState();

// ----- start ------------------------------------------------------------------------------------------

const legacyJob = new URLSearchParams(location.search).get("job");
if (legacyJob) history.replaceState(null, "", `/#/jobs/${encodeURIComponent(legacyJob)}`);
window.addEventListener("hashchange", route);
signin.probe().then(loadMe).then(route);
