// Poller runs a refresh now and then every interval while the page is
// visible: hidden tabs do not poll, and a tab that becomes visible again
// refreshes at once. Runs never overlap.

export const REFRESH_MS = 5000;

export class Poller {
  // fn is an async function; its errors are for fn to handle.
  constructor(fn, interval = REFRESH_MS) {
    this.fn = fn;
    this.interval = interval;
    this.timer = null;
    this.running = false;
    this.again = false;
    this.stopped = true;
    this.onVisibility = () => {
      if (document.visibilityState === "visible") this.now();
      else this.clearTimer();
    };
  }

  start() {
    this.stopped = false;
    document.addEventListener("visibilitychange", this.onVisibility);
    return this.now();
  }

  stop() {
    this.stopped = true;
    this.clearTimer();
    document.removeEventListener("visibilitychange", this.onVisibility);
  }

  // now refreshes at once (after an action), and restarts the interval.
  async now() {
    if (this.stopped) return;
    this.clearTimer();
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    try {
      await this.fn();
    } finally {
      this.running = false;
    }
    if (this.again) {
      this.again = false;
      return this.now();
    }
    this.schedule();
  }

  schedule() {
    if (this.stopped || document.visibilityState !== "visible") return;
    this.clearTimer();
    this.timer = setTimeout(() => this.now(), this.interval);
  }

  clearTimer() {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
