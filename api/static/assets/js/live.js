// The live feed of pressure changes and alerts.
import { headers, askForKey, HttpError, say, clock, report, scored } from "./page.js";

// The live feed: server-sent events read with fetch, so the request carries the key. `reload`
// takes the scopes a burst of changes touched; `on.pressure` draws a change at once, and
// `on.alert` takes an alert instead of a reload of its scope.
export function listen(reload, on = {}) {
  // The changes of a burst (every scope of a refresh) reload the figures once, 300 ms after its
  // first change, for every scope they touched; a steady stream of changes still reloads.
  const pending = new Set();
  let timer = null;
  const later = (scope) => {
    pending.add(scope);
    if (timer !== null) return;
    timer = setTimeout(() => {
      const scopes = [...pending];
      pending.clear();
      timer = null;
      reload(scopes).catch(report);
    }, 300);
  };
  const handle = (kind, data) => {
    if (kind === "pressure") {
      // The system's scores come every refresh: when they stop, the figures are said out of date.
      if (data.scope === "system") scored(data.scored_at || data.as_of);
      if (on.pressure) on.pressure(data);
      later(data.scope);
    }
    else if (kind === "alert" && on.alert) on.alert(data).catch(report);
    else if (kind === "alert") later(data.scope);
    else if (kind === "resync") location.reload();
  };
  let lastId = "";  // where the stream was: a reconnection resumes there and misses nothing
  const connect = async (delay) => {
    try {
      const wanted = { Accept: "text/event-stream" };
      if (lastId) wanted["Last-Event-ID"] = lastId;
      const response = await fetch("/v1/stream", { headers: headers(wanted) });
      if (response.status === 401) askForKey();
      if (!response.ok) {
        // Refused for a limit (429: this key's streams, or the process's): say which, and wait
        // as long as the API asks before trying again.
        const error = new HttpError("/v1/stream", response.status);
        error.retryAfter = Number(response.headers.get("Retry-After")) || 0;
        error.detail = (await response.json().catch(() => ({}))).detail;
        throw error;
      }
      say("status", "Live · connected " + clock(new Date().toISOString()));
      delay = 1000;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replaceAll("\r\n", "\n");
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end); buffer = buffer.slice(end + 2);
          let kind = "message", data = "";
          for (const line of block.split("\n")) {
            if (line.startsWith("event:")) kind = line.slice(6).trim();
            else if (line.startsWith("data:")) data += line.slice(5).trim();
            else if (line.startsWith("id:")) lastId = line.slice(3).trim();
          }
          if (data) handle(kind, JSON.parse(data));
        }
      }
      say("status", "Live feed ended; reconnecting…", true);
    } catch (error) {
      if (error.status === 401) return;
      if (error.retryAfter) delay = Math.max(delay, error.retryAfter * 1000);
      say("status", error.detail ? "Live feed refused: " + error.detail + "; trying again in " + Math.round(delay / 1000) + " s"
        : "Live feed lost (" + error.message + "); reconnecting…", true);
    }
    setTimeout(() => connect(Math.min(delay * 2, 30000)), delay);
  };
  connect(1000);
}
