// Device state from live events, by the device-kind table the server serves at
// GET /api/live/kinds (each kind's events with their severity, and which field values mean
// alarm or warning). Nothing here names a kind or an event: adding a kind on the server is
// enough for the viewer.
//
// A device is "alarm" while an alarm event or value is active (smoke, leak, fault code,
// trapped passenger, forced door...), "offline" when the live service says so, "warn" for
// minor faults, "ok" when it reports normally and "unknown" until heard from.

export const STATE_COLORS = {
  unknown: 0x8a94a6, ok: 0x2ecc71, warn: 0xf1c40f, alarm: 0xe74c3c, offline: 0x4a4f57,
};

// kind name -> {label, device_class, severities: Map(event -> severity), alarmIf, warnIf}
const KINDS = new Map();
// event name -> highest severity over all kinds (for an event of a device of unknown kind)
const ANY_KIND = new Map();
const RANK = { info: 0, clear: 1, warning: 2, alarm: 3 };

// Load the kinds table (the JSON array of GET /api/live/kinds).
export function setKinds(list) {
  KINDS.clear();
  ANY_KIND.clear();
  for (const k of list || []) {
    const sev = new Map(Object.entries(k.event_severities || {}));
    for (const [e, s] of sev) {
      if (!ANY_KIND.has(e) || RANK[s] > RANK[ANY_KIND.get(e)]) ANY_KIND.set(e, s);
    }
    const fields = k.fields || [];
    KINDS.set(k.name, {
      label: k.label, label_zh: k.label_zh, device_class: k.device_class, severities: sev,
      alarmIf: fields.filter((f) => f.alarm_if).map((f) => [f.name, f.alarm_if]),
      warnIf: fields.filter((f) => f.warn_if).map((f) => [f.name, f.warn_if]),
    });
  }
}

// The kinds table as loaded: [[name, {label, device_class, ...}]].
export function kindList() {
  return [...KINDS.entries()];
}

// Kind names of a device class ("elevator", "meter", ...).
export function kindsOfClass(deviceClass) {
  return kindList().filter(([, k]) => k.device_class === deviceClass).map(([name]) => name);
}

function severityOf(kind, name) {
  const k = KINDS.get(kind);
  if (k && k.severities.has(name)) return k.severities.get(name);
  return ANY_KIND.get(name) || "info";
}

function matches(value, cond) {
  if (cond === "true") return value === true;
  if (cond === "false") return value === false;
  if (cond === ">0") return typeof value === "number" && value > 0;
  if (cond.startsWith("=")) return value === cond.slice(1);
  return false;
}

function conditions(kind, key) {
  const k = KINDS.get(kind);
  if (k) return k[key];
  return kindList().flatMap(([, x]) => x[key]);
}

// Return the new state of a device of `kind` given its previous state and one event.
export function nextState(prev, ev, kind) {
  if (ev.type === "offline" || ev.online === false) return "offline";
  if (ev.state && STATE_COLORS[ev.state] !== undefined) return ev.state; // explicit state
  const name = ev.event;
  const sev = name ? severityOf(kind, name) : "info";
  if (sev === "alarm") return "alarm";
  if (sev === "clear") return "ok";
  const v = ev.values || {};
  const alarmIf = conditions(kind, "alarmIf");
  if (alarmIf.some(([f, c]) => matches(v[f], c))) return "alarm";
  if (conditions(kind, "warnIf").some(([f, c]) => matches(v[f], c))) return "warn";
  if (sev === "warning") return prev === "alarm" ? prev : "warn";
  if (prev === "alarm" && !alarmIf.some(([f]) => f in v)) return prev;
  return "ok";
}

export function isAlarmEvent(ev) {
  return typeof ev.type === "string" && ev.type.startsWith("alarm");
}

// Alarm severities, most urgent first: the rules' (live/rules.py SEVERITIES: critical, major,
// warning, info) with `minor` between major and warning, and a device event's `alarm` (act
// now) ranked with major. An unknown severity sorts last.
export const ALARM_SEVERITY_ORDER = ["critical", "major", "alarm", "minor", "warning", "info"];
const SEVERITY_RANK = { critical: 0, major: 1, alarm: 1, minor: 2, warning: 3, info: 4 };

// Compare two alarms: by severity, then newest first (raised_at, epoch seconds), then id.
export function alarmOrder(a, b) {
  const ra = SEVERITY_RANK[a.severity] ?? 5, rb = SEVERITY_RANK[b.severity] ?? 5;
  if (ra !== rb) return ra - rb;
  const ta = +(a.raised_at ?? a.last_at ?? 0), tb = +(b.raised_at ?? b.last_at ?? 0);
  if (ta !== tb) return tb - ta;
  return String(a.id).localeCompare(String(b.id));
}
