// Settings that change while the service runs (administrators): each with its value in effect, where it comes
// from, and an edit control. The API checks every value (bounds, choices): its 400 is shown as it is.
"use strict";

import * as api from "./api.js";
import { $, el, fullTime, replaceChildren, shortTime, showError } from "./dom.js";

const SOURCES = { runtime: "set at runtime", environment: "environment", default: "default" };

// What the control holds, as the API takes it: an integer as a number; anything else as typed, for the API to
// refuse with its own message (a number input may hold text the browser cannot read as a number).
function valueOf(setting, control) {
  if (setting.type !== "integer") return control.value;
  const text = control.value.trim();
  return /^-?\d+$/.test(text) ? Number(text) : text;
}

async function save(changes, control) {
  control.disabled = true;
  try {
    await api.request("PATCH", "/settings", { body: changes });
    showError($("settings-error"), null);
    await refresh();
  } catch (error) {
    showError($("settings-error"), error);
  } finally {
    control.disabled = false;
  }
}

function editor(setting) {
  if (setting.choices) {
    return el("select", { name: setting.name, "aria-label": setting.name },
      setting.choices.map((choice) => el("option", { value: choice, selected: choice === setting.value }, choice)));
  }
  return el("input", {
    name: setting.name, type: "number", step: 1, value: setting.value, "aria-label": setting.name,
    min: setting.minimum, max: setting.maximum,
    title: `${setting.minimum}–${setting.maximum}`,
  });
}

function row(setting) {
  const control = editor(setting);
  const saveButton = el("button", {
    type: "button", class: "save-setting",
    onclick: (event) => save({ [setting.name]: valueOf(setting, control) }, event.currentTarget),
  }, "Save");
  const reset = setting.source === "runtime" ? el("button", {
    type: "button", class: "reset-setting", title: `back to ${setting.environment_value}`,
    onclick: (event) => save({ [setting.name]: null }, event.currentTarget),
  }, "Reset") : null;
  const changed = setting.changed_at
    ? el("span", { title: fullTime(setting.changed_at) }, `${shortTime(setting.changed_at)} by ${setting.changed_by}`)
    : el("span", { class: "muted" }, "–");
  return el("tr", { dataset: { setting: setting.name, source: setting.source } },
    el("td", { title: setting.description }, el("strong", { class: "mono" }, setting.name),
      el("div", { class: "muted small" }, setting.effect)),
    el("td", {}, control),
    el("td", { class: "setting-source" }, SOURCES[setting.source] || setting.source),
    el("td", { class: "mono" }, `${setting.environment_value} (${setting.environment_source})`),
    el("td", {}, changed),
    el("td", { class: "actions" }, saveButton, reset ? " " : null, reset));
}

async function refresh() {
  const data = await api.get("/settings");
  replaceChildren($("settings-rows"), data.settings.map(row));
}

export const settings = {
  section: "view-settings",
  nav: "settings",
  needs: "settings.list_settings",
  enter() {
    showError($("settings-error"), null);
    refresh().catch((error) => showError($("settings-error"), error));
  },
  leave() {},
};
