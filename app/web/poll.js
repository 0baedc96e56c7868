// Keeps a view up to date: runs `refresh` now and then every `intervalMs` after it ends (never two at once),
// pauses while the tab is hidden, and backs off on errors (as long as a 429 asks).
"use strict";

export function poll(refresh, intervalMs, onError = () => {}) {
  let timer = null;
  let running = false;
  let again = false;
  let stopped = false;
  let failures = 0;

  async function tick() {
    clearTimeout(timer);
    timer = null;
    if (stopped) return;
    if (running) { again = true; return; }  // asked for fresh data while a refresh is in flight
    if (document.hidden) return;  // resumed by visibilitychange
    running = true;
    let wait = intervalMs;
    try {
      await refresh();
      failures = 0;
    } catch (error) {
      failures += 1;
      wait = error.retryAfter ? error.retryAfter * 1000 : Math.min(intervalMs * 2 ** failures, 60_000);
      onError(error);
    } finally {
      running = false;
    }
    if (stopped) return;
    if (again) { again = false; tick(); return; }
    timer = setTimeout(tick, wait);
  }

  const onVisibility = () => { if (!document.hidden && !timer && !running) tick(); };
  document.addEventListener("visibilitychange", onVisibility);
  tick();
  return {
    now: tick,
    stop() {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener("visibilitychange", onVisibility);
    },
  };
}
