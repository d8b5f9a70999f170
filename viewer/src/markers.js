// Device markers: one InstancedMesh, one instance per device, coloured by live state.
//
// Markers keep a constant size on screen (rescaled when the camera moves), draw on top of
// buildings, flash while in alarm, and are hidden for meters of closed buildings (meters are
// per-apartment and would crowd the overview).

import * as THREE from "three";
import { STATE_COLORS, nextState } from "./states.js";

const METER_KINDS = /^meter_/;

export class Markers {
  constructor(twinScene, devices) {
    this.ts = twinScene;
    this.devices = devices.filter((d) => Array.isArray(d.position));
    this.byId = new Map(this.devices.map((d, i) => [d.id, i]));
    this.state = new Array(this.devices.length).fill("unknown");
    this.last = new Array(this.devices.length).fill(null);
    this.alarmed = new Set();
    const geo = new THREE.OctahedronGeometry(1, 0);
    const mat = new THREE.MeshBasicMaterial({ color: 0xffffff, depthTest: false, transparent: true, opacity: 0.95 });
    this.mesh = new THREE.InstancedMesh(geo, mat, Math.max(1, this.devices.length));
    this.mesh.count = this.devices.length;
    this.mesh.renderOrder = 10;
    this.mesh.frustumCulled = false;
    this.mesh.instanceMatrix.setUsage(THREE.DynamicDrawUsage);
    this.mesh.name = "markers";
    this.pos = new Float32Array(this.devices.length * 3);
    this.devices.forEach((d, i) => this.pos.set(d.position, i * 3));
    this.shown = new Uint8Array(this.devices.length).fill(1);
    this.scale = 1;
    this.color = new THREE.Color();
    for (let i = 0; i < this.devices.length; i++) this.mesh.setColorAt(i, this.color.setHex(STATE_COLORS.unknown));
    if (!this.devices.length) this.mesh.setColorAt(0, this.color.setHex(0));
    this.refreshVisibility();
    twinScene.scene.add(this.mesh);
    this.changed = 0; // count of state changes applied (tests read it)
    this.changedAt = new Map(); // device id → wall-clock ms of its last state change
  }

  get count() { return this.devices.length; }

  refreshVisibility() {
    const ts = this.ts;
    this.devices.forEach((d, i) => {
      const b = ts.buildings.get(d.building);
      let on = ts.buildingVisible(d.building);
      if (on && METER_KINDS.test(d.kind)) on = !!(b && b.open);
      if (on && b && b.open && b.cutAt !== undefined && d.storey) {
        const s = ts.storeyIndex.get(d.storey);
        if (s && s.elevation > b.cutAt + 1e-6) on = false;
      }
      this.shown[i] = on ? 1 : 0;
    });
    this._writeMatrices(this._screenScale());
  }

  _screenScale() {
    const cam = this.ts.camera, t = this.ts.controls.target;
    const dist = cam.position.distanceTo(t);
    return Math.max(0.25, dist * 0.009);
  }

  _writeMatrices(scale) {
    const a = this.mesh.instanceMatrix.array;
    for (let i = 0, n = this.devices.length; i < n; i++) {
      const s = this.shown[i] ? scale * (this.alarmed.has(i) ? 1.6 : 1) : 0;
      const o = i * 16;
      a[o] = s; a[o + 1] = 0; a[o + 2] = 0; a[o + 3] = 0;
      a[o + 4] = 0; a[o + 5] = s; a[o + 6] = 0; a[o + 7] = 0;
      a[o + 8] = 0; a[o + 9] = 0; a[o + 10] = s; a[o + 11] = 0;
      a[o + 12] = this.pos[i * 3]; a[o + 13] = this.pos[i * 3 + 1]; a[o + 14] = this.pos[i * 3 + 2]; a[o + 15] = 1;
    }
    this.mesh.instanceMatrix.needsUpdate = true;
    this.scale = scale;
  }

  // Apply one live event; return the new state (or null for unknown devices).
  apply(ev) {
    const i = this.byId.get(ev.device_id);
    if (i === undefined) return null;
    const s = nextState(this.state[i], ev);
    this.last[i] = ev;
    this.set(i, s);
    return s;
  }

  setState(deviceId, s) {
    const i = this.byId.get(deviceId);
    if (i !== undefined) this.set(i, s);
  }

  set(i, s) {
    if (this.state[i] !== s) { this.changed += 1; this.changedAt.set(this.devices[i].id, Date.now()); }
    this.state[i] = s;
    if (s === "alarm") this.alarmed.add(i); else this.alarmed.delete(i);
    this.mesh.setColorAt(i, this.color.setHex(STATE_COLORS[s] ?? STATE_COLORS.unknown));
    this.mesh.instanceColor.needsUpdate = true;
  }

  stateOf(deviceId) {
    const i = this.byId.get(deviceId);
    return i === undefined ? null : this.state[i];
  }

  // Per frame: keep the on-screen size, flash alarms (2 Hz).
  update(now) {
    this._writeMatrices(this._screenScale());
    if (this.alarmed.size) {
      const on = Math.floor(now / 250) % 2 === 0;
      for (const i of this.alarmed) this.mesh.setColorAt(i, this.color.setHex(on ? STATE_COLORS.alarm : 0xffffff));
      this.mesh.instanceColor.needsUpdate = true;
    }
  }

  pick(raycaster) {
    if (!this.devices.length) return null;
    this.mesh.boundingSphere = null; // instances move and rescale: recompute before testing
    const hits = raycaster.intersectObject(this.mesh, false);
    for (const h of hits) {
      if (h.instanceId !== undefined && this.shown[h.instanceId]) {
        const d = this.devices[h.instanceId];
        return { kind: "device", id: d.id, point: h.point };
      }
    }
    return null;
  }

  screenPosition(deviceId) {
    const i = this.byId.get(deviceId);
    return i === undefined ? null : this.ts.toScreen(this.devices[i].position);
  }
}
