// HTTP helpers: bearer token from the login form, graceful answers when an API is absent.
//
// api(path) resolves to the parsed JSON, or to {missing: true, status} when the endpoint
// does not exist (404/405/501) so that panels can say "not available" instead of failing,
// or to {error: message, status} for other failures. It never throws.

const KEY = "twin.auth";

export const auth = JSON.parse(sessionStorage.getItem(KEY) || "null") || { token: null, role: null, user: null };

export function setAuth(value) {
  Object.assign(auth, value);
  sessionStorage.setItem(KEY, JSON.stringify(auth));
}

export function logout() {
  setAuth({ token: null, role: null, user: null, unit: null, community: null, communities: [] });
}

// The community the viewer shows: null = the deployment's default one (unprefixed paths);
// another id prefixes the API paths: /api/X → /api/communities/{cid}/X (and /ws/ likewise).
export function communityPath(path) {
  const cid = auth.community;
  if (!cid || /^\/api\/(auth\/|communities(\/|$)|health$)/.test(path)) return path;
  const m = /^\/(api|ws)\/(.*)$/.exec(path);
  return m ? `/${m[1]}/communities/${encodeURIComponent(cid)}/${m[2]}` : path;
}

// GET /api/communities: the logged-in user's communities (the default first).
export async function loadCommunities() {
  const r = await api("/api/communities");
  const list = Array.isArray(r) ? r : [];
  setAuth({ communities: list });
  return list;
}

export function setCommunity(cid, list = auth.communities || []) {
  const chosen = list.find((c) => c.id === cid);
  setAuth({ community: chosen && !chosen.default ? chosen.id : null, role: chosen ? chosen.role : auth.role });
}

export async function api(path, { method = "GET", body = null, form = null, headers = {} } = {}) {
  const h = { Accept: "application/json", ...headers };
  if (auth.token) h.Authorization = `Bearer ${auth.token}`;
  let payload;
  if (form) {
    payload = form instanceof FormData ? form : new URLSearchParams(form);
  } else if (body !== null) {
    h["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(communityPath(path), { method, headers: h, body: payload });
  } catch (e) {
    return { error: String(e), status: 0 };
  }
  if ([404, 405, 501].includes(res.status) && !(await detailIsDomain(res.clone()))) {
    return { missing: true, status: res.status };
  }
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!res.ok) {
    const detail = data && data.detail ? data.detail : text;
    return { error: typeof detail === "string" ? detail : JSON.stringify(detail), status: res.status };
  }
  return data;
}

// A 404 that names a domain object ("no work order 12") is an answer, not a missing API.
async function detailIsDomain(res) {
  try {
    const data = await res.json();
    return typeof data.detail === "string" && data.detail !== "Not Found";
  } catch { return false; }
}

// OAuth2 password flow: POST /api/auth/token (form) → {access_token, role?}.
export async function login(username, password) {
  const r = await api("/api/auth/token", { method: "POST", form: { username, password, grant_type: "password" } });
  if (!r || r.missing || r.error) return r || { error: "no answer" };
  const claims = decodeJwt(r.access_token);
  setAuth({ token: r.access_token, role: r.role || claims.role || null, user: username,
            unit: r.unit || claims.unit || (claims.units && claims.units[0]) || null });
  return r;
}

export function decodeJwt(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(decodeURIComponent(escape(atob(part))));
  } catch { return {}; }
}

export function listOf(data, ...keys) {
  if (Array.isArray(data)) return data;
  if (!data || typeof data !== "object") return [];
  for (const k of [...keys, "items", "results", "data"]) if (Array.isArray(data[k])) return data[k];
  return [];
}

export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
