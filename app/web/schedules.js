// Schedules: each with its cron and zone, next run and last outcome; create, enable or disable, delete, and a
// schedule's recent runs. The API checks everything (cron, zone, parameter values): its 400 is shown as it is.
"use strict";

import * as api from "./api.js";
import { $, el, fullTime, replaceChildren, shortTime, showError } from "./dom.js";

function when(iso) {
  return iso ? el("span", { title: fullTime(iso) }, shortTime(iso)) : el("span", { class: "muted" }, "–");
}

async function act(work) {
  try {
    await work();
    showError($("schedules-error"), null);
    await refresh();
  } catch (error) {
    showError($("schedules-error"), error);
  }
}

async function showRuns(schedule) {
  const data = await api.request("GET", `/schedules/${encodeURIComponent(schedule.id)}/runs`);
  $("schedule-runs-title").textContent = `Recent runs of ${schedule.name}`;
  $("schedule-runs").hidden = false;
  replaceChildren($("schedule-run-rows"), data.runs.map((run) => el("tr", { dataset: { outcome: run.outcome } },
    el("td", {}, when(run.due_at)),
    el("td", {}, when(run.fired_at)),
    el("td", {}, run.outcome),
    el("td", {}, run.job_id ? el("a", { href: `#/jobs/${run.job_id}` }, run.job_id.slice(0, 8)) : "–"),
    el("td", { class: "small" }, run.message || ""))));
}

function row(schedule) {
  const toggle = el("button", {
    type: "button", class: "toggle-schedule",
    onclick: () => act(() => api.request("PATCH", `/schedules/${encodeURIComponent(schedule.id)}`,
      { body: { enabled: !schedule.enabled } })),
  }, schedule.enabled ? "Disable" : "Enable");
  const runs = el("button", { type: "button", class: "schedule-runs",
    onclick: () => showRuns(schedule).catch((error) => showError($("schedules-error"), error)) }, "Runs");
  const remove = el("button", { type: "button", class: "delete-schedule",
    onclick: () => confirm(`Delete schedule ${schedule.name}?`)
      && act(() => api.request("DELETE", `/schedules/${encodeURIComponent(schedule.id)}`)) }, "Delete");
  return el("tr", { dataset: { schedule: schedule.name, enabled: String(schedule.enabled) } },
    el("td", {}, el("strong", {}, schedule.name)),
    el("td", { class: "mono" }, `${schedule.cron} (${schedule.timezone})`),
    el("td", {}, `${schedule.overlap} / ${schedule.missed}`),
    el("td", { class: "next-run", title: schedule.next_runs.map(fullTime).join("\n") }, when(schedule.next_run_at)),
    el("td", { class: "last-outcome" }, schedule.last_run ? schedule.last_run.outcome : "–"),
    el("td", { class: "actions" }, toggle, " ", runs, " ", remove));
}

async function refresh() {
  const data = await api.request("GET", "/schedules");
  replaceChildren($("schedule-rows"), data.schedules.map(row));
  $("schedules-empty").hidden = data.schedules.length > 0;
}

function parameters(text) {
  const values = {};
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const cut = line.indexOf("=");
    if (cut < 1) throw new Error(`parameters: write one name=value a line, not ${JSON.stringify(line)}`);
    values[line.slice(0, cut).trim()] = line.slice(cut + 1);
  }
  return values;
}

async function create(event) {
  event.preventDefault();
  const form = $("schedule-form");
  await act(async () => {
    const body = {
      name: form.elements.name.value.trim(),
      template: form.elements.template.value.trim(),
      cron: form.elements.cron.value.trim(),
      timezone: form.elements.timezone.value.trim() || "UTC",
      overlap: form.elements.overlap.value,
      missed: form.elements.missed.value,
      parameters: parameters(form.elements.parameters.value),
    };
    await api.request("POST", "/schedules", { body });
    form.reset();
  });
}

let wired = false;

export const schedules = {
  section: "view-schedules",
  nav: "schedules",
  needs: "schedules.list_schedules",
  enter() {
    if (!wired) {
      $("schedule-form").addEventListener("submit", create);
      wired = true;
    }
    $("schedule-runs").hidden = true;
    showError($("schedules-error"), null);
    refresh().catch((error) => showError($("schedules-error"), error));
  },
  leave() {},
};
