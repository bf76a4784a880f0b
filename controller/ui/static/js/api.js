// The controller's JSON API, as the pages use it. Every answer is the
// envelope {"status", "message", "data"}; a failure becomes an ApiError
// whose message is meant for a person (never raw JSON). The session lives
// in an HttpOnly cookie; changes carry the session's CSRF token in the
// X-CSRF-Token header.

import { t } from "./i18n.js";

const TIMEOUT_MS = 30000;

// ApiError is a failed request. status is the HTTP status (0: no answer);
// field names the JSON field at fault for a validation error (400), and
// fieldMessage is the message without the "field: " prefix. detail is
// what lies behind the message (the API's "detail"), "" when nothing.
export class ApiError extends Error {
  constructor(message, { status = 0, field = null, data = null, detail = "" } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.field = field;
    this.data = data;
    this.detail = detail;
    this.fieldMessage = field && message.startsWith(field + ": ") ? message.slice(field.length + 2) : message;
    // unauthorized: the session is gone; the app has already switched to
    // the sign-in page, so callers need not show this error.
    this.unauthorized = status === 401;
  }
}

export class Api {
  // onUnauthorized(message) is called when a request finds the session
  // gone (401), except for the sign-in request itself.
  constructor({ onUnauthorized = () => {} } = {}) {
    this.csrfToken = "";
    this.onUnauthorized = onUnauthorized;
  }

  get(path) { return this.request("GET", path); }
  post(path, body) { return this.request("POST", path, body); }
  put(path, body) { return this.request("PUT", path, body); }
  delete(path) { return this.request("DELETE", path); }

  // request sends one API call and resolves to the answer's envelope
  // ({status, message, data}); it rejects with an ApiError.
  async request(method, path, body, { retryCSRF = true, signIn = false } = {}) {
    const res = await this.fetch(method, path, body);
    const env = await readEnvelope(res);
    if (res.ok) return env;
    const err = new ApiError(env.message || describeStatus(res), {
      status: res.status,
      field: env.data && typeof env.data.field === "string" ? env.data.field : null,
      data: env.data,
      detail: env.detail,
    });
    if (res.status === 401 && !signIn) {
      this.csrfToken = "";
      this.onUnauthorized(t("api.sessionEnded"));
    } else if (res.status === 403 && method !== "GET" && retryCSRF) {
      // The CSRF token may be stale (a sign-in in another tab replaced
      // the session): fetch the current one and try once more.
      const before = this.csrfToken;
      try {
        await this.me();
      } catch {
        throw err;
      }
      if (this.csrfToken && this.csrfToken !== before) {
        return this.request(method, path, body, { retryCSRF: false });
      }
    }
    throw err;
  }

  async fetch(method, path, body) {
    const headers = { Accept: "application/json" };
    const init = { method, headers, credentials: "same-origin", cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    if (method !== "GET" && method !== "HEAD" && this.csrfToken) {
      headers["X-CSRF-Token"] = this.csrfToken;
    }
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), TIMEOUT_MS);
    init.signal = ctl.signal;
    try {
      return await fetch(path, init);
    } catch (e) {
      const msg = e.name === "AbortError"
        ? t("api.timeout")
        : t("api.unreachable");
      throw new ApiError(msg, { status: 0 });
    } finally {
      clearTimeout(timer);
    }
  }

  // signIn starts a session and keeps its CSRF token. code is the second
  // factor of a user who has one ("" when not asked for): a refusal that
  // asks for it has data.totp_required.
  async signIn(username, password, code = "") {
    const body = code ? { username, password, totp_code: code } : { username, password };
    const env = await this.request("POST", "/api/login", body, { signIn: true, retryCSRF: false });
    this.csrfToken = env.data.csrf_token || "";
    return env.data;
  }

  // session returns who is signed in, like me, or null when nobody is. It
  // never fails for want of a session (GET /api/session answers 200), so
  // a first visit logs no failed request.
  async session() {
    const res = await this.fetch("GET", "/api/session");
    const env = await readEnvelope(res);
    if (!res.ok) throw new ApiError(env.message || describeStatus(res), { status: res.status, detail: env.detail });
    this.csrfToken = (env.data && env.data.csrf_token) || "";
    return env.data;
  }

  // me returns who is signed in ({username, kind, role, totp_enabled,
  // csrf_token, expires_at})
  // and keeps the CSRF token; it rejects with status 401 when nobody is.
  async me() {
    const res = await this.fetch("GET", "/api/me");
    const env = await readEnvelope(res);
    if (!res.ok) throw new ApiError(env.message || describeStatus(res), { status: res.status });
    this.csrfToken = env.data.csrf_token || "";
    return env.data;
  }

  async signOut() {
    try {
      await this.request("POST", "/api/logout", undefined, { signIn: true, retryCSRF: false });
    } finally {
      this.csrfToken = "";
    }
  }

  // download fetches a file answer (the client config) and resolves to
  // {blob, filename}; a failure is an ApiError like any other.
  async download(path) {
    const res = await this.fetch("GET", path);
    if (!res.ok) {
      const env = await readEnvelope(res);
      const err = new ApiError(env.message || describeStatus(res), { status: res.status, data: env.data, detail: env.detail });
      if (res.status === 401) this.onUnauthorized(t("api.sessionEnded"));
      throw err;
    }
    return { blob: await res.blob(), filename: filenameOf(res.headers.get("Content-Disposition")) };
  }

  // problem fetches a failed non-JSON URL (an image) again to learn why it
  // failed; it resolves to the API's message, or null when it now works.
  async problem(path) {
    try {
      const res = await this.fetch("GET", path);
      if (res.ok) return null;
      const env = await readEnvelope(res);
      return env.message || describeStatus(res);
    } catch (e) {
      return e.message;
    }
  }
}

// readEnvelope reads an answer's envelope; an answer that is not one (a
// proxy's HTML error page) reads as an envelope with no message.
async function readEnvelope(res) {
  const type = res.headers.get("Content-Type") || "";
  if (!type.includes("application/json")) return { status: res.ok, message: null, data: null, detail: "" };
  try {
    const env = await res.json();
    if (env && typeof env === "object") {
      return {
        status: !!env.status,
        message: typeof env.message === "string" ? env.message : null,
        data: env.data ?? null,
        detail: typeof env.detail === "string" ? env.detail : "",
      };
    }
  } catch {
    // fall through: not JSON after all
  }
  return { status: res.ok, message: null, data: null, detail: "" };
}

function describeStatus(res) {
  if (res.status >= 500) return t("api.serverFailed", { status: `${res.status} ${res.statusText}`.trim() });
  return t("api.requestFailed", { status: `${res.status} ${res.statusText}`.trim() });
}

// filenameOf reads the file name of a Content-Disposition header.
export function filenameOf(header) {
  if (!header) return "download";
  const star = /filename\*\s*=\s*(?:UTF-8'')?([^;]+)/i.exec(header);
  if (star) {
    try {
      return decodeURIComponent(star[1].trim().replace(/^"|"$/g, ""));
    } catch {
      // fall back to the plain form
    }
  }
  const plain = /filename\s*=\s*("([^"]*)"|[^;]+)/i.exec(header);
  if (plain) return (plain[2] ?? plain[1]).trim();
  return "download";
}
