// The page's start: the dashboard at `/`, a service's page at `/services/{id}`.
import { $, KEY, HttpError, headers, report } from "./page.js";
import { startDashboard } from "./dashboard.js";
import { startService } from "./service.js";

function start() {
  const match = location.pathname.match(/^\/services\/([^/]+)$/);
  (match ? startService(decodeURIComponent(match[1])) : startDashboard()).catch(report);
}
$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(KEY, $("key-input").value.trim());
  location.reload();
});
// The weekly report is the API's own page, and a link sends no key: with a key, it is fetched
// with the key and opened from memory in the tab the click opened (a blob of this origin, under
// its policy). Without one (a local trial), the link opens it as it is.
$("weekly-report").addEventListener("click", (event) => {
  if (!sessionStorage.getItem(KEY)) return;
  event.preventDefault();
  const tab = window.open("", "_blank");  // in the click itself, so no pop-up blocker stops it
  fetch(event.currentTarget.href, { headers: headers() })
    .then(async (response) => {
      if (!response.ok) {
        const problem = await response.json().catch(() => ({}));
        throw new HttpError("the weekly report", response.status, "the weekly report: " + (problem.detail || "HTTP " + response.status));
      }
      const page = new Blob([await response.text()], { type: "text/html" });
      tab.location.href = URL.createObjectURL(page);
    })
    .catch((error) => { if (tab) tab.close(); report(error); });
});
start();
