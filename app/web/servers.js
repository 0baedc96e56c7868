// Servers: the list with each server's last known connectivity, add/edit, test one, check all, delete.
"use strict";

import * as access from "./access.js";
import * as api from "./api.js";
import { $, el, replaceChildren, shortTime, showError } from "./dom.js";
import { poll } from "./poll.js";

const REFRESH_MS = 15_000;  // a job's connection also updates a server's status

let poller = null;
let editing = null;  // the server being edited, null while adding
const testing = new Set();  // ids of servers whose test is running

function connectivity(server) {
  if (testing.has(server.id)) return el("span", { class: "status running" }, "testing…");
  if (!server.last_status) return el("span", { class: "status" }, "unchecked");
  const details = [
    server.last_response_time_ms !== null ? `${server.last_response_time_ms} ms` : null,
    `checked ${shortTime(server.last_checked_at)}`,
  ].filter(Boolean).join(" · ");
  return el("div", { class: "connectivity" },
    el("span", { class: `status ${server.last_status}` }, server.last_status),
    el("small", {}, ` ${details}`),
    server.last_status === "disconnected" && server.last_message
      ? el("div", { class: "message" }, server.last_message) : null);
}

function row(server) {
  const busy = testing.has(server.id);
  return el("tr", { dataset: { server: server.name } },
    el("td", {}, el("strong", {}, server.name), server.is_active ? null : el("small", { class: "muted" }, " (inactive)")),
    el("td", { class: "mono" }, `${server.user}@${server.hostname}:${server.port}`),
    el("td", {}, server.auth_type === "key" ? "key" : "password"),
    el("td", { class: "connectivity-cell" }, connectivity(server)),
    el("td", { class: "actions" },
      access.can("servers.test_server")
        ? el("button", { type: "button", class: "test-server", disabled: busy, onclick: () => testServer(server) }, "Test") : null,
      access.can("servers.update_server")
        ? el("button", { type: "button", class: "edit-server", onclick: () => openForm(server) }, "Edit") : null,
      access.can("jobs.create_job")
        ? el("a", { class: "button run-on-server", href: `#/run?server=${encodeURIComponent(server.id)}` }, "Run…") : null,
      access.can("servers.delete_server")
        ? el("button", { type: "button", class: "delete-server danger", onclick: () => deleteServer(server) }, "Delete") : null));
}

let lastServers = [];

function render(servers) {
  lastServers = servers;
  replaceChildren($("servers-rows"), servers.map(row));
  $("servers-empty").hidden = servers.length > 0;
}

async function refresh() {
  const data = await api.get("/servers");
  render(data.servers);
  showError($("servers-error"), null);
}

async function testServer(server) {
  testing.add(server.id);
  render(lastServers);
  try {
    await api.post(`/servers/${encodeURIComponent(server.id)}/test`);
  } catch (error) {
    showError($("servers-error"), error);
  } finally {
    testing.delete(server.id);
  }
  await poller?.now();
}

async function checkAll() {
  const button = $("check-all");
  button.disabled = true;
  button.textContent = "Checking…";
  lastServers.forEach((server) => testing.add(server.id));
  render(lastServers);
  try {
    const result = await api.post("/servers/check-status");
    const s = result.summary;
    $("check-summary").textContent =
      `${s.total_checked} checked: ${s.connected} connected, ${s.disconnected} disconnected (${(s.check_duration_ms / 1000).toFixed(1)} s)`;
  } catch (error) {
    showError($("servers-error"), error);
  } finally {
    testing.clear();
    button.disabled = false;
    button.textContent = "Check all";
  }
  await poller?.now();
}

async function deleteServer(server) {
  if (!confirm(`Delete the server ${server.name}?`)) return;
  const path = `/servers/${encodeURIComponent(server.id)}`;
  try {
    await api.del(path);
  } catch (error) {
    if (error.status !== 409 || !confirm(`${error.message}\n\nDelete the server together with its jobs and their output?`)) {
      if (error.status !== 409) showError($("servers-error"), error);
      return;
    }
    try {
      await api.del(path, { force: true });
    } catch (forced) {
      showError($("servers-error"), forced);
      return;
    }
  }
  await poller?.now();
}

// ----- the add/edit form ------------------------------------------------------------------------------

const field = (name) => $("server-form").elements.namedItem(name);

function showAuthFields() {
  const byKey = field("auth_type").value === "key";
  $("password-fields").hidden = byKey;
  $("key-fields").hidden = !byKey;
}

function openForm(server = null) {
  editing = server;
  const form = $("server-form");
  form.reset();
  $("server-form-title").textContent = server ? `Edit ${server.name}` : "Add a server";
  field("name").value = server?.name ?? "";
  field("hostname").value = server?.hostname ?? "";
  field("port").value = server?.port ?? 22;
  field("user").value = server?.user ?? "";
  field("auth_type").value = server?.auth_type ?? "password";
  field("is_active").checked = server?.is_active ?? true;
  // Stored secrets never come back from the API: an empty field keeps them.
  field("password").placeholder = server?.has_password ? "stored: leave empty to keep" : "";
  field("private_key").placeholder = server?.has_private_key ? "stored: leave empty to keep" : "-----BEGIN OPENSSH PRIVATE KEY-----";
  field("passphrase").placeholder = server?.has_passphrase ? "stored: leave empty to keep" : "only for an encrypted key";
  showAuthFields();
  showError($("server-form-error"), null);
  form.hidden = false;
  field("name").focus();
}

function closeForm() {
  $("server-form").hidden = true;
  editing = null;
}

function formBody() {
  const body = {
    name: field("name").value.trim(),
    hostname: field("hostname").value.trim(),
    port: Number(field("port").value),
    user: field("user").value.trim(),
    auth_type: field("auth_type").value,
    is_active: field("is_active").checked,
  };
  const secrets = body.auth_type === "key" ? ["private_key", "passphrase"] : ["password"];
  for (const name of secrets) {
    if (field(name).value) body[name] = field(name).value;
  }
  return body;
}

async function saveServer(event) {
  event.preventDefault();
  const save = $("server-save");
  save.disabled = true;
  try {
    if (editing) await api.put(`/servers/${encodeURIComponent(editing.id)}`, formBody());
    else await api.post("/servers", formBody());
    closeForm();
    await poller?.now();
  } catch (error) {
    showError($("server-form-error"), error);
  } finally {
    save.disabled = false;
  }
}

async function readKeyFile(event) {
  const file = event.target.files[0];
  if (file) field("private_key").value = await file.text();
}

let wired = false;

function wire() {
  if (wired) return;
  wired = true;
  $("add-server").addEventListener("click", () => openForm(null));
  $("check-all").addEventListener("click", checkAll);
  $("server-form").addEventListener("submit", saveServer);
  $("server-cancel").addEventListener("click", closeForm);
  field("auth_type").addEventListener("change", showAuthFields);
  $("key-file").addEventListener("change", readKeyFile);
}

export const servers = {
  section: "view-servers",
  nav: "servers",
  enter() {
    wire();
    poller = poll(refresh, REFRESH_MS, (error) => showError($("servers-error"), error));
  },
  leave() {
    poller?.stop();
    closeForm();
  },
};
