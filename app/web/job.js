// One job: its details, cancel and duplicate, and its log tailed live over EventSource. The stream replays
// the stored output first, then live chunks. After a network drop the browser reconnects by itself and
// sends Last-Event-ID; when it gives up (an HTTP error such as a 503 or a refused key), the page reopens
// the stream with ?last_event_id= itself, so the log resumes exactly after the last chunk shown.
"use strict";

import * as api from "./api.js";
import { $, ACTIVE, duration, el, fullTime, jobDuration, replaceChildren, showError, statusText } from "./dom.js";

const REOPEN_FIRST_MS = 1_000;
const REOPEN_MAX_MS = 30_000;

let current = null;  // the job on screen: { id, job, source, lastSeq, finished, reopenDelay, timer, ticker }
let follow = true;

function setConn(text) {
  $("conn").textContent = text;
}

function setStatus(job) {
  const badge = $("job-status");
  const active = ACTIVE.includes(job.status);
  badge.textContent = statusText(job);
  badge.className = `status ${job.status}`;
  badge.title = job.contact_lost_at ? `lost contact with the server at ${job.contact_lost_at}; reconnecting` : "";
  $("cancel-job").disabled = !active || Boolean(job.cancel_requested_at);
  $("duplicate-job").disabled = false;
  $("download-log").disabled = false;
}

function meta(term, ...value) {
  return [el("dt", {}, term), el("dd", {}, ...value)];
}

function renderDetails(job) {
  setStatus(job);
  const failure = job.failure_reason ? `${job.failure_reason}${job.error ? `: ${job.error}` : ""}` : job.error;
  replaceChildren($("job-meta"),
    meta("Server", el("a", { href: "#/servers" }, job.server.name), ` (${job.server.hostname})`),
    meta("Kind", job.kind === "script" ? `script, run by ${job.shell}` : "command"),
    meta("Timeout", `${job.timeout} s`),
    meta("Priority", String(job.priority)),
    meta("Created", fullTime(job.created_at)),
    job.submitted_by ? meta("Submitted by", job.submitted_by) : [],
    job.canceled_by ? meta("Canceled by", job.canceled_by) : [],
    meta("Started", fullTime(job.started_at)),
    meta("Finished", fullTime(job.finished_at)),
    meta("Duration", el("span", { id: "job-duration" }, duration(jobDuration(job)))),
    job.exit_code !== null && job.exit_code !== undefined ? meta("Exit code", String(job.exit_code)) : [],
    failure ? meta("Failure", failure) : [],
    job.output_truncated ? meta("Output", "capped: the middle was left out (head and tail kept)") : [],
    job.output_pruned_at ? meta("Output", `deleted by the retention on ${fullTime(job.output_pruned_at)}`) : []);
  const text = job.kind === "script" ? job.script : [job.command, job.args].filter(Boolean).join(" ");
  $("job-text").textContent = text;
  $("job-text").hidden = !text;
}

// A running job's duration counts up on screen; the stream only speaks when something changes.
function tickDuration(view) {
  clearInterval(view.ticker);
  view.ticker = setInterval(() => {
    const running = view === current && view.job && view.job.started_at && !view.job.finished_at;
    if (!running) { clearInterval(view.ticker); return; }
    $("job-duration").textContent = duration(jobDuration(view.job));
  }, 1000);
}

// Chunks that arrived since the last frame are added together, then one scroll: a long replay (many chunks
// at once) costs one layout per frame rather than one per chunk.
let pending = [];
// Each run of chunks up to a line end is a block of its own. In one block of inline text, every append made
// the browser lay out the whole log again (measured: ~1 s per chunk with 10 MiB shown, 1 ms with blocks).
let openBlock = null;  // the block whose last chunk did not end a line

function appendOutput(data, seq) {
  const span = document.createElement("span");
  span.className = data.type === "stderr" ? "stderr" : "stdout";
  span.textContent = data.content;
  if (seq) span.dataset.seq = String(seq);
  if (pending.push(span) === 1) requestAnimationFrame(flushOutput);
}

function flushOutput() {
  const log = $("log");
  const blocks = [];
  for (const span of pending) {
    if (!openBlock) {
      openBlock = document.createElement("div");
      blocks.push(openBlock);
    }
    openBlock.append(span);
    if (span.textContent.endsWith("\n")) openBlock = null;
  }
  pending = [];
  log.append(...blocks);
  if (follow) log.scrollTop = log.scrollHeight;
}

function open(view) {
  const source = new EventSource(api.streamUrl(view.id, view.lastSeq));
  view.source = source;
  source.onopen = () => {
    setConn("live");
    view.reopenDelay = REOPEN_FIRST_MS;
  };
  source.onerror = () => {
    if (view !== current || view.finished) return;
    setConn("reconnecting…");
    if (source.readyState === EventSource.CLOSED) scheduleReopen(view);
  };
  source.addEventListener("status", (e) => {
    view.job = { ...view.job, ...JSON.parse(e.data) };
    renderDetails(view.job);
    tickDuration(view);
  });
  source.addEventListener("output", (e) => {
    const seq = Number(e.lastEventId) || 0;
    if (seq && seq <= view.lastSeq) return;  // already shown
    if (seq) view.lastSeq = seq;
    appendOutput(JSON.parse(e.data), seq);
  });
  source.addEventListener("complete", (e) => {
    const data = JSON.parse(e.data);
    view.finished = true;
    source.close();
    view.job = { ...view.job, ...data };
    renderDetails(view.job);
    $("job-exit").textContent = data.exit_code === null ? (data.error || "") : `exit code ${data.exit_code}`;
    setConn("finished");
    reloadDetails(view);
  });
}

// The stream and the cancel answer carry the status, not who acted: the details are read again for that
// ("Canceled by", whoever asked, from this page or elsewhere).
async function reloadDetails(view) {
  try {
    const fresh = await api.get(`/jobs/${encodeURIComponent(view.id)}`, { include_output: false });
    if (view !== current) return;
    view.job = { ...view.job, ...fresh };
    renderDetails(view.job);
  } catch (error) {
    // The details on screen stay; the log and its status already say how the job ended.
  }
}

function scheduleReopen(view) {
  view.source?.close();
  clearTimeout(view.timer);
  view.timer = setTimeout(async () => {
    if (view !== current) return;
    try {
      // Asks for a key if the stream was refused for want of one, and tells a deleted job from a hiccup.
      view.job = await api.get(`/jobs/${encodeURIComponent(view.id)}`, { include_output: false });
    } catch (error) {
      if (error.status === 404 || error.status === 401) {
        showError($("job-error"), error);
        setConn("closed");
        return;
      }
      view.reopenDelay = Math.min(view.reopenDelay * 2, REOPEN_MAX_MS);
      scheduleReopen(view);
      return;
    }
    open(view);
  }, view.reopenDelay);
}

async function load(view) {
  try {
    view.job = await api.get(`/jobs/${encodeURIComponent(view.id)}`, { include_output: false });
  } catch (error) {
    if (view !== current) return;
    showError($("job-error"), error);
    $("job-status").textContent = "unknown";
    setConn("");
    return;
  }
  if (view !== current) return;
  renderDetails(view.job);
  open(view);
}

async function cancel() {
  const button = $("cancel-job");
  button.disabled = true;
  try {
    const canceled = await api.post(`/jobs/${encodeURIComponent(current.id)}/cancel`);
    current.job = { ...current.job, ...canceled };
    renderDetails(current.job);
    reloadDetails(current);
  } catch (error) {
    showError($("job-error"), error);
    button.disabled = false;
  }
}

async function duplicate() {
  const button = $("duplicate-job");
  button.disabled = true;
  try {
    const data = await api.post(`/jobs/${encodeURIComponent(current.id)}/duplicate`);
    location.hash = `#/jobs/${encodeURIComponent(data.new_job.id)}`;
  } catch (error) {
    showError($("job-error"), error);
    button.disabled = false;
  }
}

async function download() {
  try {
    const blob = await api.text(`/jobs/${encodeURIComponent(current.id)}/logs`);
    const link = el("a", { href: URL.createObjectURL(blob), download: `job-${current.id}.log` });
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  } catch (error) {
    showError($("job-error"), error);
  }
}

let wired = false;

function wire() {
  if (wired) return;
  wired = true;
  const log = $("log");
  // Auto-scroll only while the user is at the bottom: scrolling up stops it, scrolling back down (or
  // "Follow new output") resumes it.
  log.addEventListener("scroll", () => {
    follow = log.scrollHeight - log.scrollTop - log.clientHeight < 4;
    $("follow").hidden = follow;
  });
  $("follow").addEventListener("click", () => {
    follow = true;
    log.scrollTop = log.scrollHeight;
    $("follow").hidden = true;
  });
  for (const stream of ["stdout", "stderr"]) {
    $(`show-${stream}`).addEventListener("change", (e) => log.classList.toggle(`hide-${stream}`, !e.target.checked));
  }
  $("cancel-job").addEventListener("click", cancel);
  $("duplicate-job").addEventListener("click", duplicate);
  $("download-log").addEventListener("click", download);
}

export const job = {
  section: "view-job",
  nav: "jobs",
  enter(params) {
    wire();
    current = { id: params.id, job: null, source: null, lastSeq: 0, finished: false, reopenDelay: REOPEN_FIRST_MS, timer: null, ticker: null };
    follow = true;
    $("follow").hidden = true;
    $("log").replaceChildren();
    pending = [];
    openBlock = null;
    $("job-title").textContent = `Job ${params.id}`;
    $("job-status").textContent = "loading";
    $("job-status").className = "status";
    $("job-exit").textContent = "";
    $("job-text").textContent = "";
    $("job-text").hidden = true;
    $("job-meta").replaceChildren();
    for (const id of ["cancel-job", "duplicate-job", "download-log"]) $(id).disabled = true;
    showError($("job-error"), null);
    setConn("connecting…");
    load(current);
  },
  leave() {
    if (!current) return;
    current.source?.close();
    clearTimeout(current.timer);
    clearInterval(current.ticker);
    current = null;
  },
};
