// API keys: mine (an administrator: everyone's) with owner, role, expiry and last use; revoke; create one no
// wider than my role. A new key is shown once, in memory only: leaving the view or reloading forgets it.
"use strict";

import * as access from "./access.js";
import * as api from "./api.js";
import { $, el, fullTime, replaceChildren, shortTime, showError } from "./dom.js";

const ROLES = ["viewer", "operator", "admin"];

const field = (name) => $("key-form").elements.namedItem(name);

function state(key) {
  if (key.revoked_at) return el("span", { class: "status canceled" }, "revoked");
  if (key.expires_at && new Date(key.expires_at) <= new Date()) return el("span", { class: "status failed" }, "expired");
  return el("span", { class: "status completed" }, "active");
}

function row(key) {
  const usable = !key.revoked_at;
  const named = key.role && key.role !== key.effective_role ? `${key.effective_role} (key: ${key.role})` : key.effective_role;
  const limited = access.scopeText(key.scope);
  const role = limited ? `${named} · limited to: ${limited}` : named;
  return el("tr", { dataset: { key: key.id, name: key.name } },
    el("td", {}, el("strong", {}, key.name)),
    el("td", { class: "mono" }, key.prefix),
    el("td", {}, key.username || el("span", { class: "muted", title: "made before users existed: an administrator key" }, "no user (admin key)")),
    el("td", {}, role),
    el("td", { title: key.created_at }, shortTime(key.created_at)),
    el("td", { title: key.expires_at || "" }, key.expires_at ? fullTime(key.expires_at) : "never"),
    el("td", { title: key.last_used_at || "" }, key.last_used_at ? shortTime(key.last_used_at) : "never"),
    el("td", {}, state(key)),
    el("td", { class: "actions" }, usable ? el("button", {
      type: "button", class: "revoke-key danger", onclick: () => revoke(key),
    }, "Revoke") : null));
}

async function refresh() {
  const data = await api.get("/keys");
  replaceChildren($("keys-rows"), data.keys.map(row));
  $("keys-empty").hidden = data.keys.length > 0;
  showError($("keys-error"), null);
}

async function revoke(key) {
  const mine = key.id === access.current()?.key_id;
  const warning = mine ? "\n\nThis is the key this page uses: the page will ask for another." : "";
  if (!confirm(`Revoke the key ${key.name} (${key.prefix}…)? Whatever uses it is refused from now on.${warning}`)) return;
  try {
    await api.del(`/keys/${encodeURIComponent(key.id)}`);
    await refresh();
  } catch (error) {
    showError($("keys-error"), error);
  }
}

// The roles a new key may have: up to mine (the API refuses wider, this only spares the round trip).
function showRoles() {
  const me = access.current();
  const mine = ROLES.indexOf(me ? me.role : "viewer");
  replaceChildren(field("role"), el("option", { value: "" }, "the owner's role"),
    ROLES.slice(0, mine + 1).map((role) => el("option", { value: role }, role)));
}

async function showOwners() {
  const admin = access.can("users.list_users");
  $("key-owner-label").hidden = !admin;
  $("keys-scope").textContent = admin ? "every key (you are an administrator)" : "your keys";
  if (!admin) return;
  const me = access.current();
  const data = await api.get("/users");
  replaceChildren(field("user_id"), el("option", { value: "" }, me?.user ? `me (${me.user.username})` : "me"),
    data.users.filter((user) => !user.disabled && user.id !== me?.user?.id)
      .map((user) => el("option", { value: user.id }, `${user.username} (${user.role})`)));
}

function showNewKey(created) {
  $("new-key-name").textContent = `“${created.name}”${created.username ? ` for ${created.username}` : ""}`;
  $("new-key-value").value = created.key;
  $("copy-state").textContent = "";
  $("new-key").hidden = false;
  $("new-key-value").select();
}

function hideNewKey() {
  $("new-key-value").value = "";
  $("new-key").hidden = true;
}

async function copyKey() {
  const input = $("new-key-value");
  try {
    await navigator.clipboard.writeText(input.value);
  } catch {
    input.select();
    document.execCommand("copy");  // a page served over plain http has no clipboard API
  }
  $("copy-state").textContent = "copied";
}

async function create(event) {
  event.preventDefault();
  const body = { name: field("name").value.trim() };
  if (field("role").value) body.role = field("role").value;
  if (field("expires_at").value) body.expires_at = field("expires_at").value;
  const scope = access.scopeOf($("key-form"));
  if (scope) body.scope = scope;
  if (!$("key-owner-label").hidden && field("user_id").value) body.user_id = field("user_id").value;
  $("key-create").disabled = true;
  try {
    const created = await api.post("/keys", body);
    // The first key ends single-user mode: every request needs a key from now on. The page takes this one
    // rather than hide it behind its key prompt.
    const wasOpen = access.current()?.kind === "local" && !api.apiKey.get();
    showNewKey(created);
    if (wasOpen) {
      api.useKey(created.key);
      $("copy-state").textContent = "this page uses it from now on";
    }
    $("key-form").reset();
    showError($("key-form-error"), null);
    await refresh();
  } catch (error) {
    showError($("key-form-error"), error);
  } finally {
    $("key-create").disabled = false;
  }
}

let wired = false;

function wire() {
  if (wired) return;
  wired = true;
  $("key-form").addEventListener("submit", create);
  $("copy-key").addEventListener("click", copyKey);
  $("new-key-done").addEventListener("click", hideNewKey);
}

export const keys = {
  section: "view-keys",
  nav: "keys",
  needs: "keys.list_keys",
  enter() {
    wire();
    hideNewKey();
    showRoles();
    showError($("key-form-error"), null);
    showOwners().catch((error) => showError($("keys-error"), error));
    refresh().catch((error) => showError($("keys-error"), error));
  },
  leave() {
    hideNewKey();
  },
};
