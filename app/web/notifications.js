// Notification targets (administrators): create one (its signing secret shown once), edit it, enable or disable
// it, send a test event, and read its recent deliveries with every attempt. The API checks every field: its 400
// is shown as it is.
"use strict";

import * as api from "./api.js";
import { $, el, fullTime, replaceChildren, shortTime, showError } from "./dom.js";
import { poll } from "./poll.js";

const EVENTS = ["job.completed", "job.failed", "job.canceled", "batch.completed", "batch.failed", "batch.canceled"];
let editing = null;  // the target being edited, or null: the form creates one
let selected = null;  // the target whose deliveries are shown

function formValues(form) {
  const data = new FormData(form);
  const body = {
    name: data.get("name").trim(),
    url: data.get("url").trim(),
    events: EVENTS.filter((event) => data.getAll("events").includes(event)),
    format: data.get("format"),
    template_id: data.get("template_id").trim() || null,
  };
  const secret = data.get("secret");
  if (secret) body.secret = secret;
  return body;
}

function resetForm() {
  editing = null;
  const form = $("notify-form");
  form.reset();
  $("notify-submit").textContent = "Create target";
  $("notify-cancel-edit").hidden = true;
}

function edit(target) {
  editing = target;
  const form = $("notify-form");
  form.elements.name.value = target.name;
  form.elements.url.value = target.url;
  form.elements.format.value = target.format;
  form.elements.template_id.value = target.template_id || "";
  form.elements.secret.value = "";
  for (const box of form.querySelectorAll("input[name=events]")) box.checked = target.events.includes(box.value);
  $("notify-submit").textContent = `Save ${target.name}`;
  $("notify-cancel-edit").hidden = false;
  $("notify-secret").hidden = true;
}

async function submit(event) {
  event.preventDefault();
  const body = formValues(event.currentTarget);
  try {
    if (editing) {
      await api.request("PATCH", `/notification-targets/${encodeURIComponent(editing.id)}`, { body });
    } else {
      const created = await api.post("/notification-targets", body);
      // The only time the secret is shown: the receiver needs it to check signatures.
      replaceChildren($("notify-secret"), "Signing secret of ", el("strong", {}, created.name),
        " (shown once, keep it now): ", el("code", { id: "notify-secret-value" }, created.secret));
      $("notify-secret").hidden = false;
    }
    showError($("notify-error"), null);
    resetForm();
    await refresh();
  } catch (error) {
    showError($("notify-error"), error);
  }
}

async function act(work) {
  try {
    await work();
    showError($("notify-error"), null);
    await refresh();
  } catch (error) {
    showError($("notify-error"), error);
  }
}

function row(target) {
  const path = `/notification-targets/${encodeURIComponent(target.id)}`;
  return el("tr", { dataset: { target: target.name, enabled: String(target.enabled) } },
    el("td", {}, el("strong", {}, target.name)),
    el("td", { class: "mono ellipsis", title: target.url }, target.url),
    el("td", { class: "small" }, target.events.join(", ")),
    el("td", {}, target.format),
    el("td", { class: "small mono" }, target.template_id || "all jobs"),
    el("td", { class: "target-state" }, target.enabled ? "enabled" : "disabled"),
    el("td", { class: "actions" },
      el("button", { type: "button", class: "toggle-target",
        onclick: () => act(() => api.request("PATCH", path, { body: { enabled: !target.enabled } })) },
      target.enabled ? "Disable" : "Enable"), " ",
      el("button", { type: "button", class: "edit-target", onclick: () => edit(target) }, "Edit"), " ",
      el("button", { type: "button", class: "test-target",
        onclick: () => act(async () => { selected = target; await api.post(`${path}/test`); }) }, "Send test"), " ",
      el("button", { type: "button", class: "show-deliveries",
        onclick: () => { selected = target; showDeliveries().catch((e) => showError($("notify-error"), e)); } },
      "Deliveries"), " ",
      el("button", { type: "button", class: "delete-target",
        onclick: () => confirm(`Delete ${target.name} and its deliveries?`) &&
          act(async () => { if (selected?.id === target.id) selected = null; await api.del(path); }) }, "Delete")));
}

function attempts(delivery) {
  if (!delivery.attempt_log.length) return el("span", { class: "muted" }, "not tried yet");
  return el("ol", { class: "attempts" }, delivery.attempt_log.map((attempt) =>
    el("li", { title: fullTime(attempt.at) },
      `${shortTime(attempt.at)} · ${attempt.status ?? "no answer"}`,
      attempt.error && attempt.status === null ? ` · ${attempt.error}` : "",
      ` · ${attempt.duration_ms} ms`)));
}

async function showDeliveries() {
  const panel = $("notify-deliveries");
  if (!selected) { panel.hidden = true; return; }
  const data = await api.get(`/notification-targets/${encodeURIComponent(selected.id)}/deliveries`, { limit: 20 });
  $("notify-deliveries-title").textContent = `Recent deliveries to ${selected.name}`;
  replaceChildren($("notify-delivery-rows"), data.deliveries.length ? data.deliveries.map((delivery) =>
    el("tr", { dataset: { event: delivery.event, state: delivery.state } },
      el("td", { title: fullTime(delivery.created_at) }, shortTime(delivery.created_at)),
      el("td", { class: "mono" }, delivery.event),
      el("td", { class: "mono small" }, delivery.event.startsWith("job.")
        ? el("a", { href: `#/jobs/${encodeURIComponent(delivery.subject_id)}` }, delivery.subject_id.slice(0, 8))
        : delivery.subject_id.slice(0, 8)),
      el("td", { class: "delivery-state" }, delivery.state === "pending"
        ? `pending (next ${shortTime(delivery.next_attempt_at)})` : delivery.state),
      el("td", {}, attempts(delivery)))) : el("tr", {}, el("td", { colspan: 5, class: "muted" }, "No deliveries yet")));
  panel.hidden = false;
}

async function refresh() {
  const data = await api.get("/notification-targets");
  replaceChildren($("notify-rows"), data.targets.length
    ? data.targets.map(row) : el("tr", {}, el("td", { colspan: 7, class: "muted" }, "No targets yet")));
  if (selected) selected = data.targets.find((target) => target.id === selected.id) || null;
  await showDeliveries();
}

let wired = false;
let poller = null;  // the shown deliveries, refreshed while the view is open (attempts happen meanwhile)

export const notifications = {
  section: "view-notifications",
  nav: "notifications",
  needs: "notifications.list_targets",
  enter() {
    if (!wired) {
      wired = true;
      replaceChildren($("notify-events"), EVENTS.map((event) => el("label", { class: "check" },
        el("input", { type: "checkbox", name: "events", value: event, checked: event === "job.failed" }), ` ${event}`)));
      $("notify-form").addEventListener("submit", submit);
      $("notify-cancel-edit").addEventListener("click", resetForm);
      $("notify-refresh").addEventListener("click", () => refresh().catch((e) => showError($("notify-error"), e)));
    }
    showError($("notify-error"), null);
    refresh().catch((error) => showError($("notify-error"), error));
    poller = poll(showDeliveries, 2000, (error) => showError($("notify-error"), error));
  },
  leave() {
    poller?.stop();
    poller = null;
  },
};
