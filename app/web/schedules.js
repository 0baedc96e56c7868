// Schedules: each with its cron and zone, next run and last outcome; create (a template chosen from those the
// caller sees, its typed parameters as a form), enable or disable, delete, and a schedule's recent runs. The API
// checks everything (cron, zone, parameter values): its 400 is shown as it is.
"use strict";

import * as api from "./api.js";
import { $, el, fullTime, replaceChildren, shortTime, showError } from "./dom.js";
import { parameterField, parameterValues } from "./parameter_fields.js";

let templatesByName = new Map();

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

// The chosen template's parameters as fields (the same builder as the template's launch form). The form's own
// controls are read by id: a parameter may well be called "name" or "cron".
function showParameterFields() {
  const template = templatesByName.get($("schedule-template").value);
  const parameters = template ? template.parameters : [];
  replaceChildren($("schedule-parameter-fields"), parameters.map(parameterField));
  $("schedule-parameters").hidden = parameters.length === 0;
}

async function loadTemplates() {
  const data = await api.get("/templates");
  templatesByName = new Map(data.templates.map((template) => [template.name, template]));
  const select = $("schedule-template");
  const chosen = select.value;
  replaceChildren(select,
    el("option", { value: "" }, data.templates.length ? "choose a template" : "no template yet"),
    data.templates.map((template) => el("option", { value: template.name, selected: template.name === chosen },
      template.name)));
  showParameterFields();
}

async function create(event) {
  event.preventDefault();
  const form = $("schedule-form");
  await act(async () => {
    const body = {
      name: $("schedule-name").value.trim(),
      template: $("schedule-template").value,
      cron: $("schedule-cron").value.trim(),
      timezone: $("schedule-timezone").value.trim() || "UTC",
      overlap: $("schedule-overlap").value,
      missed: $("schedule-missed").value,
      parameters: parameterValues($("schedule-parameter-fields")),
    };
    await api.request("POST", "/schedules", { body });
    form.reset();
    showParameterFields();
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
      $("schedule-template").addEventListener("change", showParameterFields);
      wired = true;
    }
    $("schedule-runs").hidden = true;
    showError($("schedules-error"), null);
    refresh().catch((error) => showError($("schedules-error"), error));
    loadTemplates().catch((error) => showError($("schedules-error"), error));
  },
  leave() {},
};
