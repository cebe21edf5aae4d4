// The dashboard (`/`): the system's level, a tile per service, open alerts and delays, live.
import { $, KEY, el, api, headers, say, read, scored, rereading, clock, wait } from "./page.js";
import { FIGURES, fmt, sparkline } from "./figures.js";
import { opel, notScored, why, whySystem } from "./levels.js";
import { listen } from "./live.js";

const state = { services: new Map(), alerts: [], changed: new Map() };

// One source for the queue shown and the queue scored: the scored indicator when there is one.
function scoredQueue(scope) {
  const indicator = (scope.indicators || []).find((i) => i.name === "queue_length");
  return indicator && indicator.value !== null ? indicator.value : scope.queue_length;
}

function tile(service) {
  // Its kind's figure from the start: the day's figures, which decide the rest, come later.
  const first = byKind(service) || ["occupancy_pct", "Occupancy"];
  const link = el("a", { href: "/services/" + encodeURIComponent(service.id), textContent: service.name });
  const node = el("article", { className: "tile" },
    el("div", { className: "head" }, el("h3", {}, link), el("span", { className: "level" })),
    el("p", { className: "stale-note", textContent: "Out of date" }),
    el("p", { className: "why" }),
    el("dl", {},
      el("div", {}, el("dt", { textContent: "Queue", title: FIGURES.queue_length[2] }), el("dd", { className: "queue" })),
      el("div", {}, el("dt", { textContent: "Delayed", title: FIGURES.delayed_count[2] }), el("dd", { className: "delayed" })),
      el("div", {}, el("dt", { className: "occupancy-label", textContent: first[1], title: FIGURES[first[0]][2] }), el("dd", { className: "occupancy" }))),
    el("div", { className: "spark-box" }),
    el("p", { className: "meta", textContent: service.organisation }));
  node.dataset.service = service.id;
  node.setAttribute("aria-label", service.name);
  return node;
}
// A tile's third figure, by what its service is: occupancy where it has beds; at a front door
// the patients in the department over 4 h; at a transfer-of-care hub its longest wait (neither
// has stays, so "in service" was always 0 there); else the patients in the service.
function third(service, today) {
  const fixed = byKind(service);
  if (fixed) return fixed;
  if (typeof today.occupancy_pct === "number") return ["occupancy_pct", "Occupancy"];
  return ["in_service", "In service"];
}
function byKind(service) {
  if (service.kind === "acute_front_door") return ["in_department_over_4h", "Over 4 h"];
  if (service.kind === "transfers_of_care") return ["longest_wait_hours", "Longest wait"];
  return null;
}
function drawTile(id) {
  const s = state.services.get(id), node = document.querySelector('[data-service="' + CSS.escape(id) + '"]');
  if (!s || !node) return;
  node.className = "tile" + (s.level ? " level-" + s.level : "");
  node.querySelector(".level").replaceChildren(opel(s));
  node.querySelector(".why").textContent = why(s, state.alerts);
  node.querySelector(".queue").textContent = fmt(scoredQueue(s));
  node.querySelector(".delayed").textContent = fmt(s.delayed ?? 0);
  const today = s.daily && s.daily.length ? s.daily[s.daily.length - 1] : {};
  const [name, short] = third(s, today);
  const label = node.querySelector(".occupancy-label");
  label.textContent = short;
  label.title = FIGURES[name][2];
  const value = today[name];
  node.querySelector(".occupancy").textContent = name === "longest_wait_hours"
    ? wait(typeof value === "number" ? value * 60 : value) : fmt(value, FIGURES[name][1]);
  if (s.daily) node.querySelector(".spark-box").replaceChildren(sparkline(s.daily, "queue_length", s.name + ": queue, daily"));
}
function drawSystem(system) {
  scored(system.scored_at || system.as_of);
  $("system-opel").replaceWith(Object.assign(opel(system), { id: "system-opel" }));
  $("system-opel").title = whySystem(system);
  $("system-queue").textContent = system.queue_length;
}

async function loadDaily(id, days) {
  const s = state.services.get(id);
  s.daily = (await api("/v1/services/" + encodeURIComponent(id) + "/daily?days=" + days)).days;
  drawTile(id);
}
async function loadDelays() {
  const delays = await api("/v1/delays");
  $("system-delayed").textContent = delays.in_beds;
  $("system-home-delayed").textContent = delays.count - delays.in_beds;  // people, each once
  $("system-lost").textContent = delays.lost_bed_days;
  $("system-home-days").textContent = delays.delayed_days_home_based ?? 0;
  const counts = Object.fromEntries(delays.by_service.map((g) => [g.key, g.count]));
  for (const [id, s] of state.services) { s.delayed = counts[id] || 0; drawTile(id); }
  const table = (title, groups) => el("table", {},
    el("caption", { textContent: title }),
    el("thead", {}, el("tr", {}, el("th", { scope: "col", textContent: title.split(" by ")[1].replace(/^./, (c) => c.toUpperCase()) }),
      el("th", { scope: "col", className: "num", textContent: "Patients" }),
      el("th", { scope: "col", className: "num", textContent: "Lost bed days" }),
      el("th", { scope: "col", className: "num", textContent: "Days delayed at home" }))),
    el("tbody", {}, ...(groups.length ? groups.map((g) => el("tr", {}, el("td", { textContent: g.key.replaceAll("_", " ") }),
      el("td", { className: "num", textContent: g.count }), el("td", { className: "num", textContent: g.lost_bed_days }),
      el("td", { className: "num", textContent: g.delayed_days_home_based ?? 0 })))
      : [el("tr", {}, el("td", { colSpan: 4, textContent: "none" }))])));
  $("delays").replaceChildren(table("Delays by reason", delays.by_reason), table("Delays by pathway", delays.by_pathway),
    table("Delays by band (days)", delays.by_band));
}
// A scope as the page names it: the service's name ("System" for the system), else its id.
function scopeName(scope) {
  if (scope === "system") return "System";
  const service = state.services.get(scope);
  return service && service.name ? service.name : scope;
}
// Open alerts, one item per scope: its latest change, and the earlier steps still open (a
// scope that rose 1 → 2 → 3 is one thing to look at, at level 3). Acknowledging the item
// acknowledges every open alert of the scope.
async function loadAlerts() {
  state.alerts = (await api("/v1/alerts?limit=200")).alerts;
  const scopes = new Map();  // newest first, as the API lists them
  for (const a of state.alerts.filter((a) => a.state === "open")) {
    if (!scopes.has(a.scope)) scopes.set(a.scope, []);
    scopes.get(a.scope).push(a);
  }
  $("alerts").replaceChildren(...(scopes.size ? [...scopes.values()].map((group) => {
    const [a, ...earlier] = group;
    const steps = earlier.length ? " (and " + earlier.length + " earlier step" + (earlier.length > 1 ? "s" : "") + " since " + clock(earlier[earlier.length - 1].at) + ")" : "";
    const button = el("button", { type: "button", textContent: "Acknowledge" });
    button.setAttribute("aria-label", "Acknowledge: " + scopeName(a.scope) + " OPEL " + a.level_from + " to " + a.level_to + steps);
    button.addEventListener("click", () => acknowledge(group, button));
    // A first score is an alert from level 1, though no level was shown before it: its level alone.
    const levels = a.reason.startsWith("first scored") ? String(a.level_to) : a.level_from + " → " + a.level_to;
    const said = clock(a.at) + " · " + scopeName(a.scope) + ": OPEL " + levels + " · " + a.reason;
    const item = el("li", {}, el("span", { title: a.scope }, said, earlier.length ? el("span", { className: "meta", textContent: steps }) : null), button);
    item.dataset.alert = a.id;
    item.dataset.alerts = group.map((g) => g.id).join(" ");
    return item;
  }) : [el("li", { textContent: "no open alerts" })]));
  for (const id of state.services.keys()) drawTile(id);
}
async function acknowledge(group, button) {
  button.disabled = true;
  const a = group[0];
  try {
    for (const alert of group) {
      try {
        await api("/v1/alerts/" + encodeURIComponent(alert.id) + "/ack", {
          method: "POST", headers: headers({ "Content-Type": "application/json" }), body: JSON.stringify({ note: "acknowledged from the dashboard" }) });
      } catch (error) {
        if (error.status !== 409) throw error;  // acknowledged meanwhile, by someone else
      }
    }
    const also = group.length > 1 ? " and its " + (group.length - 1) + " earlier step" + (group.length > 2 ? "s" : "") : "";
    say("ack-status", "Acknowledged: " + scopeName(a.scope) + " OPEL " + a.level_to + also + ".");
    await loadAlerts();
  } catch (error) {
    button.disabled = false;
    say("ack-status", error.status === 403 ? "Acknowledging needs the on-call role: enter a key that has it" +
      (sessionStorage.getItem(KEY) ? "." : " (without keys, as in a local trial, nobody has it: set FLOWSIGHT_API_KEYS with an oncall key).") : "Could not acknowledge: " + error.message, true);
  }
}
// Queues of services not scored on their queue, and the system total, as the API counts them.
async function loadQueues() {
  const pressure = await api("/v1/pressure");
  for (const fresh of pressure.services) {
    const s = state.services.get(fresh.id);
    if (s) { s.queue_length = fresh.queue_length; drawTile(fresh.id); }
  }
  $("system-queue").textContent = pressure.system.queue_length;
  scored(pressure.system.scored_at);
}
export async function startDashboard() {
  $("dashboard-view").hidden = false;
  const pressure = await api("/v1/pressure");
  $("tiles").replaceChildren(...pressure.services.map(tile));
  for (const s of pressure.services) state.services.set(s.id, Object.assign(s, { scope: s.id }));
  drawSystem(Object.assign(pressure.system, { scope: "system" }));
  await Promise.all([loadAlerts(), loadDelays(), ...pressure.services.map((s) => loadDaily(s.id, 14))]);
  read(true);
  rereading(() => Promise.all([loadQueues(), loadDelays(), ...[...state.services.keys()].map((s) => loadDaily(s, 14))]));
  listen((scopes) => Promise.all([loadQueues(), loadDelays(), ...scopes.filter((s) => state.services.has(s)).map((s) => loadDaily(s, 14))])
    .then(() => read(true)), { pressure: onPressure, alert: () => loadAlerts() });
}

// A change of a scope's level, drawn at once (its figures are reloaded after the burst).
function onPressure(view) {
  const s = view.scope === "system" ? null : state.services.get(view.scope);
  if (view.scope === "system") {
    drawSystem(Object.assign({ queue_length: $("system-queue").textContent }, view));
    return;
  }
  if (!s) return;
  if (s.level !== view.level && s.level !== undefined) $("announce").textContent = s.name + " is now " + (view.level ? "OPEL " + view.level : notScored(view));
  Object.assign(s, { level: view.level, not_scored_reason: view.not_scored_reason, scored_level: view.scored_level, score: view.score, indicators: view.indicators });
  drawTile(view.scope);
}
