// Facade detail of the overview shells without one more triangle: a small procedural texture
// (a window in a wall panel, a darker floor band under it) repeated over every wall by UVs
// computed from the shell's own geometry: u along the wall in window bays, v up the wall in
// storeys. Roofs and floors sample the plain wall colour, tinted per building from a
// palette of facade materials (warm render, sand stone, grey tile, brick). The texture
// multiplies the baked vertex colours, so lighting stays as baked.

import * as THREE from "three";

export const BAY_M = 3.3;  // width of one window bay (m)
const PALETTE = ["#efe3cf", "#e3d2b4", "#d9dde2", "#d8b9a0", "#e8e0d6", "#cfd6cc"];
const textures = new Map();

function facadeTexture(wall) {
  if (textures.has(wall)) return textures.get(wall);
  const c = document.createElement("canvas");
  c.width = c.height = 64;
  const g = c.getContext("2d");
  g.fillStyle = wall;
  g.fillRect(0, 0, 64, 64);
  g.fillStyle = "rgba(70, 70, 80, 0.55)";   // floor band (slab edge) at the bottom of each storey
  g.fillRect(0, 56, 64, 8);
  g.fillStyle = "#5d7288";                  // the window: glass with a lighter sill line
  g.fillRect(12, 14, 40, 32);
  g.fillStyle = "#8aa3b8";
  g.fillRect(12, 14, 40, 6);
  g.fillStyle = "#3e4c5a";
  g.fillRect(31, 14, 2, 32);                // mullion
  const t = new THREE.CanvasTexture(c);
  t.wrapS = t.wrapT = THREE.RepeatWrapping;
  t.colorSpace = THREE.SRGBColorSpace;
  t.magFilter = THREE.NearestFilter;        // crisp windows, cheap on software WebGL
  t.minFilter = THREE.LinearFilter;
  t.generateMipmaps = false;
  textures.set(wall, t);
  return t;
}

// Stable palette index of a building id (FNV-1a).
export function paletteIndex(id) {
  let h = 0x811c9dc5;
  for (const ch of String(id)) { h ^= ch.codePointAt(0); h = Math.imul(h, 0x01000193) >>> 0; }
  return h % PALETTE.length;
}

// UVs of a non-indexed geometry: walls in (bays, storeys), everything else on the wall colour.
export function facadeUVs(geometry, storeyM) {
  const pos = geometry.attributes.position, n = pos.count;
  const uv = new Float32Array(n * 2);
  geometry.computeBoundingBox();
  const y0 = geometry.boundingBox.min.y;
  const a = new THREE.Vector3(), b = new THREE.Vector3(), c = new THREE.Vector3(), nrm = new THREE.Vector3();
  for (let i = 0; i + 2 < n; i += 3) {
    a.fromBufferAttribute(pos, i); b.fromBufferAttribute(pos, i + 1); c.fromBufferAttribute(pos, i + 2);
    nrm.subVectors(c, b).cross(b.clone().sub(a)).normalize();
    const wall = Math.abs(nrm.y) < 0.3;
    for (let k = 0; k < 3; k++) {
      const p = k === 0 ? a : k === 1 ? b : c;
      if (wall) {
        uv[(i + k) * 2] = (p.x * nrm.z - p.z * nrm.x) / BAY_M;
        uv[(i + k) * 2 + 1] = (p.y - y0) / storeyM;
      } else {
        uv[(i + k) * 2] = 0.05; uv[(i + k) * 2 + 1] = 0.5;  // plain wall colour (left of the window)
      }
    }
  }
  geometry.setAttribute("uv", new THREE.BufferAttribute(uv, 2));
}

// Dress a shell (or hull) mesh of building `id`: same triangles, facade texture.
export function dressFacade(mesh, id, storeyM = 3.0) {
  if (!mesh || !mesh.geometry || mesh.userData.facade) return;
  const g = mesh.geometry.index ? mesh.geometry.toNonIndexed() : mesh.geometry;
  facadeUVs(g, storeyM > 1.5 && storeyM < 10 ? storeyM : 3.0);
  mesh.geometry = g;
  const m = mesh.material;
  mesh.material = new THREE.MeshBasicMaterial({ vertexColors: true, side: m.side, transparent: m.transparent,
    depthWrite: m.depthWrite, name: `${m.name || "shell"}:facade`, map: facadeTexture(PALETTE[paletteIndex(id)]) });
  mesh.userData.facade = true;
}
