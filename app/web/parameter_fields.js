// A form's fields for a template's typed parameters (a secret as a password input, choices as a select, a
// boolean as a checkbox, an integer as a number within its range), and the values they hold. Shared by the
// template's launch form and the schedule form; the API checks every value again and names a bad one.
"use strict";

import { el } from "./dom.js";

/** The labelled control for one parameter (its name is the parameter's, data-type its type). */
export function parameterField(parameter) {
  const label = parameter.label || parameter.name;
  let control;
  if (parameter.type === "boolean") {
    control = el("input", { type: "checkbox", name: parameter.name, checked: parameter.default === true });
  } else if (parameter.type === "choice") {
    control = el("select", { name: parameter.name, required: parameter.required },
      parameter.required ? null : el("option", { value: "" }, "–"),
      parameter.choices.map((choice) => el("option", { value: choice, selected: choice === parameter.default }, choice)));
  } else if (parameter.type === "integer") {
    control = el("input", { type: "number", step: 1, name: parameter.name, required: parameter.required && parameter.default === null,
      min: parameter.min, max: parameter.max, value: parameter.default ?? "" });
  } else {
    control = el("input", {
      type: parameter.type === "secret" ? "password" : "text", name: parameter.name, autocomplete: "off",
      required: parameter.required && parameter.default === null, value: parameter.default ?? "",
      pattern: parameter.pattern || undefined,
    });
  }
  control.dataset.type = parameter.type;
  return el("label", { class: "launch-field", title: parameter.description || "" },
    `${label}${parameter.required ? " *" : ""} `, control,
    parameter.description ? el("span", { class: "muted small" }, ` ${parameter.description}`) : null);
}

/** The values of the parameter fields inside ``container``: an empty one is left out (the template's default). */
export function parameterValues(container) {
  const values = {};
  for (const control of container.querySelectorAll("[data-type]")) {
    if (control.dataset.type === "boolean") values[control.name] = control.checked;
    else if (control.value === "") continue;  // its default, or "is required" from the API
    else if (control.dataset.type === "integer") values[control.name] = /^-?\d+$/.test(control.value) ? Number(control.value) : control.value;
    else values[control.name] = control.value;
  }
  return values;
}
