// The work-order board of the control room: the orders the caller may see, filtered, sorted
// and paged by the server (GET /api/work-orders), counted by status and SLA state
// (GET /api/work-orders/summary), with assignment, transitions and comments (POST
// /api/work-orders/{id}/transitions with `to`, `assignee`, `note`). Shown only to the roles
// of the summary's policy (services/policy.py STAFF); see docs/viewer.md.

import { api, auth, esc } from "./api.js";

export const BOARD_ROLES = new Set(["admin", "operator", "planner", "staff"]);
export const POLL_MS = 10_000;
const PAGE = 20;

// the values the API accepts (docs/api.md); the server refuses any other with 422
const STATUSES = ["reported", "assigned", "in_progress", "on_hold", "completed", "revisited", "closed",
  "cancelled", "reopened"];
const CATEGORIES = ["水电", "门窗", "电梯", "公共设施", "保洁", "绿化", "安防", "其他"];
const SOURCES = ["owner", "front_desk", "alarm", "preventive"];
const SLA = { ok: "正常 ok", due_soon: "将到期 due soon", breached: "超时 breached" };
const SORTS = { "-created": "最新 newest", created: "最早 oldest", priority: "优先级 priority",
  resolve_by: "解决时限 resolve by" };

const options = (values, all, labels = {}) => `<option value="">${all}</option>` +
  values.map((v) => `<option value="${esc(v)}">${esc(labels[v] || v)}</option>`).join("");

export class Board {
  constructor(el, toggle, app) {
    this.el = el;
    this.toggle = toggle;
    this.app = app;
    this.offset = 0;
    this.total = 0;
    this.timer = null;
    this.loading = null;
    this.el.innerHTML = this.skeleton();
    this.form = this.el.querySelector("#board-filters");
    this.form.onchange = () => { this.offset = 0; this.refresh(); };
    this.form.onsubmit = (e) => { e.preventDefault(); this.offset = 0; this.refresh(); };
    this.el.querySelector("#board-prev").onclick = () => { this.offset = Math.max(0, this.offset - PAGE); this.refresh(); };
    this.el.querySelector("#board-next").onclick = () => { if (this.offset + PAGE < this.total) { this.offset += PAGE; this.refresh(); } };
    this.el.querySelector("#board-close").onclick = () => this.show(false);
    this.toggle.onclick = () => this.show(this.el.hidden);
    this.authChanged();
  }

  skeleton() {
    const buildings = (this.app.index.buildings || []).map((b) => b.id);
    const labels = Object.fromEntries((this.app.index.buildings || []).map((b) => [b.id, b.label || b.name || b.id]));
    return `<header><h2>工单看板 Work orders <span id="board-counts"></span></h2>
        <button id="board-close" class="close" title="close">×</button></header>
      <form id="board-filters">
        <select name="status" title="状态 status">${options(STATUSES, "全部状态 any status")}</select>
        <select name="category" title="类别 category">${options(CATEGORIES, "全部类别 any category")}</select>
        <select name="building" title="楼栋 building">${options(buildings, "全部楼栋 any building", labels)}</select>
        <input name="assignee" placeholder="处理人 assignee" size="10" list="board-staff">
        <select name="source" title="来源 source">${options(SOURCES, "全部来源 any source")}</select>
        <select name="sla" title="时效 SLA">${options(Object.keys(SLA), "全部时效 any SLA", SLA)}</select>
        <select name="sort" title="排序 sort">${Object.entries(SORTS).map(([v, t]) => `<option value="${v}">${t}</option>`).join("")}</select>
      </form>
      <div id="board-focus" hidden></div>
      <datalist id="board-staff"></datalist>
      <div id="board-list"></div>
      <footer><button id="board-prev">‹</button> <span id="board-page"></span> <button id="board-next">›</button>
        <span id="board-msg"></span></footer>`;
  }

  allowed() { return Boolean(auth.token) && BOARD_ROLES.has(auth.role); }

  // after a login or logout: show the toggle only to the board's roles
  authChanged() {
    this.toggle.hidden = !this.allowed();
    if (!this.allowed()) this.show(false);
    else if (!this.el.hidden) this.refresh();
    else this.counts();
  }

  // the SLA counts over every visible order (not only the filtered ones): header and toggle
  async counts() {
    if (!this.allowed()) return null;
    const summary = await api("/api/work-orders/summary");
    this.renderCounts(summary);
    return summary;
  }

  show(on) {
    on = Boolean(on) && this.allowed();
    this.el.hidden = !on;
    this.toggle.setAttribute("aria-pressed", String(on));
    clearInterval(this.timer);
    this.timer = on ? setInterval(() => this.refresh(), POLL_MS) : null;
    if (on) this.refresh();
  }

  // a live event that concerns work orders (a work_order event, an alarm that opened one)
  // refreshes at once (at most every 300 ms: a burst of events refreshes once)
  onLive(ev) {
    const a = ev.alarm || ev;
    if (this.el.hidden || !(ev.type === "work_order" || a.work_order_id || ev.work_order_id)) return;
    if (this.soon) return;
    this.soon = setTimeout(() => { this.soon = null; this.refresh(); if (this.focused) this.focus(this.focused, false); }, 300);
  }

  // Open the board on one order (a marker or an alarm's link): its card above the list.
  async focus(id, fly = true) {
    if (!this.allowed()) return null;
    if (this.el.hidden) this.show(true);
    this.focused = id;
    const box = this.el.querySelector("#board-focus");
    const r = await api(`/api/work-orders/${encodeURIComponent(id)}`);
    if (this.focused !== id) return null;
    if (!r || r.error || r.missing) {
      box.innerHTML = `<p class="muted">工单 #${esc(id)} ${esc(r && r.error ? r.error : "不可用 not available")}</p>`;
      box.dataset.wo = String(id);
      return null;
    }
    box.dataset.wo = String(r.id);
    box.hidden = false;
    box.innerHTML = `<div class="wo-row focus sla-${esc(r.sla || "ok")}"><b>#${esc(r.id)}</b> ${esc(r.priority)} ${esc(r.category)}
      · <span class="status">${esc(r.status)}</span> · ${esc(r.assignee || "未派 unassigned")}
      ${r.alarm_id ? `· 告警 alarm <code>${esc(r.alarm_id)}</code>` : ""}
      <button class="close" id="board-focus-close" title="close">×</button>
      <small>${esc(String(r.description || ""))} · 响应 ${esc(short(r.respond_by))} · 解决 ${esc(short(r.resolve_by))}</small></div>`;
    box.querySelector("#board-focus-close").onclick = () => { this.focused = null; box.hidden = true; box.innerHTML = ""; };
    if (fly) this.flyTo(r, false);
    return r;
  }

  query() {
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(this.form)) if (String(v).trim() && k !== "sort") q.set(k, String(v).trim());
    return q;
  }

  async refresh() {
    if (!this.allowed()) return;
    const q = this.query();
    const listQ = new URLSearchParams(q);
    listQ.set("sort", this.form.sort.value);
    listQ.set("limit", String(PAGE));
    listQ.set("offset", String(this.offset));
    // the filtered summary's total pages the list; the unfiltered one counts the breaches
    const filtered = [...q.keys()].length > 0;
    const run = Promise.all([api(`/api/work-orders?${listQ}`), this.counts(),
      filtered ? api(`/api/work-orders/summary?${q}`) : null]);
    this.loading = run;
    const [rows, all, some] = await run;
    const summary = filtered ? some : all;
    if (this.loading !== run) return; // a newer refresh has started
    const msg = this.el.querySelector("#board-msg");
    if (!Array.isArray(rows)) { msg.textContent = rows && rows.error ? rows.error : "工单不可用 not available"; return; }
    msg.textContent = "";
    this.total = summary && typeof summary.total === "number" ? summary.total : rows.length;
    this.renderRows(rows);
    const last = Math.min(this.offset + rows.length, this.total);
    this.el.querySelector("#board-page").textContent = `${rows.length ? this.offset + 1 : 0}–${last} / ${this.total}`;
    this.el.dataset.loaded = String(Date.now());
  }

  renderCounts(summary) {
    const by = (summary && summary.by_sla) || {};
    const breached = by.breached || 0;
    this.el.querySelector("#board-counts").innerHTML = summary && summary.by_sla
      ? `<span class="sla breached" data-count="breached">超时 ${breached}</span> <span class="sla due_soon" data-count="due_soon">将到期 ${by.due_soon || 0}</span>`
      : "";
    this.toggle.dataset.breached = String(breached);
    this.toggle.textContent = breached ? `工单 Board · ${breached}⚠` : "工单 Board";
  }

  renderRows(rows) {
    const staff = new Set(rows.map((r) => r.assignee).filter(Boolean));
    for (const m of this.app.index.staff || []) staff.add(m.id);
    this.el.querySelector("#board-staff").innerHTML = [...staff].sort().map((s) => `<option value="${esc(s)}">`).join("");
    const list = this.el.querySelector("#board-list");
    list.innerHTML = rows.length ? rows.map((r) => `<div class="wo-row sla-${esc(r.sla || "ok")}" data-wo="${r.id}" data-status="${esc(r.status)}" data-sla="${esc(r.sla || "")}">
        <div><button class="fly" data-fly="${r.id}" title="定位 fly to">#${r.id}</button>
          <b>${esc(r.priority)}</b> ${esc(r.category)} · <span class="status">${esc(r.status)}</span>
          · <span class="assignee">${esc(r.assignee || "未派 unassigned")}</span>
          ${r.sla && r.sla !== "ok" ? `<span class="sla ${esc(r.sla)}">${esc(SLA[r.sla] || r.sla)}</span>` : ""}</div>
        <small>${esc(String(r.description || "").slice(0, 120))} · ${esc(r.building_id || "—")} · ${esc(r.source)} · 响应 ${esc(short(r.respond_by))} · 解决 ${esc(short(r.resolve_by))}</small>
        <form class="act"><select name="to">${STATUSES.map((s) => `<option ${s === "assigned" ? "selected" : ""}>${s}</option>`).join("")}</select>
          <input name="assignee" placeholder="处理人 assignee" size="9" list="board-staff">
          <input name="note" placeholder="备注 comment" size="14" maxlength="2000">
          <button>提交 Apply</button><span class="msg"></span></form></div>`).join("")
      : `<p class="muted">无工单 no work orders</p>`;
    list.querySelectorAll(".wo-row").forEach((row) => {
      const r = rows.find((x) => String(x.id) === row.dataset.wo);
      row.querySelector(".fly").onclick = () => this.flyTo(r);
      const f = row.querySelector("form.act");
      f.onsubmit = (e) => { e.preventDefault(); this.apply(r, f); };
    });
  }

  async apply(order, f) {
    const body = { to: f.to.value };
    if (f.assignee.value.trim()) body.assignee = f.assignee.value.trim();
    if (f.note.value.trim()) body.note = f.note.value.trim();
    const msg = f.querySelector(".msg");
    msg.textContent = "…";
    const r = await api(`/api/work-orders/${order.id}/transitions`, { method: "POST", body });
    if (!r || r.error || r.missing) { msg.textContent = r && r.error ? r.error : "不可用 not available"; msg.className = "msg error"; return; }
    await this.refresh();
  }

  flyTo(order, panel = true) {
    const loc = order.location || {};
    const sel = loc.device_id ? { kind: "device", id: loc.device_id } : loc.space_id ? { kind: "space", id: loc.space_id }
      : loc.unit_id ? { kind: "unit", id: loc.unit_id } : order.building_id ? { kind: "building", id: order.building_id } : null;
    if (sel) this.app.select(sel, { fly: true, panel });
  }
}

function short(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString("zh-CN", { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
}
