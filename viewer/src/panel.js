// The info panel: what was clicked, its devices with live values, open work orders and,
// where the role allows, billing status. Each API is optional: a missing one says so.

import { api, auth, esc, listOf } from "./api.js";

// the roles of services/policy.py that see bills (owners see their own on /owner)
const BILLING_ROLES = new Set(["admin", "operator", "planner"]);

export class InfoPanel {
  constructor(el, app) {
    this.el = el;
    this.app = app;
    this.current = null;
  }

  hide() { this.el.hidden = true; this.current = null; }

  async show(sel) {
    this.current = sel;
    this.el.hidden = false;
    const idx = this.app.index;
    const info = describe(sel, idx, this.app);
    this.el.dataset.kind = info.kind;
    this.el.dataset.id = info.id;
    this.el.innerHTML = `
      <header><div><small>${esc(info.label)}</small><h2>${esc(info.title)}</h2></div>
        <button class="close" title="close">×</button></header>
      <dl>${info.rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join("")}</dl>
      <section class="devices"><h3>设备 Devices</h3><div class="list">${this.deviceRows(info.devices)}</div></section>
      <section class="alarms"><h3>告警 Alarms</h3><div class="list">${this.alarmRows(info.devices)}</div></section>
      <section class="workorders"><h3>工单 Work orders</h3><div class="list">…</div></section>
      <section class="billing"><h3>缴费 Billing</h3><div class="list">…</div></section>`;
    this.el.querySelector(".close").onclick = () => this.hide();
    this.el.querySelectorAll("[data-ack]").forEach((b) => (b.onclick = () => this.app.acknowledge(b.dataset.ack)));
    this.el.querySelectorAll("[data-fly]").forEach((b) => (b.onclick = () => this.app.select({ kind: "device", id: b.dataset.fly }, { fly: true })));
    await Promise.all([this.workOrders(info), this.billing(info)]);
  }

  refreshDevice(deviceId) {
    if (!this.current || this.el.hidden) return;
    const row = this.el.querySelector(`[data-device="${CSS.escape(deviceId)}"]`);
    if (row) row.outerHTML = this.deviceRow(this.app.index.devicesById.get(deviceId));
  }

  deviceRows(devices) {
    if (!devices.length) return `<p class="muted">无 none</p>`;
    return devices.slice(0, 40).map((d) => this.deviceRow(d)).join("") +
      (devices.length > 40 ? `<p class="muted">+${devices.length - 40} more</p>` : "");
  }

  deviceRow(d) {
    const st = this.app.markers.stateOf(d.id) || "unknown";
    const last = this.app.liveValues.get(d.id);
    const values = last && last.values ? Object.entries(last.values).map(([k, v]) => `${k}=${v}`).join(" ") : "—";
    return `<div class="device" data-device="${esc(d.id)}" data-state="${st}">
      <span class="dot ${st}"></span><b>${esc(d.name || d.id)}</b> <small>${esc(d.kind)} · ${esc(d.id)}</small>
      <div class="values">${esc(values)}</div></div>`;
  }

  alarmRows(devices) {
    const ids = new Set(devices.map((d) => d.id));
    const alarms = [...this.app.alarms.values()].filter((a) => ids.has(a.device_id) && a.state !== "cleared");
    if (!alarms.length) return `<p class="muted">无 none</p>`;
    return alarms.map((a) => `<div class="alarm ${esc(a.state)}"><b>${esc(a.message || a.rule_id || a.id)}</b>
      <small>${esc(a.state)} · ${esc(a.device_id)}</small>
      ${a.state === "raised" ? `<button data-ack="${esc(a.id)}">确认 Acknowledge</button>` : ""}
      <button data-fly="${esc(a.device_id)}">定位 Fly to</button></div>`).join("");
  }

  async workOrders(info) {
    const box = this.el.querySelector(".workorders .list");
    const idx = this.app.index;
    const match = (w) => {
      const loc = w.location || {};
      if (info.kind === "device") return loc.device_id === info.id;
      if (info.kind === "space") return loc.space_id === info.id || (loc.unit_id && idx.units.some((u) => u.id === loc.unit_id && u.space === info.id));
      if (info.kind === "unit") return loc.unit_id === info.id;
      if (info.kind === "building") return w.building_id === info.id;
      return false;
    };
    if (!["device", "space", "unit", "building"].includes(info.kind)) { box.innerHTML = `<p class="muted">—</p>`; return; }
    const r = await api("/api/work-orders?limit=1000");
    if (r && r.missing) { box.innerHTML = `<p class="muted">工单服务不可用 work orders not available</p>`; return; }
    if (r && r.error) { box.innerHTML = `<p class="muted">${r.status === 401 ? "登录后可见 log in to see" : esc(r.error)}</p>`; return; }
    const items = listOf(r, "work_orders").filter((w) => match(w) && !["closed", "cancelled", "completed", "revisited"].includes(w.status));
    box.innerHTML = items.length ? items.map((w) => `<div class="wo"><b>#${esc(w.id)}</b> ${esc(w.category || "")}
      <small>${esc(w.status)} · ${esc(w.assignee || "unassigned")}</small><div>${esc(w.description || "")}</div></div>`).join("")
      : `<p class="muted">无未结工单 no open work orders</p>`;
  }

  async billing(info) {
    const box = this.el.querySelector(".billing .list");
    const units = this.app.index.units.filter((u) => (info.kind === "space" && u.space === info.id) || (info.kind === "unit" && u.id === info.id));
    if (!units.length) { box.innerHTML = `<p class="muted">—</p>`; return; }
    if (!BILLING_ROLES.has(auth.role)) { box.innerHTML = `<p class="muted">角色无权查看 not shown for this role</p>`; return; }
    const parts = [];
    for (const u of units) {
      const r = await api(`/api/billing/bills?unit_id=${encodeURIComponent(u.id)}`);
      if (r && r.missing) { parts.push(`<p class="muted">${esc(u.id)}: billing not available</p>`); continue; }
      if (r && r.error) { parts.push(`<p class="muted">${esc(u.id)}: ${esc(r.error)}</p>`); continue; }
      const bills = listOf(r, "bills");
      const due = bills.filter((b) => !["paid", "void"].includes(b.status));
      const owed = due.reduce((sum, b) => sum + parseFloat(b.outstanding ?? b.total ?? 0), 0);
      parts.push(`<div><b>${esc(u.id)}</b> ${due.length ? `欠费 ${due.length} unpaid · ¥${owed.toFixed(2)}` : "已缴清 paid up"}</div>`);
    }
    box.innerHTML = parts.join("");
  }
}

// What a selection is, in words, with the devices it holds.
export function describe(sel, idx, app) {
  const id = sel.id;
  const dev = idx.devicesById.get(id);
  if (sel.kind === "device" || dev) {
    return { kind: "device", id, label: "设备 Device", title: dev ? dev.name || id : id, devices: dev ? [dev] : [],
      rows: [["id", id], ["kind", dev?.kind], ["building", dev?.building], ["storey", storeyName(idx, dev?.storey)], ["space", spaceName(idx, dev?.space)]] };
  }
  const sp = idx.spacesById.get(id);
  if (sp) {
    return { kind: "space", id, label: sp.public ? "公共区域 Public area" : "房间 Room", title: sp.long_name || sp.name || id,
      devices: idx.devices.filter((d) => d.space === id),
      rows: [["id", id], ["name", sp.name], ["usage", sp.usage || "—"], ["building", sp.building], ["storey", storeyName(idx, sp.storey)],
             ["units", idx.units.filter((u) => u.space === id).map((u) => u.id).join(", ") || "—"]] };
  }
  const unit = idx.units.find((u) => u.id === id);
  if (unit) {
    return { kind: "unit", id, label: "单元 Unit", title: id, devices: idx.devices.filter((d) => d.space && d.space === unit.space),
      rows: [["kind", unit.kind], ["building", unit.building], ["area", `${unit.area_m2} m²`], ["space", spaceName(idx, unit.space)]] };
  }
  const st = idx.storeysById.get(id);
  if (st) {
    return { kind: "storey", id, label: "楼层 Storey", title: st.name, devices: idx.devices.filter((d) => d.storey === id),
      rows: [["id", id], ["building", st.building], ["elevation", `${st.elevation_m} m`]] };
  }
  const b = idx.buildingsById.get(id) || (sel.node && idx.buildingsById.get(sel.node.building));
  if (b && (sel.node?.kind === "shell" || b.id === id)) {
    return { kind: "building", id: b.id, label: "楼栋 Building", title: b.name || b.id, devices: idx.devices.filter((d) => d.building === b.id),
      rows: [["id", b.id], ["source", b.source], ["storeys", b.storeys.length]] };
  }
  const layer = sel.node?.layer;
  return { kind: layer ? "feature" : "element", id, label: layer ? `场地 ${layer}` : "构件 Element", title: id, devices: [],
    rows: [["id", id], ["layer / part", layer || sel.node?.part || "—"]] };
}

function storeyName(idx, id) { const s = idx.storeysById.get(id); return s ? `${s.name} (${id})` : id || "—"; }
function spaceName(idx, id) { const s = idx.spacesById.get(id); return s ? `${s.long_name || s.name} (${id})` : id || "—"; }
