// The control-room viewer: wires the scene, markers, live feed, panels and drill playback,
// and publishes window.twinViewer (contract: ready, stats(); see docs/viewer.md).

import * as THREE from "three";
import { TwinScene } from "./scene.js";
import { Markers } from "./markers.js";
import { LiveFeed } from "./live.js";
import { InfoPanel } from "./panel.js";
import { Board } from "./board.js";
import { DrillRun, Playback } from "./drill.js";
import { DrillPanel } from "./drills.js";
import { OPEN_STATUSES, OrderMarkers } from "./orders.js";
import { AlarmCue } from "./cue.js";
import { KpiStrip } from "./kpi.js";
import { updateBadges } from "./badges.js";
import { alarmOrder, isAlarmEvent, kindsOfClass, setKinds } from "./states.js";
import { api, auth, communityPath, esc, listOf, loadCommunities, login, logout, setCommunity } from "./api.js";

const $ = (sel) => document.querySelector(sel);
const DEVICE_EVENTS = new Set(["telemetry", "event", "status", "offline", "online", "state", "device"]);

export function createViewer() {
  let resolveReady, rejectReady;
  const ready = new Promise((res, rej) => { resolveReady = res; rejectReady = rej; });
  const app = { ready, liveValues: new Map(), alarms: new Map(), forecasts: new Map(), playback: new Playback(), updateMs: [], loadMs: null };
  const t0 = performance.now();
  const api_ = publicApi(app);
  window.twinViewer = api_;
  boot(app).then(() => {
    app.loadMs = performance.now() - t0;
    document.body.dataset.ready = "1";
    resolveReady(api_.stats());
  }).catch((e) => {
    console.error(e);
    $("#status").textContent = `加载失败 load failed: ${e.message || e}`;
    rejectReady(e);
  });
  return api_;
}

async function boot(app) {
  const ts = new TwinScene($("#scene"));
  app.scene = ts;
  $("#status").textContent = "加载场景 loading scene…";
  const scene = auth.community ? await blobUrl(communityPath("/api/scene.glb")) : "/api/scene.glb";
  const [, index, kinds] = await Promise.all([ts.load(scene), fetchJson(communityPath("/api/scene/index")),
    api("/api/live/kinds")]);
  setKinds(Array.isArray(kinds) ? kinds : []);
  app.index = prepareIndex(index);
  app.origin = index.origin || (ts.info.origin ?? [0, 0, 0]);
  app.markers = new Markers(ts, app.index.devices);
  ts.extraPickables.push(app.markers);
  app.orders = new OrderMarkers(ts, app.index);
  ts.extraPickables.push(app.orders);
  ts.onLodChange = () => {
    app.markers.refreshVisibility(); app.orders.refresh(); syncToggles(app);
    if (app.playback.runs.length && syncVisibility(app)) app.playback.seek(app.playback.t); // agents follow at once
  };
  app.cue = new AlarmCue($("#mute"));
  app.kpi = new KpiStrip($("#kpi"));
  app.panel = new InfoPanel($("#panel"), app);
  app.acknowledge = (id) => acknowledge(app, id);
  app.select = (sel, opts) => select(app, sel, opts);
  ts.hooks.push((now) => frameUpdate(app, now));
  setupUi(app);
  app.board = new Board($("#board"), $("#board-toggle"), app);
  app.loadDrill = (result, slot, name) => loadDrill(app, result, slot, name);
  app.setCompare = (on) => setCompare(app, on);
  app.drills = new DrillPanel($("#drills"), $("#drills-toggle"), app);
  ts.start();
  app.live = new LiveFeed(wsUrl(communityPath("/ws/live")), (ev) => onLive(app, ev), (s) => {
    $("#live").textContent = s === "connected" ? "● 实时 live" : s === "login" ? "○ 登录后实时 log in for live data"
      : "○ 离线 offline";
    $("#live").dataset.state = s;
  }, () => auth.token);
  loadOptional(app);
  const params = new URLSearchParams(location.search);
  if (params.get("drill")) await loadDrillUrl(app, params.get("drill"), 0);
  if (params.get("compare")) { await loadDrillUrl(app, params.get("compare"), 1); setCompare(app, true); }
  $("#status").textContent = "";
}

function wsUrl(path) {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;
}

function authHeaders() {
  return auth.token ? { Authorization: `Bearer ${auth.token}` } : {};
}

// Another community's scene needs the login (its prefixed paths are for members only).
async function blobUrl(url) {
  const r = await fetch(url, { headers: authHeaders() });
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status} ${await r.text()}`);
  return URL.createObjectURL(await r.blob());
}

async function fetchJson(url) {
  const r = await fetch(url, { headers: authHeaders() });
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status} ${await r.text()}`);
  return r.json();
}

function prepareIndex(idx) {
  const by = (list) => new Map(list.map((x) => [x.id, x]));
  return { ...idx, devicesById: by(idx.devices), spacesById: by(idx.spaces), storeysById: by(idx.storeys),
           buildingsById: by(idx.buildings), storeysMap: by(idx.storeys),
           stairsById: by(idx.stairs || []), exitsById: by(idx.exits || []) };
}

// -- per frame ----------------------------------------------------------------------------
function frameUpdate(app, now) {
  const t = performance.now();
  app.markers.update(now);
  if (app.playback.runs.length && syncVisibility(app)) app.playback.shownT = null; // redraw agents
  app.orders.update();
  app.playback.tick(now);
  const ms = performance.now() - t;
  app.updateMs.push(ms);
  if (app.updateMs.length > 120) app.updateMs.shift();
  const cam = app.scene.camera.matrixWorld.elements.join(",");
  const slow = now - (app.domAt || 0) > 200; // DOM text at ≤ 5 Hz: layout is costly in software
  if (cam !== app.camKey || slow) { updateBadges(app, slow); app.camKey = cam; }
  if (slow && app.scene.passes) layoutCompare(app);  // panels opened or closed: keep the halves clear
  if (slow) app.domAt = now;
  if (app.playback.runs.length && slow) {
    const slider = $("#drill-time");
    if (document.activeElement !== slider) slider.value = String(app.playback.t);
    $("#drill-clock").textContent = `${app.playback.t.toFixed(1)} s / ${app.playback.duration.toFixed(0)} s · ${app.playback.agents} agents`;
  }
}

// -- live ---------------------------------------------------------------------------------
function onLive(app, ev) {
  if (app.board) app.board.onLive(ev);
  if (ev.type === "drill") { if (app.drills) app.drills.onEvent(ev); return; }
  if (ev.type === "work_order") return onWorkOrder(app, ev);
  if (isAlarmEvent(ev) || ev.alarm) { app.kpi.poke(); return onAlarm(app, ev); }
  if (ev.type === "forecast") return onForecast(app, ev.forecast || ev);
  if (ev.type === "offline" || ev.type === "status") app.kpi.poke();
  if (ev.type === "drill_suggestion") { toast(`建议演练 drill suggested: ${ev.building || ""} ${ev.storey || ""}`); return; }
  if (!ev.device_id || !DEVICE_EVENTS.has(ev.type)) return;
  app.liveValues.set(ev.device_id, { ...(app.liveValues.get(ev.device_id) || {}), ...ev,
    values: { ...((app.liveValues.get(ev.device_id) || {}).values || {}), ...(ev.values || {}) } });
  const hasOpenAlarm = [...app.alarms.values()].some((a) => a.device_id === ev.device_id && a.state !== "cleared");
  const s = app.markers.apply(ev);
  if (hasOpenAlarm && s !== "offline") app.markers.setState(ev.device_id, "alarm");
  app.panel.refreshDevice(ev.device_id);
}

// A work order was created, moved or assigned: its marker, the alarm that opened it, the KPIs.
function onWorkOrder(app, ev) {
  if (ev.alarm_id && app.alarms.has(ev.alarm_id)) {
    app.alarms.get(ev.alarm_id).work_order_id = ev.work_order_id;
    renderAlarms(app);
  }
  app.kpi.poke();
  if (app.ordersSoon) return;
  app.ordersSoon = setTimeout(() => { app.ordersSoon = null; loadOrders(app); }, 300);
}

// Open work orders as markers (roles of the board only: owners see theirs on /owner).
async function loadOrders(app) {
  if (!app.board || !app.board.allowed()) { app.orders.set([]); return; }
  // one request per open status (closed ones would crowd the open out of a 1,000 page)
  const pages = await Promise.all([...OPEN_STATUSES].map((st) => api(`/api/work-orders?status=${st}&limit=1000`)));
  app.orders.set(pages.flatMap((r) => (Array.isArray(r) ? r : [])));
  $("#scene").dataset.orders = String(app.orders.count);
}

function onAlarm(app, ev) {
  const a = { ...(ev.alarm || ev) };
  a.id = a.id || a.alarm_id;
  if (!a.id) return;
  if (!a.state) a.state = ev.transition === "cleared" ? "cleared" : ev.transition === "acknowledged" ? "acknowledged" : "raised";
  const before = app.alarms.get(a.id);
  if (ev.transition === "escalated") a.escalated_at = ev.escalated_at || new Date().toISOString();
  // the cue: a critical alarm newly raised, or escalated while still unacknowledged
  if (a.severity === "critical" && a.state === "raised"
      && ((ev.transition === "raised" && !(before && before.state === "raised")) || ev.transition === "escalated")) app.cue.play();
  app.alarms.set(a.id, { ...(before || {}), ...a });
  if (ev.transition === "raised" && auth.token) loadForecast(app, a);
  if (a.device_id) {
    const open = [...app.alarms.values()].some((x) => x.device_id === a.device_id && x.state !== "cleared");
    app.markers.setState(a.device_id, open ? "alarm" : "ok");
  }
  renderAlarms(app);
  if (app.drills && app.drills.form) app.drills.renderFireOptions();  // an alarm's place may be a fire location
}

// The live evacuation forecast of a fire alarm (GET /api/alarms/{id}/forecast, "forecast" events).
function onForecast(app, f) {
  if (!f || !f.alarm_id) return;
  app.forecasts.set(f.alarm_id, { ...f, shownAt: performance.now() });
  renderAlarms(app);
}

async function loadForecast(app, a) {
  if (app.forecasts.has(a.id)) return;
  const f = await api(`/api/alarms/${encodeURIComponent(a.id)}/forecast`);
  if (f && !f.missing && !f.error && f.status && f.status !== "none" && !app.forecasts.has(a.id)) onForecast(app, f);
}

function forecastHtml(f) {
  if (!f) return "";
  if (f.status === "running" && f.evacuation_time_s == null) return `<div class="forecast" data-forecast="running">疏散预测中… forecasting…</div>`;
  if (f.status === "failed") return `<div class="forecast" data-forecast="failed">疏散预测失败 forecast failed: ${esc(f.error || "")}</div>`;
  if (f.evacuation_time_s == null) return "";
  const q = (xs) => xs.filter((x) => x.queues).map((x) => `${esc(x.name)} (${Math.round(x.queue_s)} s)`).join("、") || "无 none";
  const keep = f.keep_clear ? `<div class="keep">保持畅通 keep clear: <b data-keep-clear>${esc(f.keep_clear.name)}</b></div>` : "";
  return `<div class="forecast" data-forecast="${esc(f.status)}">
    <div>预计疏散 evacuation: <b class="evac" data-evac-s="${f.evacuation_time_s}">${Math.round(f.evacuation_time_s)} s</b>
      · ${esc(String(f.people ?? ""))} 人 people${f.status === "running" ? " · 更新中 updating" : ""}</div>
    <div>排队楼梯 queueing stairs: <span data-queue-stairs>${q(f.stairs || [])}</span></div>
    <div>排队出口 queueing exits: <span data-queue-exits>${q(f.exits || [])}</span></div>${keep}</div>`;
}

// Fly to an alarm: its device, else its space, else its building and storey (a place alarm).
function flyToAlarm(app, id) {
  const a = app.alarms.get(id);
  if (!a) return null;
  const idx = app.index;
  if (a.device_id && idx.devicesById.get(a.device_id)) return select(app, { kind: "device", id: a.device_id }, { fly: true });
  if (a.space && idx.spacesById.get(a.space)) return select(app, { kind: "space", id: a.space }, { fly: true });
  if (a.building && app.scene.buildings.has(a.building)) {
    if (a.storey) app.scene.showStorey(a.building, a.storey);
    $("#building").value = a.building;
    fillStoreys(app, a.building, a.storey);
    const c = centreOf(app.scene.buildings.get(a.building).node);
    if (c) app.scene.flyTo(c, 60);
    return { pos: c, building: a.building, storey: a.storey || null };
  }
  return null;
}

async function acknowledge(app, id) {
  const r = await api(`/api/live/alarms/${encodeURIComponent(id)}/ack`, { method: "POST", body: {} });
  if (r && (r.missing || r.error)) { toast(r.missing ? "确认接口不可用 acknowledge not available" : r.error); return; }
  const a = app.alarms.get(id);
  if (a) { a.state = "acknowledged"; renderAlarms(app); }
  if (app.panel.current) app.panel.show(app.panel.current);
}

// Alarm texts: "message_zh" / "message_en" in the language chosen (index.html #lang; kept
// in localStorage), "message" when the alarm has no such text.
function language() {
  try { return localStorage.getItem("twin.lang") === "en" ? "en" : "zh"; } catch { return "zh"; }
}

function setLanguage(lang) {
  try { localStorage.setItem("twin.lang", lang === "en" ? "en" : "zh"); } catch { /* private mode */ }
  const sel = $("#lang");
  if (sel) sel.value = language();
}

function alarmText(a) {
  return (language() === "en" ? a.message_en : a.message_zh) || a.message || a.rule_id || a.id;
}

function renderAlarms(app) {
  const open = [...app.alarms.values()].filter((a) => a.state !== "cleared").sort(alarmOrder);
  $("#alarm-count").textContent = String(open.length);
  $("#alarms").innerHTML = open.length ? open.map((a) => `<div class="alarm ${esc(a.state)}${a.escalated_at ? " escalated" : ""}" data-alarm="${esc(a.id)}" data-severity="${esc(a.severity || "")}">
      <b>${a.escalated_at ? "▲▲ " : ""}${esc(alarmText(a))}</b><small>${esc(a.severity || "")} · ${esc(placeOf(app, a))} · ${esc(a.state)}${a.escalated_at ? " · 已升级 escalated" : ""}</small>
      <span><button data-fly="${esc(a.id)}">定位 Fly to</button>
      ${a.state === "raised" ? `<button data-ack="${esc(a.id)}">确认 Ack</button>` : ""}
      ${a.work_order_id ? `<button class="wo-link" data-wo-link="${esc(a.work_order_id)}">工单 #${esc(a.work_order_id)}</button>` : ""}</span>${forecastHtml(app.forecasts.get(a.id))}</div>`).join("")
    : `<p class="muted">无告警 no alarms</p>`;
  $("#alarms").querySelectorAll("[data-fly]").forEach((b) => (b.onclick = () => flyToAlarm(app, b.dataset.fly)));
  $("#alarms").querySelectorAll("[data-ack]").forEach((b) => (b.onclick = () => acknowledge(app, b.dataset.ack)));
  $("#alarms").querySelectorAll("[data-wo-link]").forEach((b) => (b.onclick = () => app.board.focus(b.dataset.woLink)));
}

// Where an alarm is, in the names people use: the device's name, else the space's.
function placeOf(app, a) {
  const d = a.device_id && app.index.devicesById.get(a.device_id);
  if (d) return d.name || d.id;
  const s = a.space && app.index.spacesById.get(a.space);
  return s ? s.label || s.long_name || s.name : a.device_id || a.space || "";
}

// Optional services: open alarms, elevator risk, cleaning status (each may be absent).
async function loadOptional(app) {
  app.kpi.refresh();
  loadOrders(app);
  if (!auth.token) {  // every one of these needs a login: ask for it instead of three 401s
    renderAlarms(app);
    $("#cleaning").innerHTML = `<p class="muted">登录后显示 log in to see</p>`;
    return;
  }
  const alarms = await api("/api/live/alarms?state=open");
  if (alarms && !alarms.missing && !alarms.error) for (const a of listOf(alarms, "alarms")) onAlarm(app, { type: "alarm", alarm: a });
  renderAlarms(app);
  for (const a of app.alarms.values()) if (a.state !== "cleared") loadForecast(app, a);
  const risk = await api("/api/elevators/risk");
  app.risk = new Map();
  if (risk && !risk.missing && !risk.error) {
    for (const r of listOf(risk, "elevators")) app.risk.set(r.device_id || r.elevator_id || r.id, r.risk ?? r.score ?? r.probability);
  }
  const cleaning = await api("/api/cleaning/status");
  const box = $("#cleaning");
  if (!cleaning || cleaning.missing || cleaning.error) {
    box.innerHTML = `<p class="muted">保洁数据不可用 cleaning status not available</p>`;
  } else {
    const items = listOf(cleaning, "areas", "spaces");
    box.innerHTML = items.length ? items.slice(0, 30).map((c) => `<div class="clean ${esc(c.status)}" data-space="${esc(c.space_id || c.id)}">
      <span class="dot ${c.status === "due" || c.status === "overdue" ? "warn" : "ok"}"></span>${esc(cleaningName(app, c))} <small>${esc(c.status)}</small></div>`).join("")
      : `<p class="muted">—</p>`;
    box.querySelectorAll("[data-space]").forEach((d) => (d.onclick = () => select(app, { kind: "space", id: d.dataset.space }, { fly: true })));
  }
}

// The name people use for a cleaning area (1号楼 1单元 1F 门厅): the API's label, else the
// index's label of the space, never a raw space id when a name is known.
function cleaningName(app, c) {
  const s = app.index.spacesById.get(c.space_id || c.id);
  return c.label || (s && (s.label || s.long_name)) || c.name || c.space_id || c.id;
}

// Toggle buttons show their state (aria-pressed, styled in style.css).
function syncToggles(app) {
  const ts = app.scene, b = ts.buildings.get($("#building").value);
  $("#open").setAttribute("aria-pressed", String(Boolean(b && b.open)));
  $("#isolate").setAttribute("aria-pressed", String(Boolean(ts.isolated)));
}

// -- selection ----------------------------------------------------------------------------
function positionOf(app, sel) {
  const idx = app.index;
  const d = idx.devicesById.get(sel.id);
  if (d && d.position) return { pos: d.position, building: d.building, storey: d.storey };
  const s = idx.spacesById.get(sel.id);
  if (s && s.position) return { pos: s.position, building: s.building, storey: s.storey };
  const u = idx.units.find((x) => x.id === sel.id);
  if (u) {
    const us = idx.spacesById.get(u.space);
    if (us && us.position) return { pos: us.position, building: us.building, storey: us.storey };
    return { pos: null, building: u.building, storey: u.storey };
  }
  const named = idx.stairsById.get(sel.id) || idx.exitsById.get(sel.id);
  if (named) return { pos: named.position, building: named.building, storey: named.storey || named.storeys?.[0] || null };
  const b = app.scene.buildings.get(sel.id);
  if (b) return { pos: centreOf(b.node), building: b.id, storey: null };
  return null;
}

function centreOf(node) {
  const box = new THREE.Box3().setFromObject(node);
  if (box.isEmpty()) return null;
  const c = box.getCenter(new THREE.Vector3());
  return [c.x, c.y, c.z];
}

async function select(app, sel, { fly = false, panel = true } = {}) {
  const where = positionOf(app, sel);
  if (where && fly) {
    // isolating another building: follow the search there instead of showing empty ground
    if (app.scene.isolated && where.building && where.building !== app.scene.isolated
        && app.scene.buildings.has(where.building)) app.scene.isolate(where.building);
    if (where.building && app.scene.buildings.has(where.building)) {
      if (where.storey) app.scene.showStorey(where.building, where.storey);
      $("#building").value = where.building;
      fillStoreys(app, where.building, where.storey);
    }
    if (where.pos) app.scene.flyTo(where.pos, sel.kind === "building" ? 120 : 35);
    syncToggles(app);
  }
  if (panel && sel.kind !== "stair" && sel.kind !== "exit_door") await app.panel.show(sel);
  return where;
}

// -- drills -------------------------------------------------------------------------------
async function loadDrillUrl(app, url, slot) {
  const data = await fetchJson(url);
  return loadDrill(app, data, slot, url.split("/").pop());
}

function loadDrill(app, result, slot = 0, name = "") {
  const pb = app.playback;
  const run = new DrillRun(app.scene, result, { origin: app.origin, storeys: app.index.storeysMap, slot, name });
  if (pb.runs[slot]) pb.runs[slot].dispose();
  pb.runs[slot] = run;
  pb.runs = pb.runs.filter(Boolean);
  $("#drill-time").max = String(pb.duration);
  $("#drill").hidden = false;
  $("#drill-runs").textContent = pb.runs.map((r) => `${r.name}: ${r.hasTrajectories ? `${r.n} agents` : "无轨迹 no trajectories"}, ${r.evacuation_time_s ?? r.duration.toFixed(0)} s`).join(" | ");
  if (!run.hasTrajectories) $("#drill-heat").checked = true;  // a result file: its density is what there is to see
  syncVisibility(app, true);
  pb.seek(0);
  setHeat(app, $("#drill-heat").checked);
  if (pb.runs.length < 2) setCompare(app, false);
  return { agents: run.n, duration_s: run.duration, frames: run.times.length };
}

function setHeat(app, on) {
  $("#drill-heat").checked = on;
  for (const r of app.playback.runs) { r.heat.visible = on; r.density.mesh.visible = on; r.density.enabled = on; }
  if (app.scene.passes) setCompare(app, true);
  app.playback.seek(app.playback.t);
}

// Agents follow what the scene draws: none for a building isolated away, none above the
// storey a building is cut at. True when that changed for some run.
function syncVisibility(app, force = false) {
  const ts = app.scene, o = app.origin[2] || 0;
  let changed = false;
  for (const r of app.playback.runs) {
    const shown = new Uint8Array(r.floors.length), cut = new Float64Array(r.floors.length);
    r.floorBuilding.forEach((bid, k) => {
      const b = bid !== null ? ts.buildings.get(bid) : null;
      shown[k] = !b || b.node.visible ? 1 : 0;
      cut[k] = b && b.open && b.cutAt !== undefined ? b.cutAt - o + 0.5 : Infinity;
    });
    if (r.setVisibility(shown, cut) || force) changed = true;
  }
  return changed;
}

function setCompare(app, on) {
  const pb = app.playback;
  const ts = app.scene;
  $("#drill-compare").checked = on && pb.runs.length === 2;
  document.body.classList.toggle("comparing", on && pb.runs.length === 2);
  if (!on || pb.runs.length < 2) {
    ts.passes = null;
    pb.runs.forEach((r) => { r.mesh.visible = true; });
    $("#compare-labels").hidden = true;
    return false;
  }
  const [a, b] = pb.runs;
  const heat = () => $("#drill-heat").checked;
  const only = (x) => { for (const r of pb.runs) { const me = r === x; r.mesh.visible = me; r.heat.visible = me && heat(); r.density.mesh.visible = me && heat(); } };
  ts.passes = [{ before: () => only(a) }, { before: () => only(b) }];
  app.compareKey = null;
  if (compareLayout(app).cramped && !app.panel.el.hidden) app.panel.hide(); // make room
  $("#compare-labels").hidden = false;
  layoutCompare(app);
  $("#compare-a").textContent = `A ${a.name} · ${a.evacuation_time_s ?? a.duration.toFixed(0)} s`;
  $("#compare-b").textContent = `B ${b.name} · ${b.evacuation_time_s ?? b.duration.toFixed(0)} s`;
  return true;
}

// Side by side: the two halves share the part of the canvas no panel covers (between the
// left list and the panels on the right), each label over its own half.
function compareLayout(app) {
  const canvas = app.scene.canvas.getBoundingClientRect();
  let left = 0, right = canvas.width;
  const panels = [];
  for (const sel of ["#side", "#panel", "#drills", "#board"]) {
    const el = $(sel);
    if (!el || el.hidden || getComputedStyle(el).display === "none") continue;
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height) continue;
    const box = { id: sel.slice(1), left: r.left - canvas.left, right: r.right - canvas.left };
    panels.push(box);
    if (box.left < canvas.width / 2) left = Math.max(left, box.right);
    else right = Math.min(right, box.left);
  }
  const cramped = right - left < 0.4 * canvas.width;
  if (cramped) { left = 0; right = canvas.width; }  // no room: use it all
  const mid = (left + right) / 2;
  return { width: canvas.width, height: canvas.height, panels, cramped,
           halves: [{ left: Math.round(left), right: Math.round(mid) }, { left: Math.round(mid), right: Math.round(right) }] };
}

function layoutCompare(app) {
  const lay = compareLayout(app);
  const key = JSON.stringify(lay.halves);
  if (key === app.compareKey && app.scene.passes[0].rect) return lay;
  app.compareKey = key;
  app.scene.passes.forEach((p, i) => (p.rect = lay.halves[i]));
  const labels = [$("#compare-a"), $("#compare-b")];
  labels.forEach((el, i) => {
    const h = lay.halves[i];
    el.style.left = `${h.left + (h.right - h.left) / 2}px`;
  });
  return lay;
}

// -- UI -----------------------------------------------------------------------------------
function setupUi(app) {
  const ts = app.scene;
  const bsel = $("#building");
  bsel.innerHTML = `<option value="">全部楼栋 All buildings</option>` +
    [...ts.buildings.values()].map((b) => `<option value="${esc(b.id)}">${esc(labelOf(app, b))}</option>`).join("");
  bsel.onchange = () => { fillStoreys(app, bsel.value, null); if (bsel.value) select(app, { kind: "building", id: bsel.value }, { fly: true }); syncToggles(app); };
  if ($("#lang")) { $("#lang").value = language(); $("#lang").onchange = () => { setLanguage($("#lang").value); renderAlarms(app); }; }
  $("#storey").onchange = () => bsel.value && ts.showStorey(bsel.value, $("#storey").value || null);
  $("#open").onclick = () => { if (bsel.value) ts.openBuilding(bsel.value, !ts.buildings.get(bsel.value).open); syncToggles(app); };
  $("#isolate").onclick = () => { ts.isolate(ts.isolated ? null : bsel.value || null); syncToggles(app); };
  $("#overview").onclick = () => {
    for (const b of ts.buildings.values()) { b.cutAt = undefined; ts.openBuilding(b.id, false); }
    ts.isolate(null); ts.frameAll(); bsel.value = ""; fillStoreys(app, "", null); syncToggles(app);
  };
  setupSearch(app);
  setupPicking(app);
  setupDrillBar(app);
  setupLogin(app);
}

function fillStoreys(app, buildingId, storeyId) {
  const b = app.scene.buildings.get(buildingId);
  $("#storey").innerHTML = `<option value="">全部楼层 All storeys</option>` + (b ? [...b.storeys].reverse()
    .map((s) => `<option value="${esc(s.id)}" ${s.id === storeyId ? "selected" : ""}>${esc(labelOf(app, s))}</option>`).join("") : "");
}

// The name people use (1号楼, 12F; docs/site-format.md) from the index, else the scene's name.
function labelOf(app, el) {
  const named = app.index.buildingsById.get(el.id) || app.index.storeysById.get(el.id);
  return (named && named.label) || el.name || el.id;
}

function setupPicking(app) {
  const canvas = $("#scene");
  let down = null;
  canvas.addEventListener("pointerdown", (e) => (down = [e.clientX, e.clientY]));
  canvas.addEventListener("pointerup", (e) => {
    if (!down || Math.hypot(e.clientX - down[0], e.clientY - down[1]) > 5) return;
    const hit = app.scene.pick(e.clientX, e.clientY);
    if (app.pickMode && app.drills.picked(hit)) return;
    if (!hit) { app.panel.hide(); return; }
    if (hit.kind === "work_order") { app.board.focus(hit.id); return; }
    if (hit.node && hit.node.kind === "shell") { app.scene.openBuilding(hit.node.building, true); }
    select(app, hit.kind === "device" ? { kind: "device", id: hit.id } : { kind: "element", id: hit.id, node: hit.node });
  });
}

export function searchIndex(idx, q) {
  q = q.trim().toLowerCase();
  if (!q) return [];
  const out = [];
  const hit = (...vals) => vals.some((v) => v && String(v).toLowerCase().includes(q));
  for (const u of idx.units) if (hit(u.id)) out.push({ kind: "unit", id: u.id, label: `单元 unit ${u.id}` });
  for (const s of idx.spaces) if (hit(s.id, s.name, s.long_name)) out.push({ kind: "space", id: s.id, label: `房间 ${s.long_name || s.name} · ${s.building}` });
  for (const d of idx.devices) if (hit(d.id, d.name)) out.push({ kind: "device", id: d.id, label: `设备 ${d.name || d.id} · ${d.kind}` });
  for (const b of idx.buildings) if (hit(b.id, b.name, b.label)) out.push({ kind: "building", id: b.id, label: `楼栋 ${b.label || b.name || b.id}` });
  for (const e of idx.exits || []) if (hit(e.id, e.name)) out.push({ kind: "exit_door", id: e.id, label: `出口 ${e.name}` });
  for (const s of idx.stairs || []) if (hit(s.id, s.name)) out.push({ kind: "stair", id: s.id, label: `楼梯 ${s.name}` });
  return out.slice(0, 50);
}

function setupSearch(app) {
  const input = $("#search"), list = $("#results");
  input.oninput = () => {
    const res = searchIndex(app.index, input.value);
    list.hidden = !res.length;
    list.innerHTML = res.map((r, i) => `<li data-i="${i}">${esc(r.label)}</li>`).join("");
    list.querySelectorAll("li").forEach((li) => (li.onclick = () => { list.hidden = true; select(app, res[+li.dataset.i], { fly: true }); }));
  };
  input.onkeydown = (e) => { if (e.key === "Enter") list.querySelector("li")?.click(); };
}

function setupDrillBar(app) {
  const pb = app.playback;
  for (const [sel, slot] of [["#drill-file-a", 0], ["#drill-file-b", 1]]) {
    $(sel).onchange = async (e) => {
      const f = e.target.files[0];
      if (!f) return;
      try { loadDrill(app, JSON.parse(await f.text()), slot, f.name); if (slot === 1) setCompare(app, true); }
      catch (err) { toast(`演练文件无效 bad drill file: ${err.message}`); e.target.value = ""; return; }
      e.target.value = "";
    };
  }
  $("#drill-play").onclick = () => { if (pb.t >= pb.duration) pb.seek(0); pb.playing = !pb.playing; pb.lastMs = null; };
  $("#drill-time").oninput = (e) => { pb.seek(+e.target.value); };
  $("#drill-speed").onchange = (e) => (pb.speed = +e.target.value);
  $("#drill-heat").onchange = (e) => setHeat(app, e.target.checked);
  $("#drill-compare").onchange = (e) => setCompare(app, e.target.checked);
}

function setupLogin(app) {
  // a login or logout changes what the panels and the live feed may show: refresh them
  const changed = () => {
    app.alarms.clear();  // the next user's alarms, not the last one's
    if (app.live) app.live.reconnect();
    if (app.board) app.board.authChanged();
    if (app.drills) app.drills.authChanged();
    loadOptional(app);
    if (app.panel.current) app.panel.show(app.panel.current);  // what the new role may see
  };
  const box = $("#login");
  const render = () => {
    box.innerHTML = auth.token ? `${esc(auth.user)} (${esc(auth.role || "?")}) ${communitySwitcher()}<button id="logout">退出 Log out</button>`
      : `<form id="login-form"><input name="u" placeholder="用户 user" size="8"><input name="p" type="password" placeholder="密码 password" size="8"><button>登录 Log in</button></form>`;
    $("#community") && ($("#community").onchange = (e) => {
      setCommunity(e.target.value);
      location.reload();  // the scene, the index and the live feed are the other community's
    });
    $("#logout") && ($("#logout").onclick = () => {
      api("/api/auth/logout", { method: "POST" });  // revoke the token on the server too
      logout(); render(); changed();
    });
    const f = $("#login-form");
    if (f) f.onsubmit = async (e) => {
      e.preventDefault();
      const r = await login(f.u.value, f.p.value);
      if (r.missing) toast("登录服务不可用 login not available");
      else if (r.error) toast(`登录失败 login failed: ${r.error}`);
      if (!r.error && !r.missing) await loadCommunities();
      render();
      if (!r.error && !r.missing) changed();
    };
  };
  render();
  if (auth.token) loadCommunities().then(render);
}

// A community switcher when the user belongs to more than one (names people use: titles).
function communitySwitcher() {
  const list = auth.communities || [];
  if (list.length < 2) return "";
  const current = auth.community || (list.find((c) => c.default) || list[0]).id;
  const opts = list.map((c) => `<option value="${esc(c.id)}"${c.id === current ? " selected" : ""}>${esc(c.title)}</option>`);
  return `<select id="community" title="小区 community">${opts.join("")}</select> `;
}

function toast(msg) {
  const t = $("#toast");
  t.textContent = msg;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (t.hidden = true), 4000);
}

// -- the public API: window.twinViewer ----------------------------------------------------
function publicApi(app) {
  return {
    ready: app.ready,
    stats() {
      const s = app.scene ? app.scene.stats() : { meshes: 0, triangles: 0 };
      return { meshes: s.meshes, triangles: s.triangles, markers: app.markers ? app.markers.count : 0,
               agents: app.playback.agents, fps: app.scene ? Math.round(app.scene.fps * 10) / 10 : 0 };
    },
    perf() {
      const u = app.updateMs;
      const mean = u.length ? u.reduce((a, b) => a + b, 0) / u.length : 0;
      return { update_ms_mean: mean, update_ms_max: u.length ? Math.max(...u) : 0, frames: u.length, load_ms: app.loadMs };
    },
    select: (kind, id, opts = { fly: true }) => select(app, { kind, id }, opts),
    search: (q) => searchIndex(app.index, q),
    openBuilding: (id, open = true) => app.scene.openBuilding(id, open),
    showStorey: (b, s) => app.scene.showStorey(b, s),
    isolate: (id) => app.scene.isolate(id),
    overview: () => $("#overview").click(),
    flyTo: (p, d = 40) => app.scene.flyTo(p, d, 0),
    markerState: (id) => app.markers.stateOf(id),
    markerChanges: () => app.markers.changed,
    markerChangedAt: (id) => app.markers.changedAt.get(id) ?? null,
    screenPosition: (id) => app.markers.screenPosition(id),
    applyEvent: (ev) => onLive(app, ev),
    liveReceived: () => (app.live ? app.live.received : 0),
    liveConnected: () => $("#live").dataset.state === "connected",
    alarms: () => [...app.alarms.values()],
    alarmOrder: () => [...$("#alarms").querySelectorAll("[data-alarm]")].map((el) => el.dataset.alarm),
    forecast: (alarmId) => app.forecasts.get(alarmId) ?? null,
    flyToAlarm: (alarmId) => flyToAlarm(app, alarmId),
    setLanguage: (lang) => { setLanguage(lang); renderAlarms(app); },
    board: (on = true) => app.board.show(on),
    focusOrder: (id) => app.board.focus(id),
    orderMarkers: () => app.orders.screenPositions(),
    cues: () => ({ played: app.cue.played, suppressed: app.cue.suppressed, muted: app.cue.muted }),
    mute: (on = true) => app.cue.setMuted(on),
    kpi: () => app.kpi.refresh(),
    badges: () => (app.badges || []).map((b) => ({ id: b.d.id, shown: !b.el.hidden, why: b.el.dataset.hidden || null,
      rect: b.el.hidden ? null : b.rect })),
    panel: () => (app.panel.el.hidden ? null : { kind: app.panel.el.dataset.kind, id: app.panel.el.dataset.id }),
    loadDrill: (result, slot = 0, name = "") => loadDrill(app, result, slot, name),
    play: () => { app.playback.playing = true; app.playback.lastMs = null; },
    pause: () => { app.playback.playing = false; },
    seek: (t) => app.playback.seek(t),
    setSpeed: (s) => (app.playback.speed = s),
    time: () => app.playback.t,
    agentPosition: (slot, i) => app.playback.runs[slot]?.position(i) ?? null,
    heatmap: (on) => setHeat(app, on),
    compare: (on) => setCompare(app, on),
    compareLayout: () => compareLayout(app),
    // playback state for tests: per run agents drawn, of them on stairs, density cells drawn
    drillState: () => app.playback.runs.map((r) => ({ name: r.name, n: r.n, agents: r.active, on_stairs: r.stairs,
      density_cells: r.density.cells, density_max_p_m2: r.density.max,
      trajectories: r.hasTrajectories, duration_s: r.duration })),
    agentOnStair: (slot, i) => app.playback.runs[slot]?.onStairNow(i) ?? false,
    drills: (on) => (on === undefined ? app.drills.state() : app.drills.show(on).then(() => app.drills.state())),
    openDrill: (id, slot = 0) => app.drills.open(id, slot),
    scene: () => app.scene,
  };
}

createViewer();
