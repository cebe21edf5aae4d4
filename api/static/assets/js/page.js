// The page's parts every view uses: the API with the user's key, messages, the figures' freshness.

export const KEY = "flowsight-api-key";
export const $ = (id) => document.getElementById(id);

export function el(tag, props, ...children) {
  const node = Object.assign(document.createElement(tag), props || {});
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}
export function headers(extra) {
  const key = sessionStorage.getItem(KEY);
  return Object.assign(key ? { Authorization: "Bearer " + key } : {}, extra || {});
}
// The API's refusals are problem documents (RFC 9457): their detail says what was wrong in words.
export class HttpError extends Error {
  constructor(path, status, detail) { super(detail || path + ": HTTP " + status); this.status = status; }
}
// An API that does not answer within this is not answering: the figures are marked out of date.
const ANSWER_WITHIN_MS = 20000;
export async function api(path, options) {
  const response = await fetch(path, Object.assign({ headers: headers(), signal: AbortSignal.timeout(ANSWER_WITHIN_MS) }, options || {}));
  if (response.status === 401) askForKey();
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    throw new HttpError(path, response.status, typeof problem.detail === "string" ? problem.detail : "");
  }
  return response.json();
}
export function askForKey() {
  $("key-form").hidden = false;
  $("key-input").focus();
  throw new HttpError("a key is needed", 401);
}
export function say(id, text, isError) {
  $(id).textContent = text;
  $(id).className = isError ? "meta error" : "meta";
}
// When the figures shown were read, and whether they are still being read: every minute, and
// at once on each change the live feed brings (a delay's lost bed days grow at midnight, a
// corrected Discharge Ready Date moves no pressure score: neither comes as a change).
// The worker scores pressure at every refresh (30 s by default), with or without new events:
// scores older than this mean it has stopped, whatever the API still answers.
const REREAD_MS = 60000;
const SCORED_LATE_MS = 3 * 60000;
let readAt = null;
let scoredAt = null;
export function read(ok) {
  if (ok) readAt = new Date();
  const late = scoredAt !== null && Date.now() - scoredAt.getTime() > SCORED_LATE_MS;
  const stale = !ok || !readAt || late;
  document.body.classList.toggle("stale", stale && readAt !== null);
  $("as-of").textContent = readAt === null ? "" : late
    ? "Figures NOT up to date: last scored " + clock(scoredAt.toISOString()) + "; the worker has not scored since"
    : (stale ? "Figures NOT up to date: last read " : "Figures as of ") +
      clock(readAt.toISOString()) + (stale ? "" : " · read again every minute and on each change");
  $("as-of").className = stale && readAt !== null ? "meta error" : "meta";
}
export function scored(at) {
  if (at) scoredAt = new Date(at);
}
export function rereading(reload) {
  const again = () => reload().then(() => read(true), (error) => { read(false); report(error); });
  setInterval(again, REREAD_MS);
  return again;
}
export function clock(iso) {
  return new Date(iso).toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", timeZone: "Europe/London" });
}
export function wait(minutes) {
  if (minutes === null || minutes === undefined) return "–";
  if (minutes < 60) return Math.round(minutes) + " min";
  if (minutes < 60 * 48) return (minutes / 60).toFixed(1) + " h";
  return (minutes / 1440).toFixed(1) + " days";
}

export function report(error) {
  if (error.status === 401) { say("status", "Enter an API key to see the figures.", true); return; }
  say("status", "Cannot load: " + error.message, true);
}
