// The application shell: session, router and views. A view is an object
// with mount(main) and unmount(); the router mounts one at a time.

import { Api } from "./api.js";
import { clear, h } from "./dom.js";
import { Notifier } from "./notify.js";
import { LoginView } from "./login.js";
import { NodesView } from "./nodes.js";
import { NodeDetailView } from "./node-detail.js";
import { WebhooksView } from "./webhooks.js";
import { AuditView } from "./audit.js";
import { showDemoHints } from "./demo-hints.js";
import { languageSwitch, t, translateDocument } from "./i18n.js";
import { FleetPeersView } from "./fleet-peers.js";
import { ReplicaLine } from "./replica.js";
import { UsersView } from "./users.js";
import { AccountView } from "./account.js";

const ROUTES = [
  { pattern: /^\/nodes\/?$/, make: (ctx) => new NodesView(ctx) },
  { pattern: /^\/nodes\/(\d+)\/?$/, make: (ctx, m) => new NodeDetailView(ctx, Number(m[1])) },
  { pattern: /^\/webhooks\/?$/, make: (ctx) => new WebhooksView(ctx) },
  { pattern: /^\/audit\/?$/, make: (ctx) => new AuditView(ctx) },
  { pattern: /^\/peers\/?$/, make: (ctx) => new FleetPeersView(ctx) },
  { pattern: /^\/users\/?$/, make: (ctx) => new UsersView(ctx) },
  { pattern: /^\/account\/?$/, make: (ctx) => new AccountView(ctx) },
];

class App {
  constructor() {
    translateDocument();
    languageSwitch(document.getElementById("lang-switch"));
    this.main = document.getElementById("main");
    this.notify = new Notifier(document.getElementById("toasts"), document.getElementById("banner"));
    this.api = new Api({ onUnauthorized: (msg) => this.signedOut(msg) });
    this.view = null;
    this.user = null;
    this.replica = new ReplicaLine(document.getElementById("replica-line"), this.api);
    // ctx is what views get: the API, messages, and navigation.
    this.ctx = {
      api: this.api,
      notify: this.notify,
      navigate: (path) => this.navigate(path),
      setTitle: (title) => { document.title = title ? `${title} · wgfleet` : "wgfleet"; },
    };

    document.addEventListener("click", (e) => this.onLinkClick(e));
    window.addEventListener("popstate", () => this.route());
    document.getElementById("signout").addEventListener("click", () => this.signOut());
  }

  async start() {
    let me;
    try {
      me = await this.api.session();
    } catch (err) {
      this.showFatal(err.message);
      return;
    }
    if (!me) {
      this.showLogin(null);
      return;
    }
    this.signedIn(me);
    this.route();
  }

  // Same-origin links marked data-link change the view without a reload.
  onLinkClick(e) {
    const a = e.target.closest("a[data-link]");
    if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    this.navigate(a.getAttribute("href"));
  }

  navigate(path) {
    if (path !== location.pathname) history.pushState(null, "", path);
    this.route();
  }

  route() {
    if (!this.user) {
      this.showLogin(null);
      return;
    }
    const path = location.pathname;
    if (path === "/" || path === "/login") {
      history.replaceState(null, "", "/nodes");
      this.route();
      return;
    }
    for (const r of ROUTES) {
      const m = r.pattern.exec(path);
      if (m) {
        this.mount(r.make(this.ctx, m));
        return;
      }
    }
    this.mount(notFoundView(this.ctx, path));
  }

  mount(view) {
    if (this.view) this.view.unmount();
    closeDialogs();
    this.notify.banner(null);
    clear(this.main);
    this.view = view;
    view.mount(this.main);
    // Move focus to the new page's heading, as a page load would.
    const heading = this.main.querySelector("h1");
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: true });
    }
    window.scrollTo(0, 0);
  }

  signedIn(me) {
    this.user = me.username;
    // What the role may not do is hidden (css/users.css); the API refuses
    // it anyway.
    document.body.dataset.role = me.role || "";
    document.getElementById("session-user").textContent = me.username;
    document.getElementById("session").hidden = false;
    document.getElementById("topnav").hidden = false;
    showDemoHints(this.api);
    this.replica.start();
  }

  // signedOut is called when the API finds no session: it shows the
  // sign-in page with message and comes back to the current page after.
  signedOut(message) {
    if (!this.user && this.view instanceof LoginView) return;
    this.user = null;
    this.showLogin(message);
  }

  showLogin(message) {
    const returnTo = location.pathname === "/login" ? "/nodes" : location.pathname;
    document.getElementById("session").hidden = true;
    document.getElementById("topnav").hidden = true;
    this.replica.stop();
    this.notify.clear();
    if (location.pathname !== "/login") history.replaceState(null, "", "/login");
    this.mount(new LoginView(this.ctx, {
      message,
      onSignedIn: (me) => {
        this.signedIn(me);
        history.replaceState(null, "", returnTo);
        this.route();
      },
    }));
  }

  async signOut() {
    try {
      await this.api.signOut();
    } catch (err) {
      // The session may be gone already; the result is the same.
      if (!err.unauthorized && err.status !== 0) this.notify.error(err);
    }
    this.user = null;
    this.showLogin(t("app.signedOut"));
  }

  showFatal(message) {
    clear(this.main);
    this.main.append(h("section", { class: "page narrow" },
      h("h1", {}, t("app.fatal.title")),
      h("p", { class: "form-error" }, message),
      h("p", {}, h("a", { href: location.pathname }, t("app.fatal.retry")))));
  }
}

function notFoundView(ctx, path) {
  return {
    mount(main) {
      ctx.setTitle(t("app.notFound.short"));
      main.append(h("section", { class: "page narrow" },
        h("h1", {}, t("app.notFound.title")),
        h("p", {}, t("app.notFound.text", { path })),
        h("p", {}, h("a", { href: "/nodes", "data-link": true }, t("app.notFound.link")))));
    },
    unmount() {},
  };
}

function closeDialogs() {
  for (const d of document.querySelectorAll("dialog[open]")) d.close();
}

new App().start();
