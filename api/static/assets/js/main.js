// The page's start: the dashboard at `/`, a service's page at `/services/{id}`.
import { $, KEY, report } from "./page.js";
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
start();
