// Jobs list: status filter, search, server filter, sorting and paging, kept in the address (#/jobs?...)
// and refreshed every few seconds while the tab is visible.
"use strict";

import * as access from "./access.js";
import * as api from "./api.js";
import { $, ACTIVE, duration, el, jobDuration, jobSummary, replaceChildren, shortTime, showError, statusBadge, statusText } from "./dom.js";
import { poll } from "./poll.js";

const REFRESH_MS = 3_000;
const DEFAULTS = {
  status: "", search: "", server_id: "", batch_id: "", page: 1, limit: 20, sort_by: "created_at", sort_order: "desc",
};
const SORTABLE = ["created_at", "started_at", "finished_at"];

let state = { ...DEFAULTS };
let poller = null;

function readState(query) {
  const next = { ...DEFAULTS };
  for (const name of Object.keys(DEFAULTS)) {
    if (query.has(name)) next[name] = query.get(name);
  }
  next.page = Math.max(1, Number.parseInt(next.page, 10) || 1);
  next.limit = Math.min(100, Math.max(1, Number.parseInt(next.limit, 10) || DEFAULTS.limit));
  if (!SORTABLE.includes(next.sort_by)) next.sort_by = DEFAULTS.sort_by;
  if (next.sort_order !== "asc") next.sort_order = "desc";
  return next;
}

function stateQuery() {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(state)) {
    if (String(value) !== String(DEFAULTS[name])) query.set(name, String(value));
  }
  return query.toString();
}

/** Changes the filters: the address follows (without a new history entry), the list refreshes at once. */
function update(changes) {
  state = { ...state, page: 1, ...changes };
  const query = stateQuery();
  history.replaceState(null, "", `#/jobs${query ? `?${query}` : ""}`);
  showControls();
  poller?.now();
}

function showControls() {
  $("jobs-status").value = state.status;
  if (document.activeElement !== $("jobs-search")) $("jobs-search").value = state.search;
  $("jobs-server").value = state.server_id;
  const limit = $("jobs-limit");
  if (![...limit.options].some((o) => o.value === String(state.limit))) limit.append(el("option", { value: state.limit }, state.limit));
  limit.value = String(state.limit);
  for (const th of document.querySelectorAll("#jobs-table th[data-sort]")) {
    const sorted = th.dataset.sort === state.sort_by;
    th.setAttribute("aria-sort", sorted ? (state.sort_order === "asc" ? "ascending" : "descending") : "none");
    th.querySelector(".arrow").textContent = sorted ? (state.sort_order === "asc" ? " ▲" : " ▼") : "";
  }
}

async function cancel(job, button) {
  button.disabled = true;
  try {
    await api.post(`/jobs/${encodeURIComponent(job.id)}/cancel`);
  } catch (error) {
    showError($("jobs-error"), error);
  }
  poller?.now();
}

function row(job) {
  const active = ACTIVE.includes(job.status);
  const summary = jobSummary(job);
  return el("tr", { dataset: { job: job.id, status: job.status } },
    el("td", {}, el("span", { class: `status ${job.status}` }, statusText(job))),
    el("td", { class: "mono ellipsis job-text", title: summary },
      el("a", { href: `#/jobs/${encodeURIComponent(job.id)}` }, summary)),
    el("td", {}, job.server.name),
    el("td", { title: job.created_at }, shortTime(job.created_at)),
    el("td", { title: job.started_at || "" }, shortTime(job.started_at)),
    el("td", { title: job.finished_at || "" }, job.finished_at ? shortTime(job.finished_at) : active && job.started_at ? `running ${duration(jobDuration(job))}` : "–"),
    el("td", { class: "num" }, job.exit_code ?? "–"),
    el("td", { class: "actions" }, active && access.can("jobs.cancel_job") ? el("button", {
      type: "button", class: "cancel-job danger", disabled: Boolean(job.cancel_requested_at),
      onclick: (event) => cancel(job, event.currentTarget),
    }, "Cancel") : null));
}

async function refresh() {
  const asked = stateQuery();
  const query = { ...state };
  for (const name of ["status", "search", "server_id", "batch_id"]) if (!query[name]) delete query[name];
  const data = await api.get("/jobs", query);
  if (stateQuery() !== asked) return;  // the filters changed meanwhile: a fresh refresh is on its way
  replaceChildren($("jobs-rows"), data.jobs.map(row));
  const p = data.pagination;
  $("jobs-empty").hidden = data.jobs.length > 0;
  $("jobs-page").textContent = `Page ${p.total_pages ? p.page : 0} of ${p.total_pages} · ${p.total} job${p.total === 1 ? "" : "s"}`;
  $("jobs-prev").disabled = !p.has_prev;
  $("jobs-next").disabled = !p.has_next;
  $("jobs-updated").textContent = `updated ${shortTime(new Date().toISOString())}`;
  showError($("jobs-error"), null);
}

async function loadServers() {
  try {
    const data = await api.get("/servers");
    replaceChildren($("jobs-server"), el("option", { value: "" }, "all servers"),
      data.servers.map((s) => el("option", { value: s.id }, s.name)));
    $("jobs-server").value = state.server_id;
  } catch (error) {
    showError($("jobs-error"), error);
  }
}

let wired = false;
let searchTimer = null;

function wire() {
  if (wired) return;
  wired = true;
  $("jobs-status").addEventListener("change", (e) => update({ status: e.target.value }));
  $("jobs-server").addEventListener("change", (e) => update({ server_id: e.target.value }));
  $("jobs-limit").addEventListener("change", (e) => update({ limit: Number(e.target.value) }));
  $("jobs-search").addEventListener("input", (e) => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => update({ search: e.target.value.trim() }), 300);
  });
  $("jobs-prev").addEventListener("click", () => update({ page: state.page - 1 }));
  $("jobs-next").addEventListener("click", () => update({ page: state.page + 1 }));
  for (const th of document.querySelectorAll("#jobs-table th[data-sort]")) {
    th.querySelector("button").addEventListener("click", () => {
      const field = th.dataset.sort;
      const order = field === state.sort_by && state.sort_order === "desc" ? "asc" : "desc";
      update({ sort_by: field, sort_order: order });
    });
  }
}

export const jobs = {
  section: "view-jobs",
  nav: "jobs",
  enter(params, query) {
    wire();
    state = readState(query);
    showControls();
    loadServers();
    poller = poll(refresh, REFRESH_MS, (error) => showError($("jobs-error"), error));
  },
  leave() {
    poller?.stop();
    clearTimeout(searchTimer);
  },
};
