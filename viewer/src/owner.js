// The owners' page: my building's public areas, my bills (pay through a payment intent),
// my repair requests (file with a photo, follow, rate), notices. Chinese first, English second.
// Shows only what the ops API returns for the logged-in owner: no one else's data.
// Repairs, notices and messages are re-fetched every POLL_MS (no reload needed); after a
// payment starts, the account is polled until the gateway's callback has booked it.

import { api, auth, esc, listOf, login, logout } from "./api.js";
import { kindsOfClass, setKinds } from "./states.js";

const $ = (s) => document.querySelector(s);
const STATUS = {
  reported: "已受理 reported", assigned: "已派单 assigned", in_progress: "处理中 in progress",
  on_hold: "暂停 on hold", completed: "已完成 completed", revisited: "已回访 rated", closed: "已关闭 closed",
  cancelled: "已取消 cancelled", reopened: "重新打开 reopened",
  open: "未缴 unpaid", partial: "部分缴纳 partly paid", paid: "已缴 paid",
};
const POLL_MS = 10_000;
const PAY_POLL_MS = 2_000;
const owner = { units: [], building: null, index: null, timer: null };
window.twinOwner = { ready: null, state: owner, refresh: () => refresh() };

async function start() {
  if (!auth.token) return showLogin();
  const me = await api("/api/auth/me");
  if (!me || me.error || me.missing) { logout(); return showLogin(me && me.status === 401 ? "" : (me && (me.error || "login not available")) || ""); }
  owner.me = me;
  owner.units = me.units || [];
  $("#who").innerHTML = `${esc(me.username)} · ${owner.units.map(esc).join(", ") || "—"} <button class="secondary" id="logout">退出 Log out</button>`;
  $("#logout").onclick = () => { logout(); location.reload(); };
  $("#login-box").hidden = true;
  $("#content").hidden = false;
  const idx = await api("/api/scene/index");
  owner.index = idx && !idx.error && !idx.missing ? idx : null;
  const unit = owner.index && owner.index.units.find((u) => owner.units.includes(u.id) && u.kind === "apartment");
  owner.building = unit ? unit.building : null;
  const b = owner.index && owner.index.buildings.find((x) => x.id === owner.building);
  $("#building-name").textContent = b ? (b.label || b.name || b.id) : "—";
  await Promise.all([publicAreas(), bills(), repairs(), notices()]);
  clearInterval(owner.timer);
  owner.timer = setInterval(refresh, POLL_MS);
}

async function refresh() {
  if (!auth.token) return;
  await Promise.all([publicOrders(), repairs(), notices()]);
}

function showLogin(msg = "") {
  $("#login-box").hidden = false;
  $("#content").hidden = true;
  $("#login-error").textContent = msg;
  $("#login-form").onsubmit = async (e) => {
    e.preventDefault();
    const f = e.target;
    const r = await login(f.username.value, f.password.value);
    if (r.missing) { $("#login-error").textContent = "登录服务不可用 login not available"; return; }
    if (r.error) { $("#login-error").textContent = `登录失败 login failed: ${r.error}`; return; }
    start();
  };
}

// -- public areas of my building ---------------------------------------------------------
// The live devices of the elevator kinds (device class "elevator" in the kinds table), or
// null when the live service does not answer.
async function elevatorDevices(building) {
  const kinds = await api("/api/live/kinds");
  if (!Array.isArray(kinds)) return null;
  setKinds(kinds);
  const where = building ? `&building=${encodeURIComponent(building)}` : "";
  const answers = await Promise.all(kindsOfClass("elevator").map((k) => api(`/api/live/devices?kind=${encodeURIComponent(k)}${where}`)));
  if (answers.some((a) => !a || a.error || a.missing)) return null;
  return answers.flatMap((a) => listOf(a, "devices"));
}

async function publicAreas() {
  const b = owner.building;
  const lifts = await elevatorDevices(b);
  $("#elevators").innerHTML = `<h3>电梯 Elevators</h3>` + (lifts
    ? (lifts.map((d) => {
        const v = d.values || {};
        const ok = d.online !== false && v.in_service !== false && !(v.fault_code > 0);
        return `<div class="row"><span>${esc(d.name || d.device_id)}</span><span class="${ok ? "status-ok" : "status-alarm"}">${ok ? "运行正常 in service" : "停用/故障 out of service"}${v.floor !== undefined ? ` · ${esc(v.floor)}F` : ""}</span></div>`;
      }).join("") || `<p class="muted">无 none</p>`)
    : `<p class="muted">暂无数据 no data</p>`);
  const cleaning = await api(`/api/cleaning/status${b ? `?building=${encodeURIComponent(b)}` : ""}`);
  $("#cleaning").innerHTML = `<h3>保洁 Cleaning</h3>` + (cleaning && !cleaning.error && !cleaning.missing
    ? listOf(cleaning, "areas", "spaces").slice(0, 20).map((c) => `<div class="row"><span>${esc(c.label || c.name || c.space_id)}</span><span>${esc(c.status)}</span></div>`).join("") || `<p class="muted">—</p>`
    : `<p class="muted">暂无数据 no data</p>`);
  const alarms = await api("/api/live/alarms?state=open");
  const mine = alarms && !alarms.error && !alarms.missing ? listOf(alarms, "alarms").filter((a) => !b || a.building === b) : [];
  $("#alarms").innerHTML = `<h3>告警 Alarms</h3>` + (mine.length
    ? mine.map((a) => `<div class="row status-alarm"><span>${esc(a.message || a.rule_id)}</span><span>${esc(a.state)}</span></div>`).join("")
    : `<p class="status-ok">无告警 no alarms</p>`);
  await publicOrders();
}

// public-area orders of my building(s) and of the shared grounds (the server picks them)
async function publicOrders() {
  const pub = await api("/api/public-status?mine=true");
  const orders = pub && !pub.error && !pub.missing ? (pub.open || []) : null;
  $("#public-orders").innerHTML = `<h3>公共维修 Public repairs</h3>` + (orders === null ? `<p class="muted">暂无数据 no data</p>`
    : orders.length ? orders.slice(0, 20).map((w) => `<div class="row pub" data-wo="${esc(w.id)}"><span>#${esc(w.id)} ${esc(w.category)}<br><small class="muted">${esc(w.building_id ? placeName(w.building_id) : "公共区域 shared areas")}</small></span><span>${esc(STATUS[w.status] || w.status)}</span></div>`).join("")
    : `<p class="status-ok">无 none</p>`);
}

function placeName(bid) {
  const b = owner.index && owner.index.buildings.find((x) => x.id === bid);
  return b ? (b.label || b.name || b.id) : bid;
}

// -- notices and messages ------------------------------------------------------------------
async function notices() {
  const list = await api("/api/notices");
  const items = list && !list.error && !list.missing ? listOf(list, "notices") : null;
  const open = new Set([...document.querySelectorAll("[data-notice][open]")].map((d) => d.dataset.notice));
  $("#notices").innerHTML = `<h3>通知 Notices</h3>` + (items === null ? `<p class="muted">暂无数据 no data</p>`
    : items.length ? items.slice(0, 20).map((n) => `<details class="notice${n.read ? "" : " unread"}" data-notice="${esc(n.id)}">
        <summary>${n.read ? "" : `<span class="dot" title="未读 unread">● </span>`}${esc(n.title)}${n.title_en ? ` <small>${esc(n.title_en)}</small>` : ""} <small class="muted">${esc((n.publish_at || "").slice(0, 10))}</small></summary>
        <p>${esc(n.body)}</p>${n.body_en ? `<p class="muted">${esc(n.body_en)}</p>` : ""}</details>`).join("")
    : `<p class="muted">无 none</p>`);
  document.querySelectorAll("[data-notice]").forEach((d) => { if (open.has(d.dataset.notice)) d.open = true; });
  document.querySelectorAll("[data-notice]").forEach((d) => d.addEventListener("toggle", async () => {
    if (!d.open || !d.classList.contains("unread")) return;
    const r = await api(`/api/notices/${d.dataset.notice}/read`, { method: "POST", body: {} });
    if (r && !r.error && !r.missing) { d.classList.remove("unread"); d.querySelector(".dot")?.remove(); }
  }));
  const notes = await api("/api/notifications");
  $("#messages").innerHTML = `<h3>消息 Messages</h3>` + (notes && !notes.error && !notes.missing
    ? listOf(notes, "notifications").slice(0, 10).map((n) => `<div class="row msg" data-ref="${esc(n.ref || "")}"><span>${esc(n.subject)}<br><small class="muted">${esc(n.body)}</small></span><small class="muted">${esc((n.created_at || "").slice(0, 10))}</small></div>`).join("") || `<p class="muted">无 none</p>`
    : `<p class="muted">暂无数据 no data</p>`);
}

// -- bills ---------------------------------------------------------------------------------
async function bills() {
  const list = await api("/api/billing/bills");
  if (!list || list.error || list.missing) {
    $("#bill-list").innerHTML = `<p class="muted">账单服务不可用 bills not available ${esc(list && list.error || "")}</p>`;
    return;
  }
  const items = listOf(list, "bills");
  owner.bills = items;
  const details = await Promise.all(items.slice(0, 12).map((b) =>
    api(`/api/billing/bills/${encodeURIComponent(b.month)}/${encodeURIComponent(b.unit_id)}`)));
  $("#bill-list").innerHTML = items.length ? items.map((b, i) => `<div class="row bill" data-unit="${esc(b.unit_id)}" data-bill="${esc(b.id)}">
      <span><b>${esc(b.month)}</b> ${esc(b.unit_id)}<br><small class="muted">应缴 due ${esc(b.due_on)}</small></span>
      <span>¥${esc(b.total)}<br><small class="${b.status === "paid" ? "status-ok" : "status-warn"}">${esc(STATUS[b.status] || b.status)}</small></span></div>
      ${billLines(details[i])}`).join("")
    : `<p class="muted">暂无账单 no bills</p>`;
  const accounts = [];
  for (const u of owner.units) {
    const a = await api(`/api/billing/units/${encodeURIComponent(u)}/account`);
    if (a && !a.error && !a.missing) accounts.push({ unit: u, ...a });
  }
  $("#account").innerHTML = accounts.map((a) => `<div class="row"><span>${esc(a.unit)} 欠费 outstanding <b>¥${esc(a.outstanding)}</b>
      ${a.late_fee && a.late_fee !== "0.00" ? `<br><small class="status-warn">滞纳金 late fee ¥${esc(a.late_fee)}</small>` : ""}</span>
      ${parseFloat(a.outstanding) > 0 ? `<button data-pay="${esc(a.unit)}" data-amount="${esc(a.outstanding)}">缴费 Pay</button>` : `<span class="status-ok">已缴清 paid up</span>`}</div>`).join("");
  document.querySelectorAll("[data-pay]").forEach((btn) => (btn.onclick = () => pay(btn.dataset.pay, btn.dataset.amount)));
  const paid = accounts.flatMap((a) => (a.payments || []).map((p) => ({ unit: a.unit, ...p })));
  $("#payments").innerHTML = `<h3>缴费记录 Payment history</h3>` + (paid.length
    ? paid.map((p) => `<div class="row payment" data-payment="${esc(p.id)}"><span>${esc(p.received_on)} ${esc(p.unit)}<br><small class="muted">${esc(p.method)} · ${esc(p.reference)}</small></span><span>¥${esc(p.amount)}</span></div>`).join("")
    : `<p class="muted">暂无缴费 no payments</p>`);
  return accounts;
}

// a bill's breakdown: one line per fee item (quantity × unit price = amount)
function billLines(d) {
  if (!d || d.error || d.missing || !d.lines) return "";
  return `<details class="lines" data-lines="${esc(d.id)}"><summary>明细 Breakdown</summary>${d.lines.map((l) =>
    `<div class="row line"><span>${esc(l.description || l.item)}<br><small class="muted">${esc(l.quantity)}${l.unit_price !== null ? ` × ¥${esc(l.unit_price)}` : ""}</small></span><span>¥${esc(l.amount)}</span></div>`).join("")}</details>`;
}

async function pay(unit, amount) {
  const r = await api("/api/billing/payment-intents", { method: "POST", body: { unit_id: unit, amount } });
  const ok = r && !r.error && !r.missing;
  $("#pay-result").innerHTML = ok
    ? `<p class="status-ok" data-intent="${esc(r.id)}">已创建支付 payment started: ¥${esc(r.amount)}${r.status ? ` (${esc(r.status)})` : ""} — ${r.sandbox ? "演示沙箱自动确认 the demo sandbox confirms it" : "请在支付应用中完成 complete it in your payment app"}</p>`
    : `<p class="status-alarm">支付失败 payment failed: ${esc(r && (r.error || "not available"))}</p>`;
  if (ok) awaitPayment(unit, r.id);
}

// poll the unit's account until the gateway's callback books a payment (10 minutes at most)
async function awaitPayment(unit, intentId) {
  const before = await api(`/api/billing/units/${encodeURIComponent(unit)}/account`);
  const seen = before && before.payments ? before.payments.length : 0;
  const until = Date.now() + 10 * 60_000;
  while (Date.now() < until && auth.token) {
    await new Promise((res) => setTimeout(res, PAY_POLL_MS));
    const a = await api(`/api/billing/units/${encodeURIComponent(unit)}/account`);
    if (a && a.payments && a.payments.length > seen) {
      await bills();
      $("#pay-result").innerHTML = `<p class="status-ok" data-paid="${esc(intentId)}">支付成功 payment received: ¥${esc(a.payments[0].amount)}</p>`;
      return;
    }
  }
}

// -- repair requests -----------------------------------------------------------------------
async function repairs() {
  $("#repair-form").onsubmit = fileRepair;
  const list = await api("/api/work-orders?mine=true");
  if (!list || list.error || list.missing) {
    $("#repair-list").innerHTML = `<p class="muted">报修服务不可用 repairs not available</p>`;
    return;
  }
  const items = listOf(list, "work_orders");
  $("#repair-list").innerHTML = items.length ? items.map((w) => `<div class="row wo" data-wo="${esc(w.id)}">
      <span><b>#${esc(w.id)}</b> ${esc(w.category || "")}<br><small class="muted">${esc(w.description || "")}</small></span>
      <span>${esc(STATUS[w.status] || w.status)}${w.rating ? `<br>${"★".repeat(w.rating)}` : ""}
      ${w.status === "completed" ? `<span class="stars">${[1, 2, 3, 4, 5].map((n) => `<button data-rate="${n}" data-id="${esc(w.id)}" title="${n}">☆</button>`).join("")}</span>` : ""}</span></div>`).join("")
    : `<p class="muted">暂无报修 no requests</p>`;
  document.querySelectorAll("[data-rate]").forEach((b) => (b.onclick = () => rate(b.dataset.id, +b.dataset.rate)));
}

async function fileRepair(e) {
  e.preventDefault();
  const f = e.target;
  const unit = owner.units.find((u) => owner.index?.units.find((x) => x.id === u && x.kind === "apartment")) || owner.units[0];
  if (!unit) { $("#repair-result").textContent = "没有关联的房屋 no unit linked to this account"; return; }
  const r = await api("/api/work-orders", { method: "POST", body: { description: f.description.value, location: { unit_id: unit }, source: "owner" } });
  if (!r || r.error || r.missing) { $("#repair-result").textContent = `提交失败 failed: ${r && (r.error || "not available")}`; return; }
  let note = "";
  const photo = f.photo.files[0];
  if (photo) {
    const fd = new FormData();
    fd.append("file", photo, photo.name);
    const a = await api(`/api/work-orders/${r.id}/attachments`, { method: "POST", form: fd });
    note = a && !a.error && !a.missing ? " · 照片已上传 photo attached" : ` · 照片上传失败 photo failed: ${a && a.error}`;
  }
  $("#repair-result").textContent = `已提交 #${r.id} (${r.category}) ${STATUS[r.status] || r.status}${note}`;
  f.reset();
  repairs();
}

async function rate(id, stars) {
  const r = await api(`/api/work-orders/${id}/rating`, { method: "POST", body: { rating: stars } });
  if (r && (r.error || r.missing)) alert(r.error || "not available");
  repairs();
}

window.twinOwner.ready = start();
