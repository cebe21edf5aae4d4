// A service's page (`/services/{id}`): its figures, trends, queue by pathway and caseload.
import { $, el, api, say, read, rereading, clock, wait, report } from "./page.js";
import { FIGURES, TRENDS, label, fmt, shown, sparkline } from "./figures.js";
import { listen } from "./live.js";

// A service's page.
export async function startService(id) {
  $("service-view").hidden = false;
  const detail = await api("/v1/services/" + encodeURIComponent(id));
  $("title").textContent = detail.service.name;
  document.title = "flowsight: " + detail.service.name;
  const reload = async () => {
    const [now, daily, pathways] = await Promise.all([api("/v1/services/" + encodeURIComponent(id)),
      api("/v1/services/" + encodeURIComponent(id) + "/daily?days=28"), api("/v1/services/" + encodeURIComponent(id) + "/pathways")]);
    drawFigures(now); drawTrends(daily.days, now.service.kind); drawPathways(pathways.pathways);
    say("service-meta", now.service.organisation + " · " + now.service.kind.replaceAll("_", " ") + capacity(now) +
      " · as of " + clock(now.as_of));
  };
  await reload();
  read(true);
  rereading(reload);
  await loadCaseload(id);
  $("caseload-refresh").addEventListener("click", () => loadCaseload(id).catch(report));
  listen((scopes) => scopes.includes(id) ? reload().then(() => read(true)) : Promise.resolve());
}
// The capacity open, which occupancy divides by (docs/metrics.md): the latest capacity report's,
// else the catalogue's; beside a report's, the catalogue's capacity only as context.
function capacity(detail) {
  const open = detail.open_capacity, unit = detail.service.capacity_unit, listed = detail.service.capacity;
  if (open === null || open === undefined) return "";
  if (!detail.open_capacity_reported) return " · " + open + " " + unit + " open (the catalogue's capacity; no capacity report yet)";
  return " · " + open + " " + unit + " open (latest capacity report)" + (listed ? ", of " + listed + " in the catalogue" : "");
}
function drawFigures(detail) {
  const names = [...new Set([...Object.keys(detail.current), ...Object.keys(detail.today)])].filter((n) => n in FIGURES &&
    shown(detail.service.kind, n, [detail.current[n], detail.today[n], detail.this_week[n]]));
  $("figures").replaceChildren(el("caption", { className: "sr-only", textContent: "Figures now, today and this week" }),
    el("thead", {}, el("tr", {}, el("th", { scope: "col", textContent: "Figure" }),
      ...["Now / today", "This week"].map((t) => el("th", { scope: "col", className: "num", textContent: t })))),
    el("tbody", {}, ...names.map((n) => el("tr", {}, el("th", { scope: "row", textContent: label(n), title: FIGURES[n][2] }),
      el("td", { className: "num", textContent: fmt(n in detail.current ? detail.current[n] : detail.today[n], FIGURES[n][1]) }),
      el("td", { className: "num", textContent: n in detail.this_week ? fmt(detail.this_week[n], FIGURES[n][1]) : "" })))));
}
function drawTrends(rows, kind) {
  $("trends").replaceChildren(...TRENDS.filter((n) => rows.some((r) => typeof r[n] === "number") &&
    shown(kind, n, rows.map((r) => r[n]))).map((n) => {
    const values = rows.map((r) => r[n]).filter((v) => typeof v === "number");
    return el("figure", { className: "trend" }, el("figcaption", {}, el("strong", { textContent: label(n) }),
      " · now " + fmt(values[values.length - 1], FIGURES[n][1]) + " · 28-day range " + fmt(Math.min(...values)) + "–" + fmt(Math.max(...values))),
      sparkline(rows, n, label(n) + ", daily"));
  }));
}
function drawPathways(pathways) {
  $("pathways").replaceChildren(el("thead", {}, el("tr", {}, el("th", { scope: "col", textContent: "Pathway" }),
    el("th", { scope: "col", className: "num", textContent: "Waiting" }), el("th", { scope: "col", className: "num", textContent: "Longest wait" }))),
    el("tbody", {}, ...(pathways.length ? pathways.map((p) => el("tr", {}, el("td", { textContent: p.pathway || "none named" }),
      el("td", { className: "num", textContent: p.length }), el("td", { className: "num", textContent: wait(p.longest_wait_minutes) })))
      : [el("tr", {}, el("td", { colSpan: 3, textContent: "nobody waiting" }))])));
}
async function loadCaseload(id) {
  let body;
  try {
    body = await api("/v1/services/" + encodeURIComponent(id) + "/caseload?limit=500");
  } catch (error) {
    if (error.status !== 403) throw error;
    $("caseload").replaceChildren();
    $("caseload-refresh").hidden = true;
    say("caseload-status", "The caseload (patient level) needs the caseload role; your key does not have it.");
    return;
  }
  say("caseload-status", body.total + " patients in the service (or department) or waiting for it (pseudonyms only; this read is audited)" +
    (body.total > body.patients.length ? "; the " + body.patients.length + " longest shown" : "") + ".");
  const columns = ["Patient", "Status", "Length of stay (days)", "Delay (days)", "Reason", "Pathway", "Open referrals", "Open assessments", "Next step"];
  $("caseload").replaceChildren(el("thead", {}, el("tr", {}, ...columns.map((c) => el("th", { scope: "col", textContent: c })))),
    el("tbody", {}, ...body.patients.map((p) => {
      const row = el("tr", {}, el("th", { scope: "row", title: p.pseudonym }, el("code", { textContent: p.pseudonym.slice(0, 10) })),
        el("td", { textContent: p.status === "in_service" ? "in service"
          : (p.status === "in_department" ? "in department " : "waiting ") + wait(p.waiting_minutes) }),
        el("td", { className: "num", textContent: fmt(p.length_of_stay_days) }),
        el("td", { className: "num", textContent: fmt(p.delay_days) }),
        el("td", { textContent: (p.delay_reason || "").replaceAll("_", " ") }),
        el("td", { textContent: p.pathway || "" }),
        el("td", { textContent: p.open_referrals.map((r) => r.to_service + " (" + r.status + ")").join(", ") }),
        el("td", { textContent: p.open_assessments.map((a) => a.kind.replaceAll("_", " ") + " at " + a.service).join(", ") }),
        el("td", {}, el("span", { className: "next-step", textContent: p.next_step || "–" }),
          p.next_step_from ? el("span", { className: "meta", textContent: " (" + p.next_step_from + ")" }) : null));
      row.dataset.patient = p.pseudonym;
      return row;
    })));
}
