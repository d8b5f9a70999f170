// Device state from live events: one table of rules, read by markers and the info panel.
//
// A device is "alarm" while an alarm event or value is active (smoke, leak, fault code,
// trapped passenger, forced door...), "offline" when the live service says so, "warn" for
// minor faults, "ok" when it reports normally and "unknown" until heard from.

export const STATE_COLORS = {
  unknown: 0x8a94a6, ok: 0x2ecc71, warn: 0xf1c40f, alarm: 0xe74c3c, offline: 0x4a4f57,
};

const ALARM_EVENTS = new Set(["alarm", "leak", "fault", "passenger_trapped", "alarm_button",
  "forced_open", "tamper", "power_loss", "reverse_flow", "leak_suspected"]);
const CLEAR_EVENTS = new Set(["alarm_cleared", "dry", "fault_cleared", "power_restored", "test"]);
const WARN_EVENTS = new Set(["held_open", "denied", "door_reopen", "valve_closed"]);

// Return the new state of a device given its previous state and one event.
export function nextState(prev, ev) {
  if (ev.type === "offline" || ev.online === false) return "offline";
  if (ev.state && STATE_COLORS[ev.state] !== undefined) return ev.state; // explicit state
  const name = ev.event;
  if (name && ALARM_EVENTS.has(name)) return "alarm";
  if (name && CLEAR_EVENTS.has(name)) return "ok";
  const v = ev.values || {};
  if (v.smoke === true || v.leak === true || (v.fault_code || 0) > 0 || v.state === "fault") return "alarm";
  if (v.in_service === false) return "warn";
  if (name && WARN_EVENTS.has(name)) return prev === "alarm" ? prev : "warn";
  if (prev === "alarm" && !("smoke" in v || "leak" in v || "fault_code" in v)) return prev;
  return "ok";
}

export function isAlarmEvent(ev) {
  return typeof ev.type === "string" && ev.type.startsWith("alarm");
}
