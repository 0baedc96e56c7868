// Job submission: a command (command + args, run by /bin/sh -c) or a script (run by its shell) on a target.
"use strict";

import * as api from "./api.js";
import { $, el, replaceChildren, showError } from "./dom.js";

// Where a job can run. Each kind names the request field that carries the chosen target and lists the
// choices. Another kind (a group: GET /groups, field "group") is one more entry here.
const TARGET_KINDS = {
  server: {
    label: "Server",
    field: "server_id",
    async choices() {
      const data = await api.get("/servers", { active_only: true });
      return data.servers.map((s) => ({ value: s.id, label: `${s.name} (${s.user}@${s.hostname}:${s.port})` }));
    },
  },
  group: {
    label: "Group",
    field: "group",
    async choices() {
      const data = await api.get("/groups");
      return data.groups.map((g) => ({
        value: g.name,
        label: `${g.name} (${g.total_servers} server${g.total_servers === 1 ? "" : "s"})`,
      }));
    },
  },
};

const form = () => $("run-form");
const field = (name) => form().elements.namedItem(name);

async function loadTargets(preselect) {
  const kind = TARGET_KINDS[field("target_kind").value];
  const select = field("target");
  try {
    const choices = await kind.choices();
    replaceChildren(select, choices.map((c) => el("option", { value: c.value }, c.label)));
    if (preselect && choices.some((c) => c.value === preselect)) select.value = preselect;
    $("run-no-target").hidden = choices.length > 0;
  } catch (error) {
    showError($("run-error"), error);
  }
}

function showKindFields() {
  const script = field("kind").value === "script";
  $("command-fields").hidden = script;
  $("script-fields").hidden = !script;
  field("command").required = !script;
  field("script").required = script;
}

function body() {
  const target = TARGET_KINDS[field("target_kind").value];
  const common = {
    [target.field]: field("target").value,
    timeout: Number(field("timeout").value),
    priority: Number(field("priority").value),
  };
  if (field("kind").value === "script") {
    return ["/jobs/script", { ...common, script: field("script").value, shell: field("shell").value.trim() }];
  }
  const args = field("args").value;
  return ["/jobs", { ...common, command: field("command").value, ...(args ? { args } : {}) }];
}

async function submit(event) {
  event.preventDefault();
  const button = $("run-submit");
  button.disabled = true;
  showError($("run-error"), null);
  try {
    const [path, payload] = body();
    const created = await api.post(path, payload);
    // One server: the job itself. A group: a batch, one job per server, shown as the jobs list of that batch.
    location.hash = created.batch_id
      ? `#/jobs?batch_id=${encodeURIComponent(created.batch_id)}`
      : `#/jobs/${encodeURIComponent(created.id)}`;
  } catch (error) {
    showError($("run-error"), error);
  } finally {
    button.disabled = false;
  }
}

let wired = false;

function wire() {
  if (wired) return;
  wired = true;
  const kinds = Object.entries(TARGET_KINDS);
  replaceChildren(field("target_kind"), kinds.map(([name, kind]) => el("option", { value: name }, kind.label)));
  $("target-kind-label").hidden = kinds.length < 2;  // no choice to make with one kind
  field("target_kind").addEventListener("change", () => loadTargets(null));
  form().addEventListener("change", (event) => { if (event.target.name === "kind") showKindFields(); });
  form().addEventListener("submit", submit);
}

export const run = {
  section: "view-run",
  needs: "jobs.create_job",
  nav: "run",
  enter(params, query) {
    wire();
    showKindFields();
    showError($("run-error"), null);
    loadTargets(query.get("server"));
  },
  leave() {},
};
