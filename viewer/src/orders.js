// Open work orders as markers on the model: one InstancedMesh of small upside-down cones
// (pins), one per open order, over the order's device, else its space, else its unit's
// space, else its building's centre (positions from /api/scene/index). Colour by SLA state:
// breached red, due soon amber, else blue. Drawn on top (like the attention markers) while
// the order's building is shown; a click opens the order on the board.

import * as THREE from "three";

export const OPEN_STATUSES = new Set(["reported", "assigned", "in_progress", "on_hold", "reopened"]);
const COLORS = { breached: 0xe74c3c, due_soon: 0xf39c12, ok: 0x1f6feb };
const MAX = 2048;
const LIFT_M = 2.5; // above a device marker at the same place

export class OrderMarkers {
  constructor(twinScene, index) {
    this.ts = twinScene;
    this.index = index;
    this.orders = [];
    this.pos = [];
    const geo = new THREE.ConeGeometry(0.8, 2.0, 6);
    geo.rotateX(Math.PI); // point down at the place
    this.mesh = new THREE.InstancedMesh(geo, new THREE.MeshBasicMaterial({ color: 0xffffff, depthTest: false }), MAX);
    this.mesh.name = "markers:work-orders";
    this.mesh.frustumCulled = false;
    this.mesh.renderOrder = 11;
    this.mesh.count = 0;
    this.mesh.setColorAt(0, new THREE.Color(COLORS.ok));
    this.shown = [];
    twinScene.scene.add(this.mesh);
  }

  get count() { return this.shown.length; }

  // Scene position of an order (or null when its place is not in the index).
  placeOf(order) {
    const idx = this.index, loc = order.location || {};
    const p = (x) => (x && Array.isArray(x.position) ? x.position : null);
    const unit = loc.unit_id ? idx.units.find((u) => u.id === loc.unit_id) : null;
    const where = p(idx.devicesById.get(loc.device_id)) || p(idx.spacesById.get(loc.space_id))
      || p(unit && idx.spacesById.get(unit.space)) || p(idx.spacesById.get(order.space_id));
    if (where) return [where[0], where[1] + LIFT_M, where[2]];
    const b = this.ts.buildings.get(order.building_id || order.building);
    if (!b) return null;
    const box = new THREE.Box3().setFromObject(b.node);
    if (box.isEmpty()) return null;
    const c = box.getCenter(new THREE.Vector3());
    return [c.x, box.max.y + LIFT_M, c.z];
  }

  // Replace the markers by these orders (only the open ones are drawn).
  set(orders) {
    this.orders = orders.filter((o) => OPEN_STATUSES.has(o.status));
    this.pos = this.orders.map((o) => this.placeOf(o));
    this.refresh();
  }

  refresh() {
    const a = this.mesh.instanceMatrix.array, color = new THREE.Color();
    const dist = this.ts.camera.position.distanceTo(this.ts.controls.target);
    const s = Math.max(0.4, dist * 0.012);
    this.shown = [];
    this.orders.forEach((o, i) => {
      const p = this.pos[i];
      if (!p || this.shown.length >= MAX || !this.ts.buildingVisible(o.building_id || o.building)) return;
      const k = this.shown.length * 16;
      a.set([s, 0, 0, 0, 0, s, 0, 0, 0, 0, s, 0, p[0], p[1] + s, p[2], 1], k);
      this.mesh.setColorAt(this.shown.length, color.setHex(COLORS[o.sla] || COLORS.ok));
      this.shown.push(i);
    });
    this.mesh.count = this.shown.length;
    this.mesh.boundingSphere = null; // the raycaster culls by it: recomputed from the instances
    this.mesh.boundingBox = null;
    this.mesh.instanceMatrix.needsUpdate = true;
    if (this.mesh.instanceColor) this.mesh.instanceColor.needsUpdate = true;
    this.scale = s;
  }

  // Keep the pins a constant size on screen (cheap: only when the camera distance changed).
  update() {
    const dist = this.ts.camera.position.distanceTo(this.ts.controls.target);
    if (Math.abs(Math.max(0.4, dist * 0.012) - (this.scale || 0)) > 0.05) this.refresh();
  }

  pick(raycaster) {
    if (!this.mesh.count) return null;
    const hits = raycaster.intersectObject(this.mesh, false);
    for (const h of hits) {
      const i = this.shown[h.instanceId];
      if (i !== undefined) return { kind: "work_order", id: this.orders[i].id, point: h.point, distance: h.distance, onTop: true };
    }
    return null;
  }

  // [{id, x, y}] screen positions of the drawn pins (tests click them).
  screenPositions() {
    return this.shown.map((i) => {
      const p = this.pos[i];
      const sp = this.ts.toScreen([p[0], p[1] + this.scale, p[2]]);
      return { id: this.orders[i].id, x: sp ? sp.x : null, y: sp ? sp.y : null };
    });
  }
}
