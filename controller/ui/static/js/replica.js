// The replica line at the foot of every page: which controller replica
// answered and which one leads (polls and reconciles the agents), from
// GET /api/status, refreshed while signed in.

import { t } from "./i18n.js";
import { Poller } from "./poll.js";

const REFRESH_MS = 30000;

// replicaText is the line for a GET /api/status answer.
export function replicaText(st) {
  if (!st || !st.replica) return "";
  if (st.leading) return t("replica.leading", { replica: st.replica });
  if (!st.leader) return t("replica.noLeader", { replica: st.replica });
  return t("replica.follower", { replica: st.replica, leader: st.leader });
}

export class ReplicaLine {
  // el is the element the line goes in; api the Api.
  constructor(el, api) {
    this.el = el;
    this.api = api;
    this.poller = new Poller(() => this.refresh(), REFRESH_MS);
  }

  start() { this.poller.start(); }

  stop() {
    this.poller.stop();
    this.el.hidden = true;
    this.el.textContent = "";
  }

  async refresh() {
    try {
      const env = await this.api.get("/api/status");
      this.el.textContent = replicaText(env.data);
      this.el.hidden = this.el.textContent === "";
    } catch (err) {
      // Not worth a message: the pages say when the controller fails.
      this.el.hidden = true;
    }
  }
}
