// The 3D scene: renderer, camera, the community GLB with its level of detail, picking.
//
// GLB layout (see docs/viewer.md): nodes "building:<id>" hold "shell:<id>" (overview) and
// "storey:<id>" (detail, hidden until the building is opened); every mesh node carries
// userData.elements = {ids, first, count} mapping triangle ranges to twin element ids.

import * as THREE from "three";
import { GLTFLoader } from "three/addons/loaders/GLTFLoader.js";
import { OrbitControls } from "three/addons/controls/OrbitControls.js";
import { dressFacade } from "./facade.js";

const FACADE = new URLSearchParams(location.search).get("facade") !== "off";

export class TwinScene {
  constructor(canvas) {
    this.canvas = canvas;
    this.renderer = new THREE.WebGLRenderer({ canvas, antialias: false, powerPreference: "high-performance",
      preserveDrawingBuffer: new URLSearchParams(location.search).has("capture") });
    this.renderer.setPixelRatio(1);
    this.renderer.setClearColor(0xdfe7ee);
    this.scene = new THREE.Scene();
    this.camera = new THREE.PerspectiveCamera(45, 1, 1.0, 5000);
    this.camera.position.set(150, 160, 220);
    this.controls = new OrbitControls(this.camera, canvas);
    this.controls.enableDamping = false;
    this.controls.screenSpacePanning = true;
    this.scene.add(new THREE.HemisphereLight(0xffffff, 0x8a8f80, 2.2));
    const sun = new THREE.DirectionalLight(0xffffff, 1.6);
    sun.position.set(200, 400, 120);
    this.scene.add(sun);
    this.root = null;
    this.buildings = new Map(); // id → {id, name, node, shell, storeys: [{id, name, node, elevation}], open}
    this.storeyIndex = new Map(); // storey id → {building, storey}
    this.pickables = [];
    this.extraPickables = [];
    this.raycaster = new THREE.Raycaster();
    this.hooks = [];
    this.passes = null; // split-screen comparison: [{left, width, before()}]
    this.fps = 0;
    this._frames = 0;
    this._fpsT0 = performance.now();
    this._fly = null;
    this.resize();
    new ResizeObserver(() => this.resize()).observe(canvas);
  }

  resize() {
    const w = this.canvas.clientWidth || 1280, h = this.canvas.clientHeight || 800;
    this.renderer.setSize(w, h, false);
    this.camera.aspect = w / h;
    this.camera.updateProjectionMatrix();
  }

  async load(url) {
    const gltf = await new GLTFLoader().loadAsync(url);
    this.root = gltf.scene;
    this.info = gltf.scene.userData.twin || {};
    this.scene.add(this.root);
    this.root.traverse((o) => this._register(o));
    for (const b of this.buildings.values()) {
      b.storeys.sort((a, c) => a.elevation - c.elevation);
      const h = storeyHeight(b.storeys);
      if (FACADE) {  // windows and floor bands: a texture, no more triangles (?facade=off: plain)
        dressFacade(b.shell, b.id, h);
        dressFacade(b.hull, b.id, h);
      }
      if (b.shell && b.hull) this._distanceLod(b);
    }
    this.frameAll();
    return this.info;
  }

  _register(o) {
    const d = o.userData || {};
    if (d.kind === "building") {
      this.buildings.set(d.id, { id: d.id, name: d.name, node: o, shell: null, storeys: [], misc: [], open: false });
    } else if (d.kind === "shell") {
      this._building(o).shell = o;
    } else if (d.kind === "hull") {
      this._building(o).hull = o;
    } else if (d.kind === "storey") {
      const b = this._building(o);
      const s = { id: d.id, name: d.name, node: o, elevation: d.elevation_m, building: b.id };
      b.storeys.push(s);
      this.storeyIndex.set(d.id, s);
      o.visible = false;
    } else if (d.kind === "layer" && d.lod === "detail") {
      (this.underground = this.underground || []).push(o); // garage parking: with the garage
      o.visible = false;
    } else if (d.kind === "misc") {
      this._building(o).misc.push(o);
      o.visible = false;
    }
    if (o.isMesh) {
      o.userData.elements = o.userData.elements || (o.parent && o.parent.userData.elements);
      // draw near-to-far by kind so software early-z skips hidden ground: buildings, then
      // ground layers, then the plate under everything (all nodes sit at the origin, so
      // three's distance sort cannot order them)
      o.renderOrder = d.kind === "layer" ? (d.layer === "ground" ? 3 : 2) : 1;
      if (o.material) {
        bakeLight(o.geometry);
        o.material = this._flatMaterial(o.material);
      }
      this.pickables.push(o);
    }
  }

  // Shell near, hull (outline extruded) beyond hull.userData.distance_m: THREE.LOD switches
  // per frame by camera distance to the building's centre.
  _distanceLod(b) {
    const lod = new THREE.LOD();
    lod.name = `lod:${b.id}`;
    const box = new THREE.Box3().setFromObject(b.shell);
    const centre = box.getCenter(new THREE.Vector3());
    for (const m of [b.shell, b.hull]) m.geometry.translate(-centre.x, -centre.y, -centre.z);
    lod.position.copy(centre);
    lod.addLevel(b.shell, 0);
    lod.addLevel(b.hull, b.hull.userData.distance_m || 250);
    b.node.add(lod);
    b.lod = lod;
  }

  // Unlit material (lighting is baked into the vertex colours): cheap on software WebGL.
  _flatMaterial(m) {
    this._materials = this._materials || new Map();
    if (!this._materials.has(m.uuid)) {
      this._materials.set(m.uuid, new THREE.MeshBasicMaterial({
        vertexColors: true, side: THREE.DoubleSide, transparent: m.transparent,
        depthWrite: !m.transparent, name: m.name }));
    }
    return this._materials.get(m.uuid);
  }

  _building(o) {
    for (let p = o.parent; p; p = p.parent) {
      if (p.userData && p.userData.kind === "building") return this.buildings.get(p.userData.id);
    }
    return { storeys: [], misc: [] };
  }

  frameAll() {
    const box = new THREE.Box3().setFromObject(this.root);
    if (box.isEmpty()) return;
    const size = box.getSize(new THREE.Vector3()).length();
    const centre = box.getCenter(new THREE.Vector3());
    this.controls.target.copy(centre);
    this.camera.position.copy(centre).add(new THREE.Vector3(0.45, 0.55, 0.7).multiplyScalar(size * 0.9));
    this.camera.far = Math.max(5000, size * 6);
    this.camera.updateProjectionMatrix();
    this.controls.update();
  }

  // -- level of detail and isolation -----------------------------------------------------
  openBuilding(id, open = true) {
    const b = this.buildings.get(id);
    if (!b) return false;
    b.open = open;
    if (b.lod) b.lod.visible = !open; else if (b.shell) b.shell.visible = !open;
    for (const s of b.storeys) s.node.visible = open && (b.cutAt === undefined || s.elevation <= b.cutAt + 1e-6);
    for (const m of b.misc) m.visible = open && b.cutAt === undefined;
    const below = [...this.buildings.values()].some((x) => x.open && x.node.visible && x.storeys.some((s) => s.elevation < -0.5));
    for (const u of this.underground || []) u.visible = below;
    this.onLodChange && this.onLodChange();
    return true;
  }

  // Cut-away: show the storeys of the building up to and including storeyId.
  showStorey(buildingId, storeyId) {
    const b = this.buildings.get(buildingId);
    if (!b) return false;
    const s = storeyId ? b.storeys.find((x) => x.id === storeyId) : null;
    b.cutAt = s ? s.elevation : undefined;
    return this.openBuilding(buildingId, true);
  }

  isolate(buildingId) {
    for (const b of this.buildings.values()) b.node.visible = !buildingId || b.id === buildingId;
    this.isolated = buildingId || null;
    this.onLodChange && this.onLodChange();
  }

  buildingVisible(id) {
    const b = this.buildings.get(id);
    return !b || b.node.visible;
  }

  // -- picking ---------------------------------------------------------------------------
  pick(clientX, clientY) {
    const rect = this.canvas.getBoundingClientRect();
    const ndc = new THREE.Vector2(((clientX - rect.left) / rect.width) * 2 - 1, -((clientY - rect.top) / rect.height) * 2 + 1);
    this.raycaster.setFromCamera(ndc, this.camera);
    let element = null, opaque = Infinity;
    const visible = this.pickables.filter((m) => isShown(m));
    for (const hit of this.raycaster.intersectObjects(visible, false)) {
      const id = elementOf(hit.object.userData.elements, hit.faceIndex);
      if (id && !element) element = { kind: "element", id, point: hit.point, distance: hit.distance, object: hit.object, node: hit.object.userData };
      if (!hit.object.material.transparent) { opaque = hit.distance; break; }
    }
    // a marker wins when drawn on top or not hidden behind an opaque surface (0.5 m slack)
    for (const extra of this.extraPickables) {
      const hit = extra.pick(this.raycaster);
      if (hit && (hit.onTop || hit.distance <= opaque + 0.5)) return hit;
    }
    return element;
  }

  // Screen position (CSS pixels, relative to the canvas) of a scene point; null if behind.
  toScreen(p) {
    const v = new THREE.Vector3(p[0] ?? p.x, p[1] ?? p.y, p[2] ?? p.z).project(this.camera);
    if (v.z > 1) return null;
    const rect = this.canvas.getBoundingClientRect();
    return { x: rect.left + (v.x + 1) / 2 * rect.width, y: rect.top + (1 - v.y) / 2 * rect.height };
  }

  flyTo(point, distance = 40, seconds = 0.6) {
    const target = new THREE.Vector3(point[0] ?? point.x, point[1] ?? point.y, point[2] ?? point.z);
    const dir = this.camera.position.clone().sub(this.controls.target).normalize();
    if (dir.y < 0.35) { dir.y = 0.6; dir.normalize(); }
    const pos = target.clone().add(dir.multiplyScalar(distance));
    this._fly = { t0: performance.now(), dur: seconds * 1000, fromT: this.controls.target.clone(),
                  fromP: this.camera.position.clone(), toT: target, toP: pos };
    if (seconds <= 0) this._stepFly(performance.now() + 1);
  }

  _stepFly(now) {
    const f = this._fly;
    if (!f) return;
    const k = Math.min(1, (now - f.t0) / Math.max(f.dur, 1));
    const e = k * k * (3 - 2 * k);
    this.controls.target.lerpVectors(f.fromT, f.toT, e);
    this.camera.position.lerpVectors(f.fromP, f.toP, e);
    this.controls.update();
    if (k >= 1) this._fly = null;
  }

  // -- stats and loop --------------------------------------------------------------------
  stats() {
    let meshes = 0, triangles = 0;
    this.root && this.root.traverse((o) => {
      if (o.isMesh && !o.isInstancedMesh) {
        meshes += 1;
        if (isShown(o)) triangles += triangleCount(o.geometry);
      }
    });
    return { meshes, triangles };
  }

  start() {
    const loop = (now) => {
      this._stepFly(now);
      for (const hook of this.hooks) hook(now);
      this.render();
      this._frames += 1;
      if (now - this._fpsT0 >= 1000) {
        this.fps = (this._frames * 1000) / (now - this._fpsT0);
        this._frames = 0;
        this._fpsT0 = now;
      }
      requestAnimationFrame(loop);
    };
    requestAnimationFrame(loop);
  }

  render() {
    const r = this.renderer;
    if (!this.passes) {
      r.setScissorTest(false);
      r.render(this.scene, this.camera);
      return;
    }
    // each pass draws into its rect ({left, right} in CSS pixels of the canvas; default the
    // left and right halves): the comparison keeps clear of the panels over the canvas
    const w = this.canvas.clientWidth || this.canvas.width, h = this.canvas.clientHeight || this.canvas.height;
    const aspect = this.camera.aspect;
    r.setScissorTest(true);
    r.setScissor(0, 0, w, h);
    r.clear();
    this.passes.forEach((pass, i) => {
      const x0 = pass.rect ? pass.rect.left : i * w / 2, pw = Math.max(1, (pass.rect ? pass.rect.right : (i + 1) * w / 2) - x0);
      this.camera.aspect = pw / h;
      this.camera.updateProjectionMatrix();
      pass.before();
      r.setViewport(x0, 0, pw, h);
      r.setScissor(x0, 0, pw, h);
      r.render(this.scene, this.camera);
    });
    r.setScissorTest(false);
    r.setViewport(0, 0, w, h);
    this.passes[0].before();
    this.camera.aspect = aspect;
    this.camera.updateProjectionMatrix();
  }
}

// Typical storey height (m) of a building: the median step between its storeys' elevations.
export function storeyHeight(storeys) {
  const steps = [];
  for (let i = 1; i < storeys.length; i++) {
    const d = storeys[i].elevation - storeys[i - 1].elevation;
    if (d > 1.5 && d < 10) steps.push(d);
  }
  steps.sort((a, c) => a - c);
  return steps.length ? steps[steps.length >> 1] : 3.0;
}

// Multiply vertex colours by a fixed sky + sun lighting (Lambert), once at load.
const SUN = new THREE.Vector3(0.35, 0.8, 0.45).normalize();
export function bakeLight(g) {
  const n = g.attributes.normal, c = g.attributes.color;
  if (!n || !c || g.userData.baked) return;
  for (let i = 0; i < c.count; i++) {
    const d = Math.abs(n.getX(i) * SUN.x + n.getY(i) * SUN.y + n.getZ(i) * SUN.z);
    const up = 0.5 + 0.5 * n.getY(i);
    const k = Math.min(1.15, 0.45 + 0.2 * up + 0.5 * d);
    c.setXYZ(i, Math.min(1, c.getX(i) * k), Math.min(1, c.getY(i) * k), Math.min(1, c.getZ(i) * k));
  }
  c.needsUpdate = true;
  g.userData.baked = true;
}

export function isShown(o) {
  for (let p = o; p; p = p.parent) if (!p.visible) return false;
  return true;
}

export function triangleCount(g) {
  return g.index ? g.index.count / 3 : g.attributes.position.count / 3;
}

// Element id of triangle `face` from {ids, first, count} (binary search on first).
export function elementOf(elements, face) {
  if (!elements || !elements.ids || face === undefined || face === null) return null;
  let lo = 0, hi = elements.first.length - 1, found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (elements.first[mid] <= face) { found = mid; lo = mid + 1; } else hi = mid - 1;
  }
  if (found < 0 || face >= elements.first[found] + elements.count[found]) return null;
  return elements.ids[found];
}
