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

/** GETs `path` (with query `params`) and returns the parsed JSON answer. */
export async function get(path, params = {}, { signal } = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    for (const x of Array.isArray(v) ? v : [v]) if (x !== undefined && x !== null && x !== "") q.append(k, x);
  }
  const url = path + (q.toString() ? "?" + q : "");
  const headers = { Accept: "application/json" };
  const key = apiKey();
  if (key) headers["X-API-Key"] = key;
  let res;
  try {
    res = await fetch(url, { headers, signal });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError(0, `cannot reach the server: ${e.message}`);
  }
  const text = await res.text();
  if (res.status === 401) {
    setApiKey(null);
    const next = location.hash || "#/";
    if (!location.hash.startsWith("#/login")) location.hash = `#/login?next=${encodeURIComponent(next)}`;
    throw new ApiError(401, "an API key is needed");
  }
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  if (!res.ok) throw new ApiError(res.status, (body && body.error) || text.trim() || res.statusText);
  if (body === null) throw new ApiError(res.status, `${url}: the answer is not JSON`);
  if (body.error) throw new ApiError(res.status, body.error);
  return body;
}
