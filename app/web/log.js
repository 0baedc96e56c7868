// Live log view of one job: EventSource on /api/v1/jobs/<id>/stream. The browser reconnects by itself
// after a network drop and sends Last-Event-ID, so the stream resumes exactly after the last chunk shown.
"use strict";

const $ = (id) => document.getElementById(id);

function tail(jobId) {
  $("pick-job").hidden = true;
  $("log-view").hidden = false;
  $("job-title").textContent = jobId;
  const log = $("log");
  let follow = true;

  // Auto-scroll only while the user is at the bottom; scrolling up stops it until "Follow" is pressed.
  log.addEventListener("scroll", () => {
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 4;
    follow = atBottom;
    $("follow").hidden = atBottom;
  });
  $("follow").addEventListener("click", () => {
    follow = true;
    log.scrollTop = log.scrollHeight;
    $("follow").hidden = true;
  });
  for (const stream of ["stdout", "stderr"]) {
    $(`show-${stream}`).addEventListener("change", (e) => log.classList.toggle(`hide-${stream}`, !e.target.checked));
  }

  const source = new EventSource(`/api/v1/jobs/${encodeURIComponent(jobId)}/stream`);
  source.onopen = () => { $("conn").textContent = "live"; };
  source.onerror = () => {
    $("conn").textContent = source.readyState === EventSource.CLOSED ? "closed" : "reconnecting…";
  };
  source.addEventListener("status", (e) => {
    const data = JSON.parse(e.data);
    const badge = $("job-status");
    badge.textContent = data.cancel_requested_at && data.status === "running" ? "canceling" : data.status;
    badge.className = `status ${data.status}`;
  });
  source.addEventListener("output", (e) => {
    const data = JSON.parse(e.data);
    const span = document.createElement("span");
    span.className = data.type;
    span.textContent = data.content;
    span.dataset.seq = e.lastEventId;
    log.appendChild(span);
    if (follow) log.scrollTop = log.scrollHeight;
  });
  source.addEventListener("complete", (e) => {
    const data = JSON.parse(e.data);
    $("job-exit").textContent = data.exit_code === null ? (data.error || "") : `exit code ${data.exit_code}`;
    $("conn").textContent = "finished";
    source.close();
  });
}

$("job-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const id = $("job-id").value.trim();
  if (id) { history.pushState({}, "", `?job=${encodeURIComponent(id)}`); tail(id); }
});

const requested = new URLSearchParams(location.search).get("job");
if (requested) tail(requested);
