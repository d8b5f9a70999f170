// The drill panel (planners and admins): choose scope, time of day, fire location, blocked
// stairs and exits (from a list or picked on the model) and the ensemble size; start a drill
// (POST /api/drills, run as a background job on the server), follow its progress (WebSocket
// "drill" events, GET /api/drills/{id} as fallback), list past drills and open one for
// playback (slot A or B: B compares side by side).

import { api, auth, esc } from "./api.js";

// the roles that plan drills from the viewer (the API also lets operators start them)
export const DRILL_ROLES = new Set(["admin", "planner"]);
const POLL_MS = 2000;       // GET fallback while a drill runs and no event came
const QUIET_MS = 3000;      // no WebSocket event for this long: poll

export class DrillPanel {
  constructor(el, toggle, app) {
    this.el = el;
    this.toggle = toggle;
    this.app = app;
    this.jobs = new Map();     // id → the job as last seen (list row, GET, or event)
    this.lastEvent = 0;
    this.events = 0;           // drill events received over the WebSocket
    this.fire = null;          // {space, label}: picked on the model
    this.timer = null;
    toggle.onclick = () => this.show(this.el.hidden);
    this.authChanged();
  }

  get allowed() { return !!auth.token && DRILL_ROLES.has(auth.role); }

  authChanged() {
    this.toggle.hidden = !this.allowed;
    if (!this.allowed) this.show(false);
  }

  async show(on = true) {
    on = on && this.allowed;
    this.el.hidden = !on;
    this.toggle.setAttribute("aria-pressed", String(on));
    document.body.classList.toggle("drills-open", on);
    if (!on) { this.app.pickMode = null; return; }
    if (!this.el.dataset.built) this.build();
    this.renderFireOptions();
    await this.refresh();
  }

  // -- the form ---------------------------------------------------------------------------
  build() {
    const idx = this.app.index;
    const buildings = idx.buildings.filter((b) => (b.storeys || []).length);
    this.el.dataset.built = "1";
    this.el.innerHTML = `
      <header><h2>演练 Drills</h2><button class="close" title="close">×</button></header>
      <form id="drill-form">
        <fieldset><legend>范围 Scope</legend>
          <label><input type="checkbox" name="site" checked> 整个小区 whole site</label>
          ${buildings.map((b) => `<label><input type="checkbox" name="building" value="${esc(b.id)}"> ${esc(b.label || b.name || b.id)}</label>`).join("")}
        </fieldset>
        <label>时间 Time of day <input type="time" name="tod" value="02:00" required></label>
        <fieldset><legend>火点 Fire location</legend>
          <select name="fire"><option value="">无 none</option></select>
          <button type="button" data-pick="fire">在模型上选 Pick on model</button>
        </fieldset>
        <fieldset><legend>封闭 Blocked stairs / exits <span id="drill-blocked-count">0</span></legend>
          <input type="search" name="filter" placeholder="筛选 filter" autocomplete="off">
          <button type="button" data-pick="block">在模型上选 Pick on model</button>
          <div id="drill-block-list"></div>
        </fieldset>
        <label>次数 Runs (ensemble) <input type="number" name="runs" min="1" max="50" value="1" required></label>
        <button type="submit" id="drill-start">开始 Start</button>
        <p id="drill-msg" class="muted"></p>
      </form>
      <h3>记录 Past drills</h3>
      <div id="drill-list"></div>`;
    const f = this.form = this.el.querySelector("#drill-form");
    this.el.querySelector(".close").onclick = () => this.show(false);
    f.site.onchange = () => { if (f.site.checked) this.buildingBoxes().forEach((b) => (b.checked = false)); this.renderBlockList(); };
    for (const b of this.buildingBoxes()) b.onchange = () => { f.site.checked = !this.buildingBoxes().some((x) => x.checked); this.renderBlockList(); };
    f.filter.oninput = () => this.renderBlockList();
    this.el.querySelectorAll("[data-pick]").forEach((b) => (b.onclick = () => this.startPick(b.dataset.pick)));
    f.onsubmit = (e) => { e.preventDefault(); this.start(); };
    this.blocked = new Set();  // names
    this.renderFireOptions();
    this.renderBlockList();
  }

  buildingBoxes() { return [...this.form.querySelectorAll("input[name=building]")]; }

  scope() {
    const ids = this.buildingBoxes().filter((b) => b.checked).map((b) => b.value);
    return ids.length ? ids : null;
  }

  // Stairs (whole staircases and single flights) and exits by the names people use.
  choices() {
    const idx = this.app.index, scope = this.scope();
    const inScope = (b) => !scope || scope.includes(b);
    const out = [], seen = new Set();
    for (const s of idx.stairs || []) {
      if (!inScope(s.building)) continue;
      if (s.staircase && s.staircase !== s.name) {
        const at = s.name.lastIndexOf(s.staircase);
        const whole = at >= 0 ? s.name.slice(0, at) + s.staircase : s.staircase;
        if (!seen.has(whole)) { seen.add(whole); out.push({ kind: "staircase", name: whole, building: s.building }); }
      }
      out.push({ kind: "stair", name: s.name, id: s.id, building: s.building });
    }
    for (const e of idx.exits || []) if (inScope(e.building)) out.push({ kind: "exit_door", name: e.name, id: e.id, building: e.building });
    return out;
  }

  renderBlockList() {
    const q = this.form.filter.value.trim().toLowerCase();
    const list = this.choices().filter((c) => !q || c.name.toLowerCase().includes(q) || this.blocked.has(c.name));
    const label = { staircase: "楼梯 stair", stair: "梯段 flight", exit_door: "出口 exit" };
    const box = this.el.querySelector("#drill-block-list");
    box.innerHTML = list.length ? list.map((c) => `<label class="choice ${c.kind}"><input type="checkbox" data-name="${esc(c.name)}"
        ${this.blocked.has(c.name) ? "checked" : ""}> ${esc(c.name)} <small>${label[c.kind]}</small></label>`).join("")
      : `<p class="muted">无 none</p>`;
    box.querySelectorAll("input[data-name]").forEach((i) => (i.onchange = () => {
      if (i.checked) this.blocked.add(i.dataset.name); else this.blocked.delete(i.dataset.name);
      this.el.querySelector("#drill-blocked-count").textContent = String(this.blocked.size);
    }));
    this.el.querySelector("#drill-blocked-count").textContent = String(this.blocked.size);
  }

  // Fire location: an open alarm's place, or a space picked on the model.
  renderFireOptions() {
    const sel = this.form.fire, keep = sel.value;
    const idx = this.app.index;
    const opts = [`<option value="">无 none</option>`];
    for (const a of this.app.alarms.values()) {
      if (a.state === "cleared") continue;
      const d = a.device_id && idx.devicesById.get(a.device_id);
      const space = (d && d.space) || a.space;
      if (!space || !idx.spacesById.has(space)) continue;
      opts.push(`<option value="${esc(space)}" data-alarm="${esc(a.id)}">告警 alarm: ${esc(a.message || a.rule_id || a.id)} · ${esc(spaceLabel(idx, space))}</option>`);
    }
    if (this.fire) opts.push(`<option value="${esc(this.fire)}" data-picked="1">选中 picked: ${esc(spaceLabel(idx, this.fire))}</option>`);
    sel.innerHTML = opts.join("");
    sel.value = keep;
    if (sel.selectedIndex < 0) sel.value = "";  // its alarm was cleared
  }

  startPick(mode) {
    this.app.pickMode = mode;
    this.say(mode === "fire" ? "点击模型上的房间 click a room on the model" : "点击模型上的楼梯或出口 click a stair or exit on the model");
  }

  // A click on the model while picking: true when consumed.
  picked(hit) {
    const mode = this.app.pickMode;
    if (!mode || !hit) return false;
    this.app.pickMode = null;
    const idx = this.app.index;
    if (mode === "fire") {
      const dev = hit.kind === "device" ? idx.devicesById.get(hit.id) : null;
      const space = dev ? dev.space : idx.spacesById.has(hit.id) ? hit.id : nearest(idx.spaces, hit.point, 6)?.id;
      if (!space) { this.say("那里没有房间 no room there"); return true; }
      this.fire = space;
      this.renderFireOptions();
      this.form.fire.value = space;
      this.say(`火点 fire: ${spaceLabel(idx, space)}`);
      return true;
    }
    const dev = hit.kind === "device" ? idx.devicesById.get(hit.id) : null;
    const at = hit.point || (dev && dev.position ? { x: dev.position[0], y: dev.position[1], z: dev.position[2] } : null);
    const named = idx.stairsById.get(hit.id) || idx.exitsById.get(hit.id) ||
      nearest([...(idx.stairs || []), ...(idx.exits || [])], at, 4);
    if (!named) { this.say("那里没有楼梯或出口 no stair or exit there"); return true; }
    this.blocked.add(named.name);
    this.renderBlockList();
    this.say(`封闭 blocked: ${named.name}`);
    return true;
  }

  request() {
    const f = this.form;
    const body = { time_of_day: f.tod.value, runs: +f.runs.value, block: [...this.blocked] };
    const scope = this.scope();
    if (scope) body.buildings = scope;
    if (f.fire.value) body.fire = f.fire.value;
    return body;
  }

  async start() {
    const body = this.request();
    this.say("提交中 starting…");
    const r = await api("/api/drills", { method: "POST", body });
    if (!r || r.error || r.missing) { this.say(`未开始 not started: ${r ? r.error || "not available" : "no answer"}`, true); return null; }
    this.jobs.set(r.id, { id: r.id, status: r.status, progress: 0, request: body, created: new Date().toISOString() });
    this.say(`已开始 started: ${r.id}`);
    this.renderList();
    this.schedulePoll();
    return r.id;
  }

  say(text, error = false) {
    const m = this.el.querySelector("#drill-msg");
    if (!m) return;
    m.textContent = text;
    m.classList.toggle("error", error);
  }

  // -- progress and the list -------------------------------------------------------------
  onEvent(ev) {
    if (ev.type !== "drill" || !ev.drill_id) return;
    this.events += 1;
    this.lastEvent = performance.now();
    const job = { ...(this.jobs.get(ev.drill_id) || { id: ev.drill_id }), status: ev.status, progress: ev.progress,
                  error: ev.error ?? null };
    if (ev.status === "done") { job.evacuation_time_s = ev.evacuation_time_s; job.buildings = ev.buildings; }
    this.jobs.set(ev.drill_id, job);
    this.renderList();
    if (ev.status === "done" || ev.status === "failed") this.refreshOne(ev.drill_id);
  }

  async refresh() {
    const rows = await api("/api/drills");
    if (!Array.isArray(rows)) { this.el.querySelector("#drill-list").innerHTML = `<p class="muted">${esc(rows && rows.error || "不可用 not available")}</p>`; return; }
    for (const r of rows) this.jobs.set(r.id, { ...(this.jobs.get(r.id) || {}), ...r });
    this.renderList();
    this.schedulePoll();
  }

  async refreshOne(id) {
    const j = await api(`/api/drills/${encodeURIComponent(id)}`);
    if (!j || j.error || j.missing) return null;
    const res = j.result || {};
    const buildings = res.buildings ? Object.fromEntries(Object.entries(res.buildings).map(([b, v]) => [b, v.evacuation_time_s])) : undefined;
    this.jobs.set(id, { ...(this.jobs.get(id) || {}), ...j, result: undefined,
                        evacuation_time_s: res.evacuation_time_s ?? null, buildings, full: j });
    this.renderList();
    return j;
  }

  schedulePoll() {
    clearTimeout(this.timer);
    const running = [...this.jobs.values()].filter((j) => j.status === "queued" || j.status === "running");
    if (!running.length) return;
    this.timer = setTimeout(async () => {
      if (performance.now() - this.lastEvent > QUIET_MS) await Promise.all(running.map((j) => this.refreshOne(j.id)));
      this.schedulePoll();
    }, POLL_MS);
  }

  renderList() {
    const box = this.el.querySelector("#drill-list");
    if (!box) return;
    const idx = this.app.index;
    const rows = [...this.jobs.values()].sort((a, b) => String(b.created || "").localeCompare(String(a.created || "")));
    box.innerHTML = rows.length ? rows.map((j) => {
      const rq = j.request || {};
      const scope = rq.buildings ? rq.buildings.map((b) => buildingLabel(idx, b)).join(", ") : "整个小区 whole site";
      const pct = Math.round((j.progress || 0) * 100);
      const per = j.buildings ? Object.entries(j.buildings).map(([b, t]) => `${buildingLabel(idx, b)} ${t == null ? "—" : t.toFixed(0) + " s"}`).join(" · ") : "";
      return `<div class="drill-row" data-drill="${esc(j.id)}" data-status="${esc(j.status)}">
        <b>${esc(scope)}</b> <small>${esc(rq.time_of_day || "")}${rq.runs > 1 ? ` × ${rq.runs}` : ""}${(rq.block || []).length ? ` · 封闭 ${esc(rq.block.join(", "))}` : ""}${rq.fire ? ` · 火 ${esc(spaceLabel(idx, rq.fire_space || rq.fire))}` : ""}</small>
        <progress max="100" value="${pct}"></progress>
        <small class="state">${esc(j.status)} ${j.status === "done" ? `· ${j.evacuation_time_s == null ? "—" : (+j.evacuation_time_s).toFixed(1) + " s"}` : `${pct}%`}${j.error ? ` · ${esc(j.error)}` : ""}</small>
        ${per ? `<small class="per-building">${esc(per)}</small>` : ""}
        ${j.status === "done" ? `<span><button data-open="0">▶ A</button><button data-open="1">▶ B 对比 compare</button></span>` : ""}
      </div>`;
    }).join("") : `<p class="muted">无 none</p>`;
    box.querySelectorAll("[data-open]").forEach((b) => (b.onclick = () => this.open(b.closest("[data-drill]").dataset.drill, +b.dataset.open)));
  }

  // Playback of a finished drill: its record (density, times) with its trajectories.
  async open(id, slot = 0) {
    const [job, tr] = await Promise.all([api(`/api/drills/${encodeURIComponent(id)}`), api(`/api/drills/${encodeURIComponent(id)}/trajectories`)]);
    if (!job || job.error || job.missing) { this.say(`打不开 cannot open: ${job ? job.error || "not available" : "no answer"}`, true); return null; }
    const result = { ...(job.result || {}) };
    if (tr && Array.isArray(tr.frames)) result.trajectories = tr;
    const info = this.app.loadDrill(result, slot, `${id} ${(job.request || {}).time_of_day || ""}`.trim());
    // open the drill's buildings: their people are inside (closed shells would hide them)
    const ids = (job.request || {}).buildings || [...this.app.scene.buildings.keys()];
    for (const b of ids) if (this.app.scene.buildings.has(b) && !this.app.scene.buildings.get(b).open) this.app.scene.openBuilding(b, true);
    if (slot === 1) this.app.setCompare(true);
    this.say(`回放 playing ${id}`);
    return info;
  }

  state() {
    return { open: !this.el.hidden, events: this.events, pickMode: this.app.pickMode || null,
             blocked: this.blocked ? [...this.blocked] : [], fire: this.form ? this.form.fire.value || null : null,
             jobs: [...this.jobs.values()].map((j) => ({ id: j.id, status: j.status, progress: j.progress,
               evacuation_time_s: j.evacuation_time_s ?? null, buildings: j.buildings || null })) };
  }
}

function buildingLabel(idx, id) { const b = idx.buildingsById.get(id); return (b && (b.label || b.name)) || id; }
function spaceLabel(idx, id) {
  const s = idx.spacesById.get(id);
  if (!s) return id;
  const st = idx.storeysById.get(s.storey);
  return `${buildingLabel(idx, s.building)} ${st ? st.label || st.name : ""} ${s.long_name || s.name || id}`.replace(/\s+/g, " ").trim();
}

// The item of `items` (with scene `position`) nearest to the scene point p, within max_m.
function nearest(items, p, max_m) {
  if (!p) return null;
  let best = null, bd = max_m * max_m;
  for (const it of items) {
    const q = it.position;
    if (!q) continue;
    const d = (q[0] - p.x) ** 2 + (q[1] - p.y) ** 2 + (q[2] - p.z) ** 2;
    if (d < bd) { bd = d; best = it; }
  }
  return best;
}
