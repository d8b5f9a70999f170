// Drill playback: agents (InstancedMesh) from evacuation trajectories, time slider and
// speed, agents on stairs drawn along the flight, storeys cut away or other buildings
// isolated hide their agents, density (the current time's cells, and the run's maximum
// per floor), side-by-side comparison of two runs.
//
// Input: an evacuation result (or its "trajectories" part; a result without trajectories,
// `twin evacuate --out`, plays its density and times only), schema_version 1:
//   {"every_s", "agents": [ids], "floors": [floor ids], "frames": [{"t", "i": [agent index],
//    "f": [floor index], "x": [m], "y": [m]}]}   positions in site metres;
//   result["density"] = {floor id: {"x0", "y0", "cell_m", "nx", "ny", "max_p_m2": [[...]]}}.
// A floor id "<building>/<storey>" sits at that storey's elevation; others at 3 m × index.

import * as THREE from "three";

const RUN_COLORS = [0x1f6feb, 0xd9480f];

export class DrillRun {
  constructor(ts, result, { origin = [0, 0, 0], storeys = new Map(), slot = 0, name = "" } = {}) {
    this.ts = ts;
    this.name = name || `run ${slot + 1}`;
    this.result = result;
    const tr = trajectoriesOf(result);
    this.hasTrajectories = !!tr;
    this.every = tr ? tr.every_s || (tr.frames.length > 1 ? tr.frames[1].t - tr.frames[0].t : 1) : 1;
    this.n = !tr ? 0 : Array.isArray(tr.agents) ? tr.agents.length : (tr.agents || 0) ||
      1 + Math.max(-1, ...tr.frames.flatMap((f) => f.i));
    this.floors = tr ? tr.floors || [] : Object.keys(result.density || {});
    this.floorY = this.floors.map((f, k) => floorElevation(f, k, storeys) - origin[2] + 0.05);
    // the building of a floor "<building>/<storey>" (null: a floor of no building, always drawn)
    this.floorBuilding = this.floors.map((f) => (String(f).includes("/") ? String(f).split("/")[0] : null));
    this.origin = origin;
    const frames = tr ? tr.frames : [];
    this.times = Float64Array.from(frames.map((f) => f.t));
    // an --out result without trajectories: times and density only, no agents
    this.duration = this.times.length ? this.times[this.times.length - 1]
      : Math.max(0, result.end_time_s ?? result.evacuation_time_s ?? 0);
    this.evacuation_time_s = result.evacuation_time_s ?? null;
    // dense frames: x, y(up), z per agent; NaN = not recorded (not started, evacuated, or in a
    // stair: see fillStairGaps); floorOf: the agent's floor index (-1 none)
    this.frames = frames.map((f) => {
      const a = new Float32Array(this.n * 3).fill(NaN);
      for (let k = 0; k < f.i.length; k++) {
        const o = f.i[k] * 3;
        a[o] = f.x[k] - origin[0];
        a[o + 1] = this.floorY[f.f ? f.f[k] : 0] ?? 0;
        a[o + 2] = -(f.y[k] - origin[1]);
      }
      return a;
    });
    this.floorOf = frames.map((f) => {
      const fl = new Int16Array(this.n).fill(-1);
      for (let k = 0; k < f.i.length; k++) fl[f.i[k]] = f.f ? f.f[k] : 0;
      return fl;
    });
    this.onStair = this.frames.map(() => new Uint8Array(this.n));
    fillStairGaps(this);
    const mat = new THREE.MeshBasicMaterial({ color: RUN_COLORS[slot % 2] });
    this.mode = agentMode(ts.renderer);
    this.mesh = this.mode === "instanced" ? instancedAgents(this.n, mat) : mergedAgents(this.n, mat);
    this.mesh.frustumCulled = false;
    this.mesh.name = `agents:${slot}`;
    this.mesh.renderOrder = 1; // before the ground: early-z hides the ground under them
    this.xyz = new Float32Array(this.n * 3); // positions by packed slot
    this.slotOf = new Int32Array(this.n).fill(-1);
    this.stairNow = new Uint8Array(this.n); // 1: agent i is drawn on a stair now
    this.floorNow = new Int16Array(this.n); // the floor index of agent i now (-1: none)
    this.active = 0;
    this.stairs = 0; // agents drawn on a stair (between two storeys) at this time
    // what the scene shows: per floor drawn or not, and the scene height above which an agent
    // of that floor's building is cut away (Infinity: no cut)
    this.floorShown = new Uint8Array(this.floors.length).fill(1);
    this.floorCutY = new Float64Array(this.floors.length).fill(Infinity);
    this.heat = buildHeatmaps(result.density || {}, this.floors, this.floorY, origin);
    this.heat.visible = false;
    this.density = new LiveDensity(this, slot, cellSize(result.density));
    ts.scene.add(this.mesh);
    ts.scene.add(this.heat);
    ts.scene.add(this.density.mesh);
    this.setTime(0);
  }

  // Which floors are drawn (shown[k]) and the cut height per floor (scene y); true when changed.
  setVisibility(shown, cutY) {
    let changed = false;
    for (let k = 0; k < this.floors.length; k++) {
      if (this.floorShown[k] !== shown[k] || this.floorCutY[k] !== cutY[k]) changed = true;
      this.floorShown[k] = shown[k];
      this.floorCutY[k] = cutY[k];
    }
    return changed;
  }

  // Place every agent at time t (s), linear between recorded frames; agents of storeys that
  // are not drawn (another building isolated, above a cut) are hidden.
  setTime(t) {
    const times = this.times, nf = times.length;
    this.t = t;
    if (!nf) { this.active = 0; this.stairs = 0; this.density.update(0); return; }
    let k = Math.min(nf - 1, Math.max(0, Math.floor(t / this.every)));
    while (k > 0 && times[k] > t) k--;
    while (k < nf - 1 && times[k + 1] <= t) k++;
    const k1 = Math.min(k + 1, nf - 1);
    const span = times[k1] - times[k];
    const w = span > 0 ? Math.min(1, Math.max(0, (t - times[k]) / span)) : 0;
    const a = this.frames[k], b = this.frames[k1], xyz = this.xyz;
    const fa = this.floorOf[k], sa = this.onStair[k];
    const slot = this.slotOf, shown = this.floorShown, cut = this.floorCutY, st = this.stairNow;
    let active = 0, stairs = 0; // active agents are packed at the front: hidden ones cost nothing
    for (let i = 0, p = 0; i < this.n; i++, p += 3) {
      const ax = a[p];
      slot[i] = -1;
      st[i] = 0;
      this.floorNow[i] = -1;
      if (ax !== ax) continue; // NaN: not started or evacuated
      let bx = b[p], by = b[p + 1], bz = b[p + 2];
      if (bx !== bx) { bx = ax; by = a[p + 1]; bz = a[p + 2]; } // leaving
      const y = a[p + 1] + (by - a[p + 1]) * w;
      const f = fa[i];
      if (f >= 0 && (!shown[f] || y > cut[f])) continue;
      const o = active * 3;
      xyz[o] = ax + (bx - ax) * w;
      xyz[o + 1] = y;
      xyz[o + 2] = a[p + 2] + (bz - a[p + 2]) * w;
      if (sa[i]) { stairs++; st[i] = 1; }
      this.floorNow[i] = f;
      slot[i] = active++;
    }
    this.active = active;
    this.stairs = stairs;
    (this.mode === "instanced" ? writeInstanced : writeMerged)(this.mesh, xyz, active);
    this.density.update(active);
  }

  position(agentIndex) {
    const k = this.slotOf[agentIndex];
    if (k === undefined || k < 0) return null;
    return [this.xyz[k * 3], this.xyz[k * 3 + 1], this.xyz[k * 3 + 2]];
  }

  // Whether agent i is drawn on a stair (between two storeys) at the current time.
  onStairNow(agentIndex) { return this.stairNow[agentIndex] === 1; }

  dispose() {
    this.ts.scene.remove(this.mesh);
    this.ts.scene.remove(this.heat);
    this.ts.scene.remove(this.density.mesh);
    this.mesh.geometry.dispose();
    this.density.mesh.geometry.dispose();
    this.mesh.dispose && this.mesh.dispose();
  }
}

// The trajectories of a result (or the trajectories object itself); null for a result
// without them (`twin evacuate --out`). Anything else is refused.
export function trajectoriesOf(result) {
  if (!result || typeof result !== "object") throw new Error("not a drill file (expected a JSON object)");
  const tr = result.trajectories || result;
  if (Array.isArray(tr.frames)) return tr;
  if ("evacuation_time_s" in result || result.density || result.exits) return null;
  throw new Error("no trajectories, density or evacuation time in this file");
}

// An agent inside a stair is in no frame between leaving one floor and arriving on another
// (the engine keeps it in the stair's queue). Those gaps are filled along the flight: the
// position runs linearly, in time, from where it entered (its last place on the upper or
// lower floor) to where it came out (its first place on the next floor), the height with it.
// A gap frame belongs to the higher of the two floors (cut away with it).
export function fillStairGaps(run) {
  const nf = run.frames.length, n = run.n;
  for (let i = 0; i < n; i++) {
    let last = -1;
    for (let k = 0; k < nf; k++) {
      if (run.floorOf[k][i] < 0) continue;
      if (last >= 0 && k - last > 1 && run.floorOf[last][i] !== run.floorOf[k][i]) {
        const a = run.frames[last], b = run.frames[k], p = i * 3;
        const t0 = run.times[last], t1 = run.times[k];
        const fl0 = run.floorOf[last][i], fl1 = run.floorOf[k][i];
        const high = (run.floorY[fl1] ?? 0) > (run.floorY[fl0] ?? 0) ? fl1 : fl0;
        for (let g = last + 1; g < k; g++) {
          const w = (run.times[g] - t0) / (t1 - t0);
          const c = run.frames[g];
          for (let d = 0; d < 3; d++) c[p + d] = a[p + d] + (b[p + d] - a[p + d]) * w;
          run.floorOf[g][i] = high;
          run.onStair[g][i] = 1;
        }
      }
      last = k;
    }
  }
}

function cellSize(density) {
  const first = Object.values(density || {})[0];
  return first && first.cell_m > 0 ? first.cell_m : 1.0;
}

// The density layer of the current time: agents on floors counted per square cell (the
// engine's density cell, 1 m by default, aligned on site metres), each occupied cell drawn
// as a translucent square coloured by P/m² (densityColor). Agents on stairs are not counted.
export class LiveDensity {
  constructor(run, slot, cell_m) {
    this.run = run;
    this.cell = cell_m;
    this.cells = 0;
    this.max = 0;
    const cap = Math.max(1, run.n);
    const geo = new THREE.BufferGeometry();
    this.pos = new THREE.BufferAttribute(new Float32Array(cap * 12), 3);
    this.col = new THREE.BufferAttribute(new Float32Array(cap * 12), 3);
    this.pos.setUsage(THREE.DynamicDrawUsage);
    this.col.setUsage(THREE.DynamicDrawUsage);
    geo.setAttribute("position", this.pos);
    geo.setAttribute("color", this.col);
    const idx = new Uint32Array(cap * 6);
    for (let k = 0; k < cap; k++) idx.set([k * 4, k * 4 + 1, k * 4 + 2, k * 4, k * 4 + 2, k * 4 + 3], k * 6);
    geo.setIndex(new THREE.BufferAttribute(idx, 1));
    geo.setDrawRange(0, 0);
    this.mesh = new THREE.Mesh(geo, new THREE.MeshBasicMaterial({ vertexColors: true, transparent: true, opacity: 0.6,
      depthWrite: false, side: THREE.DoubleSide }));
    this.mesh.name = `density:${slot}`;
    this.mesh.frustumCulled = false;
    this.mesh.renderOrder = 6;
    this.mesh.visible = false;
    this.enabled = false; // counted while the layer is on (the split view toggles visibility per half)
  }

  // Recount from the run's packed positions (only while on: it costs a map per frame).
  update(active) {
    if (!this.enabled) { this.cells = 0; this.max = 0; return; }
    const run = this.run, c = this.cell, ox = run.origin[0], oy = run.origin[1];
    // numeric keys (cell column, row, floor) and parallel arrays: no strings, no objects
    const cellOf = this.cellOf || (this.cellOf = new Map());
    cellOf.clear();
    const cnt = this.cnt || (this.cnt = new Int32Array(Math.max(1, run.n)));
    const cis = this.cis || (this.cis = new Float64Array(Math.max(1, run.n)));
    const cjs = this.cjs || (this.cjs = new Float64Array(Math.max(1, run.n)));
    const cys = this.cys || (this.cys = new Float32Array(Math.max(1, run.n)));
    let m = 0;
    for (let i = 0; i < run.n; i++) {
      const k = run.slotOf[i];
      if (k < 0 || run.stairNow[i]) continue;
      const x = run.xyz[k * 3], z = run.xyz[k * 3 + 2], f = run.floorNow[i];
      const ci = Math.floor((x + ox) / c), cj = Math.floor((oy - z) / c);
      const key = (ci * 4194304 + (cj & 4194303)) * 1024 + (f & 1023);
      const at = cellOf.get(key);
      if (at !== undefined) { cnt[at]++; continue; }
      cellOf.set(key, m);
      cnt[m] = 1; cis[m] = ci; cjs[m] = cj; cys[m] = run.xyz[k * 3 + 1];
      m++;
    }
    const pos = this.pos.array, col = this.col.array;
    let max = 0;
    for (let e = 0; e < m; e++) {
      const v = cnt[e] / (c * c);
      max = Math.max(max, v);
      const [r, g, b] = densityColor(v);
      const x0 = cis[e] * c - ox, x1 = x0 + c, z0 = -(cjs[e] * c - oy), z1 = z0 - c, y = cys[e] + 0.07, o = e * 12;
      pos.set([x0, y, z0, x1, y, z0, x1, y, z1, x0, y, z1], o);
      for (let v3 = 0; v3 < 12; v3 += 3) { col[o + v3] = r / 255; col[o + v3 + 1] = g / 255; col[o + v3 + 2] = b / 255; }
    }
    this.cells = m;
    this.max = max;
    this.mesh.geometry.setDrawRange(0, m * 6);
    this.pos.needsUpdate = true;
    this.col.needsUpdate = true;
  }
}

// Agents are instanced (InstancedMesh) on GPUs; on a software renderer (SwiftShader), where
// each instance costs like a draw call, one merged buffer rewritten per frame is ~10× faster.
// `?agents=instanced|merged` overrides.
export function agentMode(renderer) {
  const forced = new URLSearchParams(location.search).get("agents");
  if (forced === "instanced" || forced === "merged") return forced;
  const gl = renderer.getContext();
  const ext = gl.getExtension("WEBGL_debug_renderer_info");
  const name = ext ? String(gl.getParameter(ext.UNMASKED_RENDERER_WEBGL)) : "";
  return /swiftshader|llvmpipe|software/i.test(name) ? "merged" : "instanced";
}

// A 3-sided pin 1.7 m tall: apex + three base corners (m, relative to the agent's feet).
const PIN = [0, 1.7, 0, 0.35, 0, 0, -0.175, 0, 0.303, -0.175, 0, -0.303];

function instancedAgents(n, mat) {
  const geo = new THREE.BufferGeometry();
  geo.setAttribute("position", new THREE.Float32BufferAttribute(PIN, 3));
  geo.setIndex([0, 1, 2, 0, 2, 3, 0, 3, 1]);
  const mesh = new THREE.InstancedMesh(geo, mat, Math.max(1, n));
  mesh.count = 0;
  mesh.instanceMatrix.setUsage(THREE.DynamicDrawUsage);
  const m = mesh.instanceMatrix.array; // identity rotation/scale; translation per frame
  for (let i = 0; i < n; i++) { m[i * 16] = 1; m[i * 16 + 5] = 1; m[i * 16 + 10] = 1; m[i * 16 + 15] = 1; }
  return mesh;
}

function writeInstanced(mesh, xyz, active) {
  const m = mesh.instanceMatrix.array;
  for (let k = 0; k < active; k++) {
    const o = k * 16, p = k * 3;
    m[o + 12] = xyz[p]; m[o + 13] = xyz[p + 1]; m[o + 14] = xyz[p + 2];
  }
  mesh.count = active;
  mesh.instanceMatrix.needsUpdate = true;
  mesh.instanceMatrix.clearUpdateRanges?.();
  mesh.instanceMatrix.addUpdateRange?.(0, active * 16);
}

function mergedAgents(n, mat) {
  const geo = new THREE.BufferGeometry();
  const pos = new THREE.BufferAttribute(new Float32Array(Math.max(1, n) * 12), 3);
  pos.setUsage(THREE.DynamicDrawUsage);
  geo.setAttribute("position", pos);
  const idx = new Uint32Array(Math.max(1, n) * 9);
  for (let k = 0; k < n; k++) {
    const b = k * 4, o = k * 9;
    idx.set([b, b + 1, b + 2, b, b + 2, b + 3, b, b + 3, b + 1], o);
  }
  geo.setIndex(new THREE.BufferAttribute(idx, 1));
  geo.setDrawRange(0, 0);
  const mesh = new THREE.Mesh(geo, mat);
  mesh.isAgents = true;
  return mesh;
}

function writeMerged(mesh, xyz, active) {
  const pos = mesh.geometry.attributes.position, a = pos.array;
  for (let k = 0; k < active; k++) {
    const p = k * 3, o = k * 12, x = xyz[p], y = xyz[p + 1], z = xyz[p + 2];
    for (let v = 0; v < 12; v += 3) { a[o + v] = PIN[v] + x; a[o + v + 1] = PIN[v + 1] + y; a[o + v + 2] = PIN[v + 2] + z; }
  }
  mesh.geometry.setDrawRange(0, active * 9);
  pos.needsUpdate = true;
  pos.clearUpdateRanges?.();
  pos.addUpdateRange?.(0, active * 12);
}

function floorElevation(floorId, k, storeys) {
  const parts = String(floorId).split("/");
  const s = storeys.get(parts[parts.length - 1]) || storeys.get(String(floorId));
  return s ? s.elevation_m : 3 * k;
}

// One translucent plane per floor, coloured by the maximum density (P/m²) of each cell.
export function buildHeatmaps(density, floors, floorY, origin) {
  const group = new THREE.Group();
  group.name = "heatmaps";
  for (const [fid, d] of Object.entries(density)) {
    const k = floors.indexOf(fid);
    const y = (k >= 0 ? floorY[k] : 0) + 0.1;
    const data = new Uint8Array(d.nx * d.ny * 4);
    for (let j = 0; j < d.ny; j++) {
      for (let i = 0; i < d.nx; i++) {
        const v = d.max_p_m2[j][i];
        const o = (j * d.nx + i) * 4;
        const [r, g, b] = densityColor(v);
        data[o] = r; data[o + 1] = g; data[o + 2] = b; data[o + 3] = v > 0 ? 170 : 0;
      }
    }
    const tex = new THREE.DataTexture(data, d.nx, d.ny, THREE.RGBAFormat);
    tex.magFilter = THREE.NearestFilter;
    tex.needsUpdate = true;
    const w = d.nx * d.cell_m, h = d.ny * d.cell_m;
    const plane = new THREE.Mesh(new THREE.PlaneGeometry(w, h),
      new THREE.MeshBasicMaterial({ map: tex, transparent: true, depthWrite: false, side: THREE.DoubleSide }));
    plane.rotation.x = -Math.PI / 2;
    plane.position.set(d.x0 + w / 2 - origin[0], y, -(d.y0 + h / 2 - origin[1]));
    plane.name = `heatmap:${fid}`;
    plane.renderOrder = 5;
    group.add(plane);
  }
  return group;
}

// 0 → green, 2 → yellow, ≥ 4 P/m² → red (crowd-danger threshold).
export function densityColor(v) {
  const k = Math.max(0, Math.min(1, v / 4));
  return k < 0.5 ? [Math.round(510 * k), 200, 40] : [255, Math.round(200 * (2 - 2 * k)), 40];
}

// Playback clock shared by one or two runs.
export class Playback {
  constructor() {
    this.runs = [];
    this.t = 0;
    this.speed = 1;
    this.playing = false;
    this.lastMs = null;
    this.updateMs = 0;
  }

  get duration() { return Math.max(0, ...this.runs.map((r) => r.duration)); }

  tick(now) {
    if (this.playing && this.lastMs !== null) {
      this.t += ((now - this.lastMs) / 1000) * this.speed;
      if (this.t >= this.duration) { this.t = this.duration; this.playing = false; }
    }
    this.lastMs = now;
    if (this.runs.length && (this.playing || this.t !== this.shownT)) this.seek(this.t);
  }

  seek(t) {
    this.t = Math.max(0, Math.min(t, this.duration));
    for (const r of this.runs) r.setTime(this.t);
    this.shownT = this.t;
  }

  get agents() { return this.runs.reduce((s, r) => s + r.active, 0); }
}
