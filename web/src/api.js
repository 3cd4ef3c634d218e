// The dnsledger API as the console calls it: same origin, the API key (if any) from
// sessionStorage in X-API-Key; a 401 sends the user to the login view.

const KEY = "dnsledger.apiKey";

/** The API key kept for this browser tab, or null. */
export function apiKey() {
  return sessionStorage.getItem(KEY);
}

/** Keeps (or, with null, forgets) the API key for this tab. */
export function setApiKey(k) {
  if (k) sessionStorage.setItem(KEY, k);
  else sessionStorage.removeItem(KEY);
}

/** An API error: the HTTP status and the server's message. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** The URL of `path` with query `params` (empty values dropped; arrays repeat the key). */
export function urlOf(path, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    for (const x of Array.isArray(v) ? v : [v]) if (x !== undefined && x !== null && x !== "") q.append(k, x);
  }
  return path + (q.toString() ? "?" + q : "");
}

/** Sends a request with the API key; returns the Response (a 401 goes to the login view). */
async function send(method, url, { body, signal, accept = "application/json", contentType } = {}) {
  const headers = { Accept: accept };
  const key = apiKey();
  if (key) headers["X-API-Key"] = key;
  if (contentType) headers["Content-Type"] = contentType;
  let res;
  try {
    res = await fetch(url, { method, headers, body, signal });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError(0, `cannot reach the server: ${e.message}`);
  }
  if (res.status === 401) {
    setApiKey(null);
    const next = location.hash || "#/";
    if (!location.hash.startsWith("#/login")) location.hash = `#/login?next=${encodeURIComponent(next)}`;
    throw new ApiError(401, "an API key is needed");
  }
  return res;
}

async function json(method, path, params, opts) {
  const url = urlOf(path, params);
  const res = await send(method, url, opts);
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  if (!res.ok) {
    const msg = (body && body.error) || text.trim() || res.statusText;
    throw new ApiError(res.status, res.status === 403 && method !== "GET" ? `${msg} (changes need an admin key)` : msg);
  }
  if (body === null) throw new ApiError(res.status, `${url}: the answer is not JSON`);
  if (body.error) throw new ApiError(res.status, body.error);
  return body;
}

/** GETs `path` (with query `params`) and returns the parsed JSON answer. */
export function get(path, params = {}, { signal } = {}) {
  return json("GET", path, params, { signal });
}

/** POSTs `body` (text) to `path` and returns the parsed JSON answer. */
export function post(path, params, body, { signal, contentType = "text/plain" } = {}) {
  return json("POST", path, params, { signal, body, contentType });
}

/** PUTs a JSON document to `path` and returns the parsed JSON answer. */
export function put(path, doc, { signal } = {}) {
  return json("PUT", path, {}, { signal, body: JSON.stringify(doc), contentType: "application/json" });
}

/** DELETEs `path` and returns the parsed JSON answer. */
export function del(path, { signal } = {}) {
  return json("DELETE", path, {}, { signal });
}

/**
 * Fetches an export (with the API key, which a bare link cannot send) and saves it as
 * `filename` through a blob URL. Returns the bytes saved and the text, for callers that check it.
 */
export async function download(method, path, params, filename, { body, contentType, signal } = {}) {
  const url = urlOf(path, params);
  const res = await send(method, url, { body, contentType, signal, accept: "*/*" });
  const text = await res.text();
  if (!res.ok) {
    let msg = text.trim() || res.statusText;
    try {
      msg = JSON.parse(text).error || msg;
    } catch {
      // not JSON: the text is the message
    }
    throw new ApiError(res.status, msg);
  }
  const type = res.headers.get("content-type") || "application/octet-stream";
  const href = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = href;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 60000);
  return { bytes: text.length, text };
}
