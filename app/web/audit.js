// The audit trail (administrators): newest first, filters kept in the address (#/audit?action=...) like the
// jobs list, older rows by cursor ("Load more"). Each row links to the job, batch or server it names.
"use strict";

import * as api from "./api.js";
import { $, el, fullTime, replaceChildren, shortTime, showError } from "./dom.js";

const FILTERS = ["actor", "action", "object_type", "object_id", "outcome", "since", "until"];
const PAGE = 50;

let filters = {};
let cursor = null;
let shown = 0;
let asked = 0;  // the newest load: an older answer arriving late is dropped

const input = (name) => $("audit-filters").elements.namedItem(name);

function readFilters(query) {
  const next = {};
  for (const name of FILTERS) if (query.get(name)) next[name] = query.get(name);
  return next;
}

function showFilters() {
  for (const name of FILTERS) input(name).value = filters[name] || "";
}

function objectCell(event) {
  if (!event.object_type) return "–";
  const id = event.object_id;
  const label = id ? `${event.object_type} ${id}` : event.object_type;
  let href = null;
  if (id && event.object_type === "job") href = `#/jobs/${encodeURIComponent(id)}`;
  else if (id && event.object_type === "batch") href = `#/jobs?batch_id=${encodeURIComponent(id)}`;
  else if (id && event.object_type === "server") href = `#/jobs?server_id=${encodeURIComponent(id)}`;
  else if (event.object_type === "user") href = "#/users";
  else if (event.object_type === "api_key") href = "#/keys";
  else if (event.object_type === "settings") href = "#/settings";
  const filter = el("button", {
    type: "button", class: "link small", title: "only this object",
    onclick: () => update({ object_type: event.object_type, object_id: id || "" }),
  }, "filter");
  return [href ? el("a", { href, class: "mono", title: event.object_type === "server" ? "the server's jobs" : "" }, label)
    : el("span", { class: "mono" }, label), " ", filter];
}

// The summary as "name: value" pairs; nested values as compact JSON. The API already redacted secrets.
function summaryText(summary) {
  if (!summary) return "";
  return Object.entries(summary)
    .map(([name, value]) => `${name}: ${typeof value === "string" ? value : JSON.stringify(value)}`)
    .join(", ");
}

function row(event) {
  const summary = summaryText(event.summary);
  return el("tr", { dataset: { audit: String(event.id), action: event.action } },
    el("td", { title: fullTime(event.at) }, shortTime(event.at)),
    el("td", { class: "mono", title: event.user_id ? `user ${event.user_id}` : "" },
      el("button", { type: "button", class: "link", onclick: () => update({ actor: event.actor }) }, event.actor)),
    el("td", { class: "mono" },
      el("button", { type: "button", class: "link", onclick: () => update({ action: event.action }) }, event.action)),
    el("td", {}, objectCell(event)),
    el("td", { class: "summary", title: summary }, summary),
    el("td", {}, el("span", { class: `status ${event.outcome === "success" ? "completed" : "failed"}` }, event.outcome),
      event.status ? ` ${event.status}` : ""),
    el("td", { class: "mono", title: event.request_id ? `request ${event.request_id}` : "" }, event.source || ""));
}

async function load(more) {
  const mine = ++asked;
  const query = { ...filters, limit: PAGE };
  if (more) query.cursor = cursor;
  const button = $("audit-more");
  button.disabled = true;
  try {
    const data = await api.get("/audit", query);
    if (mine !== asked) return;
    const rows = data.events.map(row);
    if (more) $("audit-rows").append(...rows);
    else replaceChildren($("audit-rows"), rows);
    shown = (more ? shown : 0) + rows.length;
    cursor = data.next_cursor;
    $("audit-empty").hidden = shown > 0;
    button.hidden = !cursor;
    showError($("audit-error"), null);
  } catch (error) {
    if (mine === asked) showError($("audit-error"), error);
  } finally {
    button.disabled = false;
  }
}

/** Changes the filters: the address follows (no new history entry), the first page loads again. */
function update(changes) {
  filters = { ...filters, ...changes };
  for (const name of FILTERS) if (!filters[name]) delete filters[name];
  const query = new URLSearchParams(filters).toString();
  history.replaceState(null, "", `#/audit${query ? `?${query}` : ""}`);
  showFilters();
  load(false);
}

let wired = false;

function wire() {
  if (wired) return;
  wired = true;
  $("audit-filters").addEventListener("change", (e) => update({ [e.target.name]: e.target.value.trim() }));
  $("audit-filters").addEventListener("submit", (e) => e.preventDefault());
  $("audit-more").addEventListener("click", () => load(true));
}

export const audit = {
  section: "view-audit",
  nav: "audit",
  needs: "audit.list_audit",
  enter(params, query) {
    wire();
    filters = readFilters(query);
    showFilters();
    cursor = null;
    $("audit-rows").replaceChildren();
    $("audit-more").hidden = true;
    load(false);
  },
  leave() {
    asked += 1;
  },
};
