// Dashboard: the figures of /system/info and /system/enhanced, and the latest jobs.
"use strict";

import * as api from "./api.js";
import { $, el, duration, jobSummary, replaceChildren, shortTime, showError, statusBadge } from "./dom.js";
import { poll } from "./poll.js";

const REFRESH_MS = 10_000;

// Each card: a title, its main figure and the smaller figures under it. Figures are read from the merged
// answers of /system/info and /system/enhanced; data-stat carries the field name.
const CARDS = [
  { title: "Servers", main: "total_servers", parts: [["connected_servers", "connected"], ["disconnected_servers", "disconnected"], ["unchecked_servers", "unchecked"]] },
  { title: "Jobs", main: "total_jobs", parts: [["running_jobs", "running"], ["starting_jobs", "starting"], ["queued_jobs", "queued"]] },
  { title: "Finished", main: "completed_jobs", mainLabel: "completed", parts: [["failed_jobs", "failed"], ["canceled_jobs", "canceled"]] },
  { title: "Success rate", main: "success_rate", format: (v, all) => (finishedJobs(all) ? `${v.toFixed(1)} %` : "–"), parts: [] },
  { title: "Average duration", main: "average_job_duration", format: (v, all) => (finishedJobs(all) ? duration(v) : "–"), parts: [["jobs_per_hour", "jobs in the last hour"]] },
  { title: "Workers", main: "active_workers", mainLabel: "threads", parts: [["worker_running_jobs", "running jobs"], ["total_capacity", "capacity"]] },
];

const finishedJobs = (all) => all.completed_jobs + all.failed_jobs + all.canceled_jobs;

function figures(info, enhanced) {
  const workers = enhanced.worker_status;
  return {
    ...info,
    ...enhanced,
    active_workers: workers.active_workers,
    total_capacity: workers.total_capacity,
    worker_running_jobs: workers.running_jobs,
  };
}

function card(spec, values) {
  const format = spec.format || String;
  return el("article", { class: "card" },
    el("h3", {}, spec.title),
    el("p", { class: "big" },
      el("span", { dataset: { stat: spec.main } }, format(values[spec.main], values)),
      spec.mainLabel ? el("small", {}, ` ${spec.mainLabel}`) : null),
    spec.parts.length ? el("p", { class: "sub" }, spec.parts.flatMap(([field, label], i) => [
      i ? " · " : "",
      el("span", { dataset: { stat: field } }, String(values[field])),
      ` ${label}`,
    ])) : null);
}

function recentRow(job) {
  return el("tr", {},
    el("td", {}, statusBadge(job.status)),
    el("td", { class: "mono ellipsis", title: jobSummary(job) }, el("a", { href: `#/jobs/${encodeURIComponent(job.id)}` }, jobSummary(job))),
    el("td", {}, job.server.name),
    el("td", { title: job.created_at }, shortTime(job.created_at)));
}

let poller = null;

async function refresh() {
  const [info, enhanced, recent] = await Promise.all([
    api.get("/system/info"),
    api.get("/system/enhanced"),
    api.get("/jobs", { limit: 5 }),
  ]);
  const values = figures(info, enhanced);
  replaceChildren($("dash-cards"), CARDS.map((spec) => card(spec, values)));
  replaceChildren($("dash-recent"), recent.jobs.map(recentRow));
  $("dash-recent-empty").hidden = recent.jobs.length > 0;
  $("dash-updated").textContent = `updated ${shortTime(info.timestamp)}`;
  showError($("dash-error"), null);
}

export const dashboard = {
  section: "view-dashboard",
  nav: "dashboard",
  enter() {
    poller = poll(refresh, REFRESH_MS, (error) => showError($("dash-error"), error));
  },
  leave() {
    poller?.stop();
  },
};
