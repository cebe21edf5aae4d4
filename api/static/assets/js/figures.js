// The figures the pages show: labels, units and definitions (docs/metrics.md), and sparklines.

// Labels and definitions from docs/metrics.md.
export const FIGURES = {
  queue_length: ["Queue", "patients", "referrals waiting now; front door: patients in the department; transfer-of-care hub: open assessments"],
  longest_wait_hours: ["Longest wait", "hours", "since the oldest waiting referral (front door: oldest arrival; hub: oldest open assessment)"],
  queue_p0: ["Waiting, pathway 0", "patients", "waiting referrals naming pathway 0 (one naming none is in the queue only)"],
  queue_p1: ["Waiting, pathway 1", "patients", "waiting referrals naming pathway 1"],
  queue_p2: ["Waiting, pathway 2", "patients", "waiting referrals naming pathway 2"],
  queue_p3: ["Waiting, pathway 3", "patients", "waiting referrals naming pathway 3"],
  in_service: ["In the service", "patients", "stays open now"],
  occupied_beds: ["Occupied beds", "beds", "stays open now"],
  occupancy_pct: ["Occupancy", "%", "occupied / open capacity (the latest capacity report, else the catalogue's)"],
  delayed_count: ["Delayed", "patients", "delays (no criteria to reside) running now"],
  lost_bed_days: ["Lost bed days", "days", "midnights since the Discharge Ready Date, summed over running delays (bed-based services)"],
  period_lost_bed_days: ["Lost bed days in the period", "days", "every midnight in the period with a delay running (bed-based services)"],
  delayed_days_home_based: ["Days delayed at home", "days", "midnights since ready to move on, summed over running hidden delays; no bed is lost"],
  period_delayed_days_home_based: ["Days delayed at home in the period", "days", "every midnight in the period with a hidden delay running; no bed is lost"],
  starts: ["Starts", "patients", "stays started in the period"],
  discharges: ["Discharges", "patients", "stays ended in the period, by discharge or transfer out"],
  los_days_mean: ["Length of stay", "days", "mean midnights of the stays ended in the period"],
  ctr_days_mean: ["of which criteria to reside", "days", "mean midnights of the stays ended in the period without a delay running"],
  nctr_days_mean: ["of which no criteria to reside", "days", "mean midnights of the stays ended in the period with a delay running (every delay of the stay)"],
  delayed_7_plus: ["Delayed 7+ days", "patients", "running delays of at least 7 midnights"],
  delayed_14_plus: ["Delayed 14+ days", "patients", "running delays of at least 14 midnights"],
  delayed_21_plus: ["Delayed 21+ days", "patients", "running delays of at least 21 midnights"],
  long_stay_7_plus: ["In a bed 7+ days", "patients", "in a bed now for at least 7 midnights"],
  long_stay_14_plus: ["In a bed 14+ days", "patients", "in a bed now for at least 14 midnights"],
  long_stay_21_plus: ["In a bed 21+ days", "patients", "in a bed now for at least 21 midnights"],
  attendances: ["Attendances", "patients", "arrivals in the period"],
  four_hour_breach_pct: ["4-hour breaches", "%", "departures more than 4 h after arrival, of departures"],
  in_department_over_4h: ["In department over 4 h", "patients", "in the department now, arrived more than 4 h ago"],
  in_department_over_12h: ["In department over 12 h", "patients", "in the department now, arrived more than 12 h ago"],
  twelve_hours_from_arrival: ["12 hours from arrival", "patients", "departures more than 12 h after arrival (NHS England's 12 hours in the department from arrival)"],
  twelve_hours_from_arrival_pct: ["12 hours from arrival", "%", "departures more than 12 h after arrival, of departures"],
  admissions_from_ed: ["Admissions from the department", "patients", "departures in the period with outcome admitted"],
  complex_discharge_pct: ["Complex discharges", "%", "of stays that left hospital alive on a recorded pathway, those on P1-P3"],
  pathway_not_recorded_pct: ["No pathway recorded", "%", "of discharges, those with no pathway recorded (left out of the pathway shares)"],
  directly_home_pct: ["Directly home", "%", "of hospital discharges, to usual residence"],
  pathway_p0_pct: ["Left on pathway 0", "%", "of hospital discharges on a recorded pathway, those on P0 (the four add up to 100 %)"],
  pathway_p1_pct: ["Left on pathway 1", "%", "of hospital discharges on a recorded pathway, those on P1"],
  pathway_p2_pct: ["Left on pathway 2", "%", "of hospital discharges on a recorded pathway, those on P2"],
  pathway_p3_pct: ["Left on pathway 3", "%", "of hospital discharges on a recorded pathway, those on P3"],
  open_assessments: ["Open assessments", "assessments", "open now"],
  assessment_hours_mean: ["Assessment time", "hours", "mean open → completed"],
  referrals: ["Referrals", "referrals", "referred in the period"],
  referrals_accepted_pct: ["Referrals accepted", "%", "not declined, of those decided"],
  ucr_2h_due: ["2-hour referrals due", "referrals", "2-hour referrals received in the period, seen or past their 2 hours"],
  ucr_2h_met_pct: ["Seen within 2 hours", "%", "of the 2-hour referrals due, those seen within 2 hours of the referral (national standard: at least 70 %)"],
  no_further_action_pct: ["No further action", "%", "of discharges, home on P0, or home without support when no pathway is recorded"],
  independent_pct: ["Independent at discharge", "%", "of discharges, independent"],
  care_hours_change_mean: ["Change in care hours", "hours a week", "mean (end − start) care hours of the discharges with both"],
  readmitted_30d_pct: ["Readmitted within 30 days (provisional)", "%", "of discharges (placements: of starts); provisional: readmissions within 30 days of today's and this week's discharges may still come"],
  discharged_home_pct: ["Discharged home", "%", "of discharges"],
  new_packages: ["New packages", "packages", "started in the period"],
  package_hours_mean: ["Average package", "hours a week", "mean care hours at the start of the packages started in the period"],
  placements_started: ["Placements started", "placements", "started in the period"],
  nursing_placements: ["of which nursing", "placements", "placements started in the period in nursing care"],
  residential_placements: ["of which residential", "placements", "placements started in the period in residential care"],
  time_to_source_days_mean: ["Time to source", "days", "mean referral → start"],
};
// Figures every service has that mean nothing for a kind, shown for it only when they hold
// something: an emergency department has attendances, not stays, referrals or NCTR delays
// (its "In the service" read 0 beside 50 patients in the department, its delays read as days
// delayed at home). docs/metrics.md, "The service page".
const STAYS_REFERRALS_AND_DELAYS = ["in_service", "starts", "discharges", "los_days_mean", "queue_p0", "queue_p1",
  "queue_p2", "queue_p3", "delayed_count", "delayed_7_plus", "delayed_14_plus", "delayed_21_plus",
  "delayed_days_home_based", "period_delayed_days_home_based", "lost_bed_days", "period_lost_bed_days"];
const ONLY_IF_ANY = { acute_front_door: new Set(STAYS_REFERRALS_AND_DELAYS) };
// Whether a figure of a service of `kind` is shown, given its values (now, today, this week, or
// a trend's days).
export function shown(kind, name, values) {
  if (!(ONLY_IF_ANY[kind] || new Set()).has(name)) return true;
  return values.some((v) => typeof v === "number" && v !== 0);
}
export const TRENDS = ["queue_length", "delayed_count", "occupancy_pct", "in_service", "lost_bed_days", "delayed_days_home_based", "los_days_mean"];
export const label = (name) => (FIGURES[name] || [name.replaceAll("_", " ")])[0];
// A figure with its unit where the label does not say it: "%", hours ("h") and days.
const UNITS = { "%": " %", hours: " h", days: " days", "hours a week": " h a week" };
export function fmt(value, unit) {
  if (value === null || value === undefined) return "–";
  const text = Number.isInteger(value) ? String(value) : Number(value).toFixed(1);
  return text + (UNITS[unit] || "");
}

// Sparkline: inline SVG, one point a day; its label reads the series for a screen reader.
export function sparkline(rows, figure, title) {
  const values = rows.map((row) => (typeof row[figure] === "number" ? row[figure] : null));
  const known = values.filter((v) => v !== null);
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", "0 0 100 30");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  svg.dataset.figure = figure;
  svg.dataset.values = values.join(",");
  const last = known.length ? known[known.length - 1] : null;
  svg.setAttribute("aria-label", title + ", " + rows.length + " days: " + (known.length ?
    "from " + fmt(known[0]) + " to " + fmt(last) + ", highest " + fmt(Math.max(...known)) : "no figures yet"));
  if (known.length) {
    const top = Math.max(...known, 1), step = 100 / Math.max(values.length - 1, 1);
    const points = values.map((v, i) => v === null ? null : [i * step, 28 - (v / top) * 26]).filter(Boolean);
    const line = document.createElementNS(svg.namespaceURI, "polyline");
    line.setAttribute("points", points.map((p) => p[0].toFixed(1) + "," + p[1].toFixed(1)).join(" "));
    line.setAttribute("vector-effect", "non-scaling-stroke");
    const dot = document.createElementNS(svg.namespaceURI, "circle");
    const end = points[points.length - 1];
    dot.setAttribute("cx", end[0]); dot.setAttribute("cy", end[1]); dot.setAttribute("r", 1.5);
    svg.append(line, dot);
  }
  return svg;
}
