// Who is calling (GET /me) and what their role allows. The page offers only those controls; the API refuses
// the others whatever the page shows, so hiding is for the person, never the protection.
"use strict";

import * as api from "./api.js";

let me = null;  // the last answer of /me; null while unknown (no key given yet)
let asked = 0;

export const current = () => me;

/** True when the caller may call the endpoint ("blueprint.function", as in docs/access.md). */
export const can = (endpoint) => Boolean(me && me.allowed.includes(endpoint));

/** A scope in a few words: "web, db1" (a key's own, then its owner's: "web1 within web"); "" for none. */
export function scopeText(scope) {
  if (!scope) return "";
  const own = [...scope.groups, ...scope.servers].join(", ") || "nothing";
  return scope.within ? `${own} within ${scopeText(scope.within)}` : own;
}

/** The groups and servers a form's scope_groups and scope_servers fields name; null when both are empty. */
export function scopeOf(form) {
  const names = (name) => form.elements.namedItem(name).value.split(",").map((part) => part.trim()).filter(Boolean);
  const scope = { groups: names("scope_groups"), servers: names("scope_servers") };
  return scope.groups.length || scope.servers.length ? scope : null;
}

/** Who, in a few words: the user's name, "local" (no key exists) or "key <name>" (a key of no user); a caller
 * with a scope: "... · limited to: web". */
export function who(caller = me) {
  if (!caller) return "";
  const limited = scopeText(caller.scope);
  return limited ? `${name(caller)} · limited to: ${limited}` : name(caller);
}

function name(caller) {
  if (caller.user) return caller.user.display_name ? `${caller.user.display_name} (${caller.user.username})` : caller.user.username;
  if (caller.kind === "local") return "local";
  return caller.key_name ? `key ${caller.key_name}` : `key ${caller.name.slice(0, 8)}`;
}

const rights = (caller) => JSON.stringify(caller ? caller.allowed : null);

/** Asks /me again; answers true when what the caller may do changed (not merely who: the views stay). */
export async function load() {
  const mine = ++asked;
  const before = rights(me);
  let answer = null;
  try {
    answer = await api.get("/me");
  } catch (error) {
    if (error.status !== 401) throw error;
  }
  if (mine !== asked) return false;  // a newer question (another key) answers instead
  me = answer;
  return rights(me) !== before;
}

/** Shows or hides every element marked data-needs="endpoint" (several: all of them). */
export function apply(root = document) {
  for (const node of root.querySelectorAll("[data-needs]")) {
    node.hidden = !node.dataset.needs.split(" ").every(can);
  }
}
