// A template's signed triggers, in <div id="template-triggers"> of its detail view: list, create (the secret shown
// once, in memory only, with a copy button and a ready curl command), rotate, delete. docs/orchestration.md.
"use strict";

import * as api from "./api.js";
import { $, el, replaceChildren, shortTime, showError } from "./dom.js";

let shownFor = null;

function curlExample(trigger, secret) {
  return [
    `SECRET='${secret}'`,
    `BODY='{}'`,
    "TS=$(date +%s)",
    `SIG=$(printf '%s.%s' "$TS" "$BODY" | openssl dgst -sha256 -hmac "$SECRET" | awk '{print $NF}')`,
    `curl -s -X POST '${trigger.url}' -H 'Content-Type: application/json' \\`,
    `  -H "X-NewRemora-Timestamp: $TS" -H "X-Hub-Signature-256: sha256=$SIG" --data-binary "$BODY"`,
  ].join("\n");
}

function secretBox(trigger, secret) {
  const copy = (text) => navigator.clipboard?.writeText(text);
  return el("div", { class: "new-secret", id: "trigger-secret-box" },
    el("p", {}, el("strong", {}, "Secret of "), trigger.name, " — shown once: keep it now."),
    el("code", { class: "mono", id: "trigger-secret" }, secret),
    el("button", { type: "button", onclick: () => copy(secret) }, "Copy secret"),
    el("pre", { class: "mono", id: "trigger-curl" }, curlExample(trigger, secret)),
    el("button", { type: "button", onclick: () => copy(curlExample(trigger, secret)) }, "Copy curl"));
}

function row(templateId, trigger) {
  return el("tr", { dataset: { trigger: trigger.id } },
    el("td", {}, el("strong", {}, trigger.name), trigger.enabled ? "" : el("span", { class: "muted" }, " (disabled)")),
    el("td", { class: "mono" }, trigger.url),
    el("td", {}, `${trigger.rate_limit}/min`),
    el("td", { title: trigger.last_used_at || "" }, trigger.last_used_at ? shortTime(trigger.last_used_at) : "never"),
    el("td", { class: "actions" },
      el("button", { type: "button", class: "rotate-trigger", onclick: () => rotate(templateId, trigger) }, "Rotate"),
      el("button", { type: "button", class: "delete-trigger danger", onclick: () => remove(templateId, trigger) },
        "Delete")));
}

async function act(templateId, work) {
  const box = $("template-triggers");
  try {
    const secret = await work();
    await showTriggers(templateId, secret);
  } catch (error) {
    showError(box.querySelector(".error"), error);
  }
}

const create = (templateId, name) => act(templateId, async () => {
  const made = await api.post(`/templates/${encodeURIComponent(templateId)}/triggers`, name ? { name } : {});
  return { trigger: made, secret: made.secret };
});

const rotate = (templateId, trigger) => act(templateId, async () => {
  if (!confirm(`Rotate the secret of ${trigger.name}? Senders using the old one are refused from now on.`)) return null;
  const made = await api.post(`/triggers/${encodeURIComponent(trigger.id)}/rotate`);
  return { trigger: made, secret: made.secret };
});

const remove = (templateId, trigger) => act(templateId, async () => {
  if (!confirm(`Delete the trigger ${trigger.name}? Its URL refuses every request from now on.`)) return null;
  await api.del(`/triggers/${encodeURIComponent(trigger.id)}`);
  return null;
});

/** Fills #template-triggers with the template's triggers; `fresh` ({trigger, secret}) is shown once. */
export async function showTriggers(templateId, fresh = null) {
  const box = $("template-triggers");
  if (!box) return;
  shownFor = templateId;
  const error = el("p", { class: "error", hidden: true });
  const name = el("input", { type: "text", name: "trigger-name", placeholder: "name (e.g. deploy on push)" });
  const form = el("form", { id: "trigger-form", onsubmit: (event) => { event.preventDefault(); create(templateId, name.value.trim()); } },
    name, el("button", { type: "submit" }, "New trigger"));
  let rows = [];
  try {
    const data = await api.get(`/templates/${encodeURIComponent(templateId)}/triggers`);
    if (shownFor !== templateId) return;  // another template was opened meanwhile
    rows = data.triggers.map((trigger) => row(templateId, trigger));
  } catch (failure) {
    showError(error, failure);
  }
  const table = el("table", {}, el("thead", {}, el("tr", {}, ["Name", "URL", "Limit", "Last used", ""].map((h) => el("th", {}, h)))),
    el("tbody", { id: "trigger-rows" }, rows));
  replaceChildren(box, el("h3", {}, "Signed triggers"), fresh ? secretBox(fresh.trigger, fresh.secret) : null,
    table, rows.length ? null : el("p", { class: "muted" }, "No trigger yet."), form, error);
}
