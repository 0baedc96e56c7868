// The page's entry point: hash routing between the views, and the API key prompt.
//   #/            dashboard          #/servers        servers
//   #/run         submit a job       #/jobs?...       jobs list (filters in the query)
//   #/jobs/<id>   one job, live log  /?job=<id>       older link to a job's log, still honoured
"use strict";

import * as api from "./api.js";
import { $ } from "./dom.js";
import { dashboard } from "./dashboard.js";
import { job } from "./job.js";
import { jobs } from "./jobs.js";
import { run } from "./run.js";
import { servers } from "./servers.js";

const VIEWS = [dashboard, servers, run, jobs, job];
let active = null;

function route() {
  const [path, search = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const query = new URLSearchParams(search);
  let view = dashboard;
  let params = {};
  if (parts[0] === "servers") view = servers;
  else if (parts[0] === "run") view = run;
  else if (parts[0] === "jobs" && parts[1]) { view = job; params = { id: parts[1] }; }
  else if (parts[0] === "jobs") view = jobs;
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

function showKeyState() {
  $("key-state").hidden = !api.apiKey.get();
  $("key-needed").hidden = Boolean(api.apiKey.get()) || !api.keyDeclined();
}

api.setKeyPrompt(promptForKey);
api.onKeyChange(showKeyState);
$("forget-key").addEventListener("click", () => {
  api.forgetKey();
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
route();
