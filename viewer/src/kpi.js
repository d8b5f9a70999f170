// The KPI strip of the control room: open alarms, open work orders, SLA breaches, devices
// offline and people in the buildings now, each from an existing API (what the caller may
// see): GET /api/live/alarms?state=open, /api/work-orders/summary, /api/live/devices,
// /api/live/occupancy. A value the caller may not read, or whose service is absent, shows
// "—". Refreshed at login, every 30 s and (debounced) on live events that change it.

import { api, auth, esc } from "./api.js";
import { OPEN_STATUSES } from "./orders.js";

export const KPI_MS = 30_000;
const ITEMS = [
  ["open_alarms", "告警 Alarms"], ["open_orders", "工单 Orders"], ["sla_breaches", "超时 SLA breaches"],
  ["devices_offline", "离线 Offline"], ["occupancy", "在楼 People"],
];

export class KpiStrip {
  constructor(el) {
    this.el = el;
    this.values = {};
    this.timer = setInterval(() => this.refresh(), KPI_MS);
    this.render();
  }

  // a live event that may change a number: refresh within a second, at most once a second
  poke() {
    if (this.pending) return;
    this.pending = setTimeout(() => { this.pending = null; this.refresh(); }, 1000);
  }

  async refresh() {
    if (!auth.token) { this.values = {}; this.render(); return this.values; }
    const ok = (r) => r && !r.missing && !r.error;
    const [alarms, summary, devices, occ] = await Promise.all([api("/api/live/alarms?state=open"),
      api("/api/work-orders/summary"), api("/api/live/devices"), api("/api/live/occupancy")]);
    const v = {};
    if (ok(alarms) && Array.isArray(alarms)) v.open_alarms = alarms.length;
    if (ok(summary) && summary.by_status) {
      v.open_orders = Object.entries(summary.by_status).filter(([s]) => OPEN_STATUSES.has(s)).reduce((n, [, k]) => n + k, 0);
      v.sla_breaches = (summary.by_sla || {}).breached ?? 0;
    }
    if (ok(devices)) {
      const list = Array.isArray(devices) ? devices : devices.devices || [];
      v.devices_offline = list.filter((d) => d.online === false).length;
    }
    if (ok(occ) && Array.isArray(occ.buildings)) v.occupancy = occ.buildings.reduce((n, b) => n + (b.people || 0), 0);
    this.values = v;
    this.render();
    this.el.dataset.loaded = String(Date.now());
    return v;
  }

  render() {
    this.el.innerHTML = ITEMS.map(([k, label]) => {
      const val = this.values[k];
      const warn = (k === "sla_breaches" || k === "devices_offline" || k === "open_alarms") && val > 0;
      return `<span class="kpi${warn ? " warn" : ""}" data-kpi="${k}" data-value="${val ?? ""}"><b>${val === undefined ? "—" : esc(Math.round(val))}</b> ${esc(label)}</span>`;
    }).join("");
  }
}
