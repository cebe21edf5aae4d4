// OPEL levels as the pages show them, and why a scope is at its level.
import { el, clock } from "./page.js";
import { label, fmt } from "./figures.js";

// A scope with no level is not scored (its level unknown), never OPEL 1; its title says why.
export function opel(scope) {
  const level = scope.level;
  return el("span", { className: "opel" + (level ? " opel-" + level : ""), textContent: level ? "OPEL " + level : "not scored",
    title: level ? "" : notScored(scope) });
}
export function notScored(scope) {
  return "not scored: " + (scope.not_scored_reason || "no figures yet");
}

// Why a scope is at its level: the indicators scored above 1, or the hold of a lower score (since
// the alert, among `alerts`, that raised it).
export function why(scope, alerts) {
  if (!scope.level) return notScored(scope);
  const parts = [];
  if (scope.scored_level && scope.level > scope.scored_level) {
    const raised = alerts.find((a) => a.scope === scope.scope && a.level_to === scope.level);
    parts.push("held at " + scope.level + (raised ? " since " + clock(raised.at) : "") +
      "; scores " + scope.scored_level + " now (a lower level is published once it has held for the hold period)");
  }
  for (const i of scope.indicators || []) {
    if (i.level === null || i.level <= 1) continue;
    const threshold = i.thresholds["level" + i.level];
    parts.push(label(i.name).toLowerCase() + " " + fmt(i.value, i.unit) + (i.higher_is_worse ? " ≥ " : " ≤ ") + fmt(threshold, i.unit));
  }
  return parts.join("; ") || "every indicator at level 1";
}
// Why the system is at its level: it has no indicators of its own, only its services' levels.
export function whySystem(system) {
  if (!system.level) return notScored(system);
  const parts = [];
  if (typeof system.score === "number") parts.push("the services' weighted mean level " + system.score.toFixed(2));
  if (system.acute_level) parts.push("acute services at level " + system.acute_level + " (the system is never below it)");
  if (system.scored_level && system.level > system.scored_level) {
    parts.push("held at " + system.level + "; scores " + system.scored_level + " now (a lower level is published once it has held for the hold period)");
  }
  return parts.join("; ");
}
