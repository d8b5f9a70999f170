// Drill playback: agents (InstancedMesh) from evacuation trajectories, time slider and
// speed, density heatmaps per floor, side-by-side comparison of two runs.
//
// Input: an evacuation result (or its "trajectories" part), schema_version 1:
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
    const tr = result.trajectories || result;
    if (!tr || !Array.isArray(tr.frames)) throw new Error("no trajectories in this file (expected frames)");
    this.every = tr.every_s || (tr.frames.length > 1 ? tr.frames[1].t - tr.frames[0].t : 1);
    this.n = Array.isArray(tr.agents) ? tr.agents.length : (tr.agents || 0) ||
      1 + Math.max(-1, ...tr.frames.flatMap((f) => f.i));
    this.floors = tr.floors || [];
    this.floorY = this.floors.map((f, k) => floorElevation(f, k, storeys) - origin[2] + 0.05);
    this.origin = origin;
    this.times = Float64Array.from(tr.frames.map((f) => f.t));
    this.duration = this.times.length ? this.times[this.times.length - 1] : 0;
    this.evacuation_time_s = result.evacuation_time_s ?? null;
    // dense frames: x, y(up), z per agent; NaN = not on any floor (not started / evacuated)
    this.frames = tr.frames.map((f) => {
      const a = new Float32Array(this.n * 3).fill(NaN);
      for (let k = 0; k < f.i.length; k++) {
        const o = f.i[k] * 3;
        a[o] = f.x[k] - origin[0];
        a[o + 1] = this.floorY[f.f ? f.f[k] : 0] ?? 0;
        a[o + 2] = -(f.y[k] - origin[1]);
      }
      return a;
    });
    const mat = new THREE.MeshBasicMaterial({ color: RUN_COLORS[slot % 2] });
    this.mode = agentMode(ts.renderer);
    this.mesh = this.mode === "instanced" ? instancedAgents(this.n, mat) : mergedAgents(this.n, mat);
    this.mesh.frustumCulled = false;
    this.mesh.name = `agents:${slot}`;
    this.mesh.renderOrder = 1; // before the ground: early-z hides the ground under them
    this.xyz = new Float32Array(this.n * 3); // positions by packed slot
    this.slotOf = new Int32Array(this.n).fill(-1);
    this.active = 0;
    this.heat = buildHeatmaps(result.density || {}, this.floors, this.floorY, origin);
    this.heat.visible = false;
    ts.scene.add(this.mesh);
    ts.scene.add(this.heat);
    this.setTime(0);
  }

  // Place every agent at time t (s), linear between recorded frames.
  setTime(t) {
    const times = this.times, nf = times.length;
    if (!nf) return;
    let k = Math.min(nf - 1, Math.max(0, Math.floor(t / this.every)));
    while (k > 0 && times[k] > t) k--;
    while (k < nf - 1 && times[k + 1] <= t) k++;
    const k1 = Math.min(k + 1, nf - 1);
    const span = times[k1] - times[k];
    const w = span > 0 ? Math.min(1, Math.max(0, (t - times[k]) / span)) : 0;
    const a = this.frames[k], b = this.frames[k1], xyz = this.xyz;
    const slot = this.slotOf;
    let active = 0; // active agents are packed at the front: hidden ones cost nothing
    for (let i = 0, p = 0; i < this.n; i++, p += 3) {
      const ax = a[p];
      if (ax !== ax) { slot[i] = -1; continue; } // NaN: not on any floor
      let bx = b[p], bz = b[p + 2];
      if (bx !== bx || b[p + 1] !== a[p + 1]) { bx = ax; bz = a[p + 2]; } // leaving or changing floor
      const o = active * 3;
      xyz[o] = ax + (bx - ax) * w;
      xyz[o + 1] = a[p + 1];
      xyz[o + 2] = a[p + 2] + (bz - a[p + 2]) * w;
      slot[i] = active++;
    }
    this.active = active;
    (this.mode === "instanced" ? writeInstanced : writeMerged)(this.mesh, xyz, active);
    this.t = t;
  }

  position(agentIndex) {
    const k = this.slotOf[agentIndex];
    if (k === undefined || k < 0) return null;
    return [this.xyz[k * 3], this.xyz[k * 3 + 1], this.xyz[k * 3 + 2]];
  }

  dispose() {
    this.ts.scene.remove(this.mesh);
    this.ts.scene.remove(this.heat);
    this.mesh.geometry.dispose();
    this.mesh.dispose && this.mesh.dispose();
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
