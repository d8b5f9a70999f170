// The /ws/live client: logs in with its first message, reconnects with back-off and hands
// each event to the listeners.
//
// Every message is one JSON object with "type" and "ts" (device events also "device_id");
// a list of objects or {"type": "snapshot", "devices"|"states": [...]} is split into events.
// Without a token (nobody logged in) it does not connect: status "login".

export class LiveFeed {
  constructor(url, onEvent, onStatus = () => {}, token = () => null) {
    this.url = url;
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.token = token;
    this.delay = 500;
    this.received = 0;
    this.closed = false;
    this.connect();
  }

  // After a login or logout: drop the socket and connect again with the new token.
  reconnect() {
    this.delay = 500;
    const old = this.ws;
    this.ws = null;
    if (old) { old.onclose = null; old.close(); }
    this.connect();
  }

  connect() {
    if (this.closed) return;
    const token = this.token();
    if (!token) { this.onStatus("login"); return; }
    let ws;
    try { ws = new WebSocket(this.url); } catch (e) { this.retry(); return; }
    this.ws = ws;
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: "auth", token }));
      this.delay = 500;
      this.onStatus("connected");
    };
    ws.onmessage = (m) => {
      let data;
      try { data = JSON.parse(m.data); } catch { return; }
      for (const ev of explode(data)) {
        this.received += 1;
        try { this.onEvent(ev); } catch (e) { console.error("live event handler", e); }
      }
    };
    ws.onclose = () => { if (this.ws !== ws) return; this.onStatus("disconnected"); this.retry(); };
    ws.onerror = () => ws.close();
  }

  retry() {
    if (this.closed) return;
    setTimeout(() => this.connect(), this.delay);
    this.delay = Math.min(this.delay * 2, 15000);
  }

  close() { this.closed = true; this.ws && this.ws.close(); }
}

export function explode(data) {
  if (Array.isArray(data)) return data.flatMap(explode);
  if (!data || typeof data !== "object") return [];
  if (data.type === "snapshot" || data.type === "resync") {
    const items = data.devices || data.states || data.items || [];
    const alarms = (data.alarms || []).map((a) => ({ type: "alarm", ...a, alarm: a }));
    const states = (Array.isArray(items) ? items : Object.values(items)).map((s) => {
      const never = s.last_seen == null && s.last_ts == null && s.online == null;
      return { type: "state", ...s, event: s.last_event || undefined, ...(never ? { state: "unknown" } : {}) };
    });
    return [...states, ...alarms];
  }
  return [data];
}
