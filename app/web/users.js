// Users (administrators): list, create, change role and scope, disable and enable. Passwords are set on the server
// only.
// The API refuses to demote or disable the last administrator: its message is shown as it is.
"use strict";

import * as access from "./access.js";
import * as api from "./api.js";
import { $, el, replaceChildren, shortTime, showError } from "./dom.js";

const ROLES = ["viewer", "operator", "admin"];

const field = (name) => $("user-form").elements.namedItem(name);

// A scope as two comma-separated lists asked in turn; empty both: unlimited. Cancel changes nothing.
function askScope(user, control) {
  const list = (values) => values.join(", ");
  const groups = prompt(`Groups ${user.username} is limited to (comma-separated; empty: no group)`, list(user.scope?.groups || []));
  if (groups === null) return;
  const servers = prompt(`Servers ${user.username} is limited to (comma-separated; both empty: unlimited)`, list(user.scope?.servers || []));
  if (servers === null) return;
  const split = (text) => text.split(",").map((part) => part.trim()).filter(Boolean);
  const scope = { groups: split(groups), servers: split(servers) };
  change(user, { scope: scope.groups.length || scope.servers.length ? scope : null }, control);
}

async function change(user, changes, control) {
  control.disabled = true;
  try {
    await api.request("PATCH", `/users/${encodeURIComponent(user.id)}`, { body: changes });
    showError($("users-error"), null);
  } catch (error) {
    showError($("users-error"), error);
  }
  await refresh().catch((error) => showError($("users-error"), error));
}

function row(user) {
  const role = el("select", { class: "user-role", "aria-label": `Role of ${user.username}` },
    ROLES.map((name) => el("option", { value: name, selected: name === user.role }, name)));
  role.addEventListener("change", () => change(user, { role: role.value }, role));
  const toggle = el("button", {
    type: "button", class: user.disabled ? "enable-user" : "disable-user danger",
    onclick: (event) => {
      if (!user.disabled && !confirm(`Disable ${user.username}? Every key of theirs is refused at once.`)) return;
      change(user, { disabled: !user.disabled }, event.currentTarget);
    },
  }, user.disabled ? "Enable" : "Disable");
  return el("tr", { dataset: { user: user.username, disabled: String(user.disabled) } },
    el("td", {}, el("strong", {}, user.username)),
    el("td", {}, user.display_name),
    el("td", {}, user.email || ""),
    el("td", {}, role),
    el("td", { class: "user-scope" }, access.scopeText(user.scope) || el("span", { class: "muted" }, "all servers"), " ",
      el("button", { type: "button", class: "edit-scope", onclick: (event) => askScope(user, event.currentTarget) }, "Change")),
    el("td", {}, user.has_password ? "set" : el("span", { class: "muted" }, "none")),
    el("td", {}, user.disabled ? el("span", { class: "status failed" }, "disabled") : el("span", { class: "status completed" }, "enabled")),
    el("td", { title: user.created_at }, shortTime(user.created_at)),
    el("td", { class: "actions" }, toggle));
}

async function refresh() {
  const data = await api.get("/users");
  replaceChildren($("users-rows"), data.users.map(row));
}

async function create(event) {
  event.preventDefault();
  const body = { username: field("username").value.trim(), role: field("role").value };
  if (field("display_name").value.trim()) body.display_name = field("display_name").value.trim();
  if (field("email").value.trim()) body.email = field("email").value.trim();
  const scope = access.scopeOf($("user-form"));
  if (scope) body.scope = scope;
  $("user-create").disabled = true;
  try {
    await api.post("/users", body);
    $("user-form").reset();
    showError($("user-form-error"), null);
    await refresh();
  } catch (error) {
    showError($("user-form-error"), error);
  } finally {
    $("user-create").disabled = false;
  }
}

let wired = false;

export const users = {
  section: "view-users",
  nav: "users",
  needs: "users.list_users",
  enter() {
    if (!wired) {
      wired = true;
      $("user-form").addEventListener("submit", create);
    }
    showError($("users-error"), null);
    showError($("user-form-error"), null);
    refresh().catch((error) => showError($("users-error"), error));
  },
  leave() {},
};
