// Device markers: one InstancedMesh, one instance per device, coloured by live state, plus
// an overlay InstancedMesh drawn on top of everything for the devices that need attention
// (alarm, warn, offline), larger and flashing while in alarm.
//
// Level of detail: a closed building shows only its attention markers (on top of its
// shell); an opened building shows all its markers (meters too) with depth testing, cut
// away above the selected storey. Devices outside buildings are always shown.
// (Depth-tested opaque markers are several times cheaper than always-on-top ones on
// software WebGL, which is why only the few attention markers are drawn on top.)

import * as THREE from "three";
import { STATE_COLORS, nextState } from "./states.js";

const ATTENTION = new Set(["alarm", "warn", "offline"]);
const OVERLAY_MAX = 1024;

export class Markers {
  constructor(twinScene, devices) {
    this.ts = twinScene;
    this.devices = devices.filter((d) => Array.isArray(d.position));
    this.byId = new Map(this.devices.map((d, i) => [d.id, i]));
    this.state = new Array(this.devices.length).fill("unknown");
    this.last = new Array(this.devices.length).fill(null);
    this.alarmed = new Set();
    this.color = new THREE.Color();
    const geo = new THREE.OctahedronGeometry(1, 0);
    this.mesh = this._instanced(geo, new THREE.MeshBasicMaterial({ color: 0xffffff }), Math.max(1, this.devices.length), "markers");
    this.overlay = this._instanced(geo, new THREE.MeshBasicMaterial({ color: 0xffffff, depthTest: false }), OVERLAY_MAX, "markers:attention");
    this.mesh.renderOrder = 4;
    this.overlay.renderOrder = 10;
    this.overlay.count = 0;
    this.overlayIdx = [];
    this.pos = new Float32Array(this.devices.length * 3);
    this.devices.forEach((d, i) => this.pos.set(d.position, i * 3));
    this.shown = new Uint8Array(this.devices.length);
    this.slot = new Int32Array(this.devices.length).fill(-1); // device → packed instance
    this.mainIdx = [];
    this.scale = 1;
    this.mesh.setColorAt(0, this.color.setHex(STATE_COLORS.unknown)); // creates instanceColor
    this.overlay.setColorAt(0, this.color.setHex(STATE_COLORS.alarm));
    this.changed = 0; // count of state changes applied (tests read it)
    this.changedAt = new Map(); // device id → wall-clock ms of its last state change
    this.refreshVisibility();
    twinScene.scene.add(this.mesh);
    twinScene.scene.add(this.overlay);
  }

  _instanced(geo, mat, n, name) {
    const m = new THREE.InstancedMesh(geo, mat, n);
    m.frustumCulled = false;
    m.instanceMatrix.setUsage(THREE.DynamicDrawUsage);
    m.name = name;
    return m;
  }

  get count() { return this.devices.length; }

  // Which markers the current level of detail shows (closed/open/cut buildings, isolation).
  refreshVisibility() {
    const ts = this.ts;
    this.devices.forEach((d, i) => {
      const b = ts.buildings.get(d.building);
      let on = ts.buildingVisible(d.building);
      if (on && b) on = b.open;
      if (on && b && b.cutAt !== undefined && d.storey) {
        const s = ts.storeyIndex.get(d.storey);
        if (s && s.elevation > b.cutAt + 1e-6) on = false;
      }
      this.shown[i] = on ? 1 : 0;
    });
    this._dirty = true;
    this._write(this._screenScale());
  }

  _screenScale() {
    const dist = this.ts.camera.position.distanceTo(this.ts.controls.target);
    return Math.max(0.25, dist * 0.009);
  }

  // Pack the shown markers at the front of each InstancedMesh (instances past `count` cost
  // nothing; on software WebGL even zero-scale instances cost like draw calls).
  _write(scale) {
    const a = this.mesh.instanceMatrix.array, b = this.overlay.instanceMatrix.array;
    const main = [], over = [];
    for (let i = 0, n = this.devices.length; i < n; i++) {
      this.slot[i] = -1;
      if (ATTENTION.has(this.state[i])) {
        if (over.length < OVERLAY_MAX && this.ts.buildingVisible(this.devices[i].building)) {
          setMatrix(b, over.length, scale * 1.6, this.pos, i);
          this.overlay.setColorAt(over.length, this.color.setHex(STATE_COLORS[this.state[i]]));
          over.push(i);
        }
      } else if (this.shown[i]) {
        setMatrix(a, main.length, scale, this.pos, i);
        this.mesh.setColorAt(main.length, this.color.setHex(STATE_COLORS[this.state[i]] ?? STATE_COLORS.unknown));
        this.slot[i] = main.length;
        main.push(i);
      }
    }
    for (const [m, list] of [[this.mesh, main], [this.overlay, over]]) {
      m.count = list.length;
      m.instanceMatrix.needsUpdate = true;
      if (m.instanceColor) m.instanceColor.needsUpdate = true;
    }
    this.mainIdx = main;
    this.overlayIdx = over;
    this.scale = scale;
    this._dirty = false;
  }

  // Apply one live event; return the new state (or null for unknown devices).
  apply(ev) {
    const i = this.byId.get(ev.device_id);
    if (i === undefined) return null;
    const s = nextState(this.state[i], ev, this.devices[i].kind);
    this.last[i] = ev;
    this.set(i, s);
    return s;
  }

  setState(deviceId, s) {
    const i = this.byId.get(deviceId);
    if (i !== undefined) this.set(i, s);
  }

  set(i, s) {
    const before = this.state[i];
    if (before !== s) {
      this.changed += 1;
      this.changedAt.set(this.devices[i].id, Date.now());
      if (ATTENTION.has(before) || ATTENTION.has(s)) this._dirty = true;
    }
    this.state[i] = s;
    if (s === "alarm") this.alarmed.add(i); else this.alarmed.delete(i);
    if (this.slot[i] >= 0) {
      this.mesh.setColorAt(this.slot[i], this.color.setHex(STATE_COLORS[s] ?? STATE_COLORS.unknown));
      this.mesh.instanceColor.needsUpdate = true;
    }
  }

  stateOf(deviceId) {
    const i = this.byId.get(deviceId);
    return i === undefined ? null : this.state[i];
  }

  // Per frame: keep the on-screen size, flash alarms (2 Hz).
  update(now) {
    const scale = this._screenScale();
    if (this._dirty || Math.abs(scale - this.scale) > 0.02 * this.scale) this._write(scale);
    if (this.alarmed.size) {
      const on = Math.floor(now / 250) % 2 === 0;
      this.overlayIdx.forEach((i, k) => {
        if (this.state[i] === "alarm") this.overlay.setColorAt(k, this.color.setHex(on ? STATE_COLORS.alarm : 0xffffff));
      });
      if (this.overlay.instanceColor) this.overlay.instanceColor.needsUpdate = true;
    }
  }

  // The marker under the ray: attention markers (drawn on top) first, then visible ones.
  pick(raycaster) {
    if (!this.devices.length) return null;
    for (const [mesh, map, onTop] of [[this.overlay, (k) => this.overlayIdx[k], true], [this.mesh, (k) => this.mainIdx[k], false]]) {
      if (!mesh.count) continue;
      mesh.boundingSphere = null; // instances rescale: recompute before testing
      for (const h of raycaster.intersectObject(mesh, false)) {
        const i = h.instanceId === undefined ? undefined : map(h.instanceId);
        if (i !== undefined && (onTop || this.shown[i])) {
          return { kind: "device", id: this.devices[i].id, point: h.point, distance: h.distance, onTop };
        }
      }
    }
    return null;
  }

  screenPosition(deviceId) {
    const i = this.byId.get(deviceId);
    return i === undefined ? null : this.ts.toScreen(this.devices[i].position);
  }
}

function setMatrix(a, k, s, pos, i) {
  const o = k * 16;
  a[o] = s; a[o + 1] = 0; a[o + 2] = 0; a[o + 3] = 0;
  a[o + 4] = 0; a[o + 5] = s; a[o + 6] = 0; a[o + 7] = 0;
  a[o + 8] = 0; a[o + 9] = 0; a[o + 10] = s; a[o + 11] = 0;
  a[o + 12] = pos[i * 3]; a[o + 13] = pos[i * 3 + 1]; a[o + 14] = pos[i * 3 + 2]; a[o + 15] = 1;
}
