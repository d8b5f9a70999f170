// The audible cue of critical alarms: a short two-tone beep through WebAudio, muted by the
// "静音 Mute" toggle (aria-pressed), whose state is remembered in localStorage
// ("twin.mute"). `played` counts the cues sounded (tests read it through
// twinViewer.cues()); a muted cue is counted in `suppressed` instead.

const KEY = "twin.mute";

export class AlarmCue {
  constructor(button) {
    this.button = button;
    this.played = 0;
    this.suppressed = 0;
    this.ctx = null;
    this.muted = localStorage.getItem(KEY) === "1";
    if (button) button.onclick = () => this.setMuted(!this.muted);
    this.render();
  }

  setMuted(on) {
    this.muted = Boolean(on);
    localStorage.setItem(KEY, this.muted ? "1" : "0");
    this.render();
  }

  render() {
    if (!this.button) return;
    this.button.setAttribute("aria-pressed", String(this.muted));
    this.button.textContent = this.muted ? "静音 Muted" : "♪ 声音 Sound";
    this.button.title = this.muted ? "告警声音已关闭 alarm sound off (click to turn on)" : "告警声音开启 alarm sound on (click to mute)";
  }

  // Sound the cue unless muted; return whether it sounded.
  play() {
    if (this.muted) { this.suppressed += 1; return false; }
    this.played += 1;
    try {
      const AC = window.AudioContext || window.webkitAudioContext;
      if (!AC) return true;
      this.ctx = this.ctx || new AC();
      if (this.ctx.state === "suspended") this.ctx.resume().catch(() => {});
      const t0 = this.ctx.currentTime;
      [880, 660].forEach((f, k) => {
        const osc = this.ctx.createOscillator(), gain = this.ctx.createGain();
        osc.frequency.value = f;
        gain.gain.setValueAtTime(0.0001, t0 + k * 0.25);
        gain.gain.exponentialRampToValueAtTime(0.25, t0 + k * 0.25 + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, t0 + k * 0.25 + 0.22);
        osc.connect(gain).connect(this.ctx.destination);
        osc.start(t0 + k * 0.25);
        osc.stop(t0 + k * 0.25 + 0.24);
      });
    } catch (e) { console.warn("alarm cue", e); }
    return true;
  }
}
