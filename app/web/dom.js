// DOM helpers. Text always goes in as text (textContent, text nodes, attributes): nothing that came from a
// user or the API is ever parsed as HTML.
"use strict";

export const $ = (id) => document.getElementById(id);

/** el("a", {href: "#/jobs", class: "x", onclick: fn}, "text", child) */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function replaceChildren(node, ...children) {
  node.replaceChildren();
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) node.append(child instanceof Node ? child : String(child));
  }
}

/** Shows an error message in a role=alert element, or hides it when message is empty. */
export function showError(node, error) {
  const message = error ? (error.message || String(error)) : "";
  node.textContent = message;
  node.hidden = !message;
}

const pad = (n) => String(n).padStart(2, "0");

/** A compact local time: "14:03:22" today, "2024-12-09 14:03" before. */
export function shortTime(iso) {
  if (!iso) return "–";
  const when = new Date(iso);
  const clock = `${pad(when.getHours())}:${pad(when.getMinutes())}:${pad(when.getSeconds())}`;
  if (when.toDateString() === new Date().toDateString()) return clock;
  return `${when.getFullYear()}-${pad(when.getMonth() + 1)}-${pad(when.getDate())} ${clock.slice(0, 5)}`;
}

/** Local date and time, "2024-12-09 14:03:22". */
export function fullTime(iso) {
  if (!iso) return "–";
  const when = new Date(iso);
  const date = `${when.getFullYear()}-${pad(when.getMonth() + 1)}-${pad(when.getDate())}`;
  return `${date} ${pad(when.getHours())}:${pad(when.getMinutes())}:${pad(when.getSeconds())}`;
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "–";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 90) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  if (seconds < 5400) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

export function jobDuration(job) {
  if (!job.started_at) return null;
  const end = job.finished_at ? new Date(job.finished_at) : new Date();
  return (end - new Date(job.started_at)) / 1000;
}

/** One line saying what a job runs: "ls -la /var/log", or the script's first meaningful line. */
export function jobSummary(job) {
  if (job.kind === "script") {
    const lines = (job.script || "").split("\n").map((line) => line.trim());
    const first = lines.find((line) => line && !line.startsWith("#!")) || "";
    return `script: ${first}`;
  }
  return job.args ? `${job.command} ${job.args}` : job.command || "";
}

export function statusBadge(status, extraClass = "") {
  return el("span", { class: `status ${status} ${extraClass}`.trim() }, status);
}

/** The statuses of a job that has not ended (it can be canceled). */
export const ACTIVE = ["queued", "starting", "running"];

/** What a job's status badge says: its status, or what is happening to it while it runs. */
export function statusText(job) {
  if (!ACTIVE.includes(job.status)) return job.status;
  if (job.cancel_requested_at) return "canceling";
  if (job.contact_lost_at) return "reconnecting";
  return job.status;
}
