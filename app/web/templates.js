// Job templates: the list, a create/edit form (kind, text, targets, typed parameters), and a launch form built
// from the typed parameters (app/web/parameter_fields.js). The API checks every value again; its 400 (naming the
// parameter) is shown as it is.
//   #/templates        the list and a form for a new template
//   #/templates/<id>   one template: launch it, edit it (a new version), its versions, its triggers
"use strict";

import * as access from "./access.js";
import * as api from "./api.js";
import { $, el, replaceChildren, shortTime, showError } from "./dom.js";
import { parameterField, parameterValues } from "./parameter_fields.js";
import { showTriggers } from "./triggers.js";

const TYPES = ["string", "integer", "boolean", "choice", "secret"];
let current = null;  // the template shown, or null for a new one

// ----- parameters editor ------------------------------------------------------------------------------

// The "rule" box of a row: a string's pattern, an integer's min..max, a choice's comma-separated choices.
function ruleOf(parameter) {
  if (parameter.type === "integer" && (parameter.min !== null || parameter.max !== null)) {
    return `${parameter.min ?? ""}..${parameter.max ?? ""}`;
  }
  if (parameter.type === "choice") return (parameter.choices || []).join(",");
  return parameter.pattern || "";
}

function parameterRow(parameter = { type: "string", required: false, default: null }) {
  const row = el("tr", { class: "parameter-row" },
    el("td", {}, el("input", { name: "p-name", value: parameter.name || "", "aria-label": "parameter name",
      pattern: "[a-z][a-z0-9_]{0,62}", placeholder: "lower_case" })),
    el("td", {}, el("select", { name: "p-type", "aria-label": "parameter type" },
      TYPES.map((type) => el("option", { value: type, selected: type === parameter.type }, type)))),
    el("td", {}, el("input", { name: "p-label", value: parameter.label || "", "aria-label": "parameter label" })),
    el("td", {}, el("input", { name: "p-required", type: "checkbox", checked: parameter.required,
      "aria-label": "required" })),
    el("td", {}, el("input", { name: "p-default", "aria-label": "parameter default",
      value: parameter.default === null || parameter.default === undefined ? "" : String(parameter.default) })),
    el("td", {}, el("input", { name: "p-rule", value: ruleOf(parameter), "aria-label": "parameter rule",
      placeholder: "pattern · 1..10 · a,b,c" })),
    el("td", {}, el("button", { type: "button", class: "remove-parameter",
      onclick: () => row.remove() }, "Remove")));
  return row;
}

function parameterOf(row) {
  const value = (name) => row.querySelector(`[name=${name}]`).value.trim();
  const type = value("p-type");
  const parameter = { name: value("p-name"), type, required: row.querySelector("[name=p-required]").checked };
  if (value("p-label")) parameter.label = value("p-label");
  const rule = value("p-rule");
  const given = value("p-default");
  if (type === "integer") {
    const [low, high] = rule.split("..");
    if (low) parameter.min = Number(low);
    if (high) parameter.max = Number(high);
    if (given) parameter.default = /^-?\d+$/.test(given) ? Number(given) : given;
  } else if (type === "boolean") {
    if (given) parameter.default = given === "true" ? true : given === "false" ? false : given;
  } else {
    if (type === "choice") parameter.choices = rule.split(",").map((one) => one.trim()).filter(Boolean);
    else if (rule && type === "string") parameter.pattern = rule;
    if (given) parameter.default = given;  // a secret's default is refused by the API, with its reason
  }
  return parameter;
}

// ----- the definition form ----------------------------------------------------------------------------

function fillForm(template) {
  const form = $("template-form");
  form.reset();
  form.elements.name.value = template?.name || "";
  form.elements.description.value = template?.description || "";
  form.elements.kind.value = template?.kind || "command";
  form.elements.text.value = template ? (template.command ?? template.script ?? template.playbook ?? "") : "";
  form.elements.timeout.value = template?.timeout ?? 300;
  const targetKind = template?.group ? "group" : template?.server_ids ? "server_ids" : "server_id";
  form.elements.target_kind.value = targetKind;
  form.elements.target.value = template?.group || (template?.server_ids || []).join(",") || template?.server_id || "";
  replaceChildren($("template-parameters"), (template?.parameters || []).map(parameterRow));
  $("template-save").textContent = template ? `Save as version ${template.version + 1}` : "Create template";
}

function definitionOf(form) {
  const kind = form.elements.kind.value;
  const text = form.elements.text.value;
  const body = {
    name: form.elements.name.value.trim(),
    kind,
    timeout: Number(form.elements.timeout.value) || 300,
    parameters: [...document.querySelectorAll("#template-parameters .parameter-row")].map(parameterOf),
  };
  if (form.elements.description.value.trim()) body.description = form.elements.description.value.trim();
  body[{ command: "command", script: "script", playbook: "playbook" }[kind]] = text;
  const target = form.elements.target.value.trim();
  const targetKind = form.elements.target_kind.value;
  body[targetKind] = targetKind === "server_ids" ? target.split(",").map((one) => one.trim()).filter(Boolean) : target;
  return body;
}

async function save(event) {
  event.preventDefault();
  const body = definitionOf(event.currentTarget);
  try {
    const saved = current
      ? await api.put(`/templates/${encodeURIComponent(current.id)}`, body)
      : await api.post("/templates", body);
    showError($("template-error"), null);
    if (current) await show(saved.id);
    else location.hash = `#/templates/${encodeURIComponent(saved.id)}`;
  } catch (error) {
    showError($("template-error"), error);
  }
}

// ----- the launch form --------------------------------------------------------------------------------

async function launch(event) {
  event.preventDefault();
  const form = event.currentTarget;
  if (!form.reportValidity()) return;  // the browser's own message on the field (required, pattern, bounds)
  try {
    const created = await api.post(`/templates/${encodeURIComponent(current.id)}/launch`, { parameters: parameterValues(form) });
    showError($("launch-error"), null);
    location.hash = created.batch_id
      ? `#/jobs?batch_id=${encodeURIComponent(created.batch_id)}`
      : `#/jobs/${encodeURIComponent(created.id)}`;
  } catch (error) {
    showError($("launch-error"), error);
  }
}

// ----- views ------------------------------------------------------------------------------------------

function targetsText(template) {
  if (template.group) return `group ${template.group}`;
  if (template.server_ids) return `${template.server_ids.length} servers`;
  return `server ${template.server_id}`;
}

async function list() {
  const data = await api.get("/templates");
  replaceChildren($("templates-rows"), data.templates.map((template) => el("tr", { dataset: { template: template.name } },
    el("td", {}, el("a", { href: `#/templates/${encodeURIComponent(template.id)}` }, template.name)),
    el("td", {}, String(template.version)),
    el("td", {}, template.kind),
    el("td", {}, targetsText(template)),
    el("td", { class: "mono" }, template.parameters.map((p) => p.name).join(", ") || "–"),
    el("td", {}, `${shortTime(template.updated_at)} by ${template.updated_by || "–"}`))));
}

async function show(id) {
  current = await api.get(`/templates/${encodeURIComponent(id)}`);
  $("template-title").textContent = `${current.name} (version ${current.version})`;
  replaceChildren($("launch-fields"), current.parameters.map(parameterField));
  fillForm(current);
  const versions = await api.get(`/templates/${encodeURIComponent(id)}/versions`);
  replaceChildren($("template-versions"), versions.versions.map((one) =>
    el("li", {}, `version ${one.version}, ${shortTime(one.created_at)} by ${one.created_by || "–"}`)));
  await showTriggers(current.id);
}

export const templates = {
  section: "view-templates",
  nav: "templates",
  needs: "templates.list_templates",
  enter(params) {
    for (const id of ["templates-error", "template-error", "launch-error"]) showError($(id), null);
    const one = Boolean(params.id);
    $("templates-list").hidden = one;
    $("template-detail").hidden = !one;
    current = null;
    if (one) {
      show(params.id).catch((error) => showError($("templates-error"), error));
    } else {
      fillForm(null);
      list().catch((error) => showError($("templates-error"), error));
    }
    access.apply($("view-templates"));
  },
  leave() {},
};

$("template-form").addEventListener("submit", save);
$("launch-form").addEventListener("submit", launch);
$("add-parameter").addEventListener("click", () => $("template-parameters").append(parameterRow()));
$("template-new").addEventListener("click", () => {
  current = null;
  fillForm(null);
  $("template-form").scrollIntoView();
});
