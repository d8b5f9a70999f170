// Elevator badges: HTML labels over the elevator controllers (floor, direction, risk).
//
// Where: over the lift itself while its building is opened, else just above the building's
// roof over the lift (a closed tower shows its lifts on top, not through its walls).
// Occlusion: a badge whose anchor is behind another building's surface (a ray from the
// camera, re-tested at most 5 times a second) is hidden (data-hidden="occluded").
// De-clutter: badges are placed by priority (alarm, high risk, then nearest first); one that
// would overlap a placed badge is nudged up or down by one line, else hidden
// (data-hidden="overlap"). No two shown badges overlap.

import * as THREE from "three";
import { kindsOfClass } from "./states.js";
import { isShown } from "./scene.js";

const LINE_PX = 18;
const ROOF_LIFT_M = 1.5;
const ray = new THREE.Raycaster();

function create(app) {
  const lifts = new Set(kindsOfClass("elevator"));
  const box = document.querySelector("#badges");
  return app.index.devices.filter((d) => lifts.has(d.kind) && d.position).map((d) => {
    const el = document.createElement("div");
    el.className = "badge";
    el.dataset.device = d.id;
    el.hidden = true;
    box.appendChild(el);
    return { d, el, text: "", w: 0, occluded: undefined };
  });
}

// The building id of each mesh (computed once).
function buildingOf(mesh) {
  if (mesh.userData.__building !== undefined) return mesh.userData.__building;
  let id = null;
  for (let p = mesh; p; p = p.parent) if (p.userData && p.userData.kind === "building") { id = p.userData.id; break; }
  mesh.userData.__building = id;
  return id;
}

function anchorOf(app, d) {
  const b = app.scene.buildings.get(d.building);
  if (!b || b.open) return d.position;
  if (b.top === undefined) {
    const box = new THREE.Box3().setFromObject(b.node);
    b.top = box.isEmpty() ? d.position[1] : box.max.y;
  }
  return [d.position[0], b.top + ROOF_LIFT_M, d.position[2]];
}

function occluded(app, d, anchor) {
  const cam = app.scene.camera.position;
  const target = new THREE.Vector3(anchor[0], anchor[1], anchor[2]);
  const dist = cam.distanceTo(target);
  ray.set(cam, target.sub(cam).normalize());
  ray.far = Math.max(0, dist - 0.5);
  const open = app.scene.buildings.get(d.building)?.open;
  const meshes = app.scene.pickables.filter((m) => isShown(m) && !(open && buildingOf(m) === d.building)
    && !(m.material && m.material.transparent) && m.userData.kind !== "layer");
  return ray.intersectObjects(meshes, false).length > 0;
}

function overlaps(r, placed) {
  return placed.some((q) => r.x < q.x + q.w && q.x < r.x + r.w && r.y < q.y + q.h && q.y < r.y + r.h);
}

export function updateBadges(app, slow = false) {
  if (!app.badges) app.badges = create(app);
  const cam = app.scene.camera.position;
  const origin = app.scene.canvas.getBoundingClientRect(); // badges sit in the canvas's box
  const items = [];
  for (const b of app.badges) {
    const anchor = app.scene.buildingVisible(b.d.building) ? anchorOf(app, b.d) : null;
    const p = anchor ? app.scene.toScreen(anchor) : null;
    if (!p) { hide(b, "off"); continue; }
    if (slow || b.occluded === undefined) b.occluded = occluded(app, b.d, anchor);
    if (b.occluded) { hide(b, "occluded"); continue; }
    const v = (app.liveValues.get(b.d.id) || {}).values || {};
    const risk = app.risk && app.risk.get(b.d.id);
    const arrow = v.direction === "up" ? "▲" : v.direction === "down" ? "▼" : "■";
    const text = `${b.d.name || b.d.id} ${v.floor !== undefined ? arrow + v.floor + "F" : ""}${risk !== undefined ? ` · risk ${(+risk).toFixed(2)}` : ""}`;
    if (text !== b.text) { b.el.textContent = text; b.text = text; b.w = 0; }
    const state = app.markers.stateOf(b.d.id);
    b.el.dataset.state = state;
    b.el.dataset.risk = risk > 0.5 ? "high" : "low";
    const dist = cam.distanceTo(new THREE.Vector3(anchor[0], anchor[1], anchor[2]));
    items.push({ b, p, rank: (state === "alarm" ? 0 : risk > 0.5 ? 1 : 2) * 1e6 + dist });
  }
  items.sort((x, y) => x.rank - y.rank);
  const placed = [];
  for (const { b, p } of items) {
    if (!b.w) { b.el.hidden = false; b.w = b.el.offsetWidth || 8 * b.text.length; }
    let rect = null;
    for (const dy of [0, -LINE_PX, LINE_PX]) {
      const r = { x: Math.round(p.x - origin.left - b.w / 2), y: Math.round(p.y - origin.top) - 28 + dy, w: b.w, h: LINE_PX - 2 };
      if (!overlaps(r, placed)) { rect = r; break; }
    }
    if (!rect) { hide(b, "overlap"); continue; }
    placed.push(rect);
    b.rect = rect;
    b.el.hidden = false;
    delete b.el.dataset.hidden;
    b.el.style.transform = `translate(${rect.x}px, ${rect.y}px)`;
  }
}

function hide(b, why) {
  b.el.hidden = true;
  b.el.dataset.hidden = why;
  b.rect = null;
}
