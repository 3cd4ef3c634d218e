// What the search box was given: a name, a wildcard, an IP, a CIDR, an ASN or a list of them.
// Kept free of the DOM so `node --test` checks it (search.test.js).

const V4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/i;

/** True if `s` is an IPv4 or IPv6 address (no prefix length). */
export function isIp(s) {
  if (V4.test(s)) return true;
  if (!s.includes(":") || !/^[0-9a-f:.]+$/i.test(s)) return false;
  const double = s.split("::").length - 1;
  if (double > 1) return false;
  let groups = s.split(":").filter((g) => g !== "");
  if (groups.length && groups[groups.length - 1].includes(".")) {
    if (!V4.test(groups.pop())) return false;
    groups.push("0", "0");
  }
  if (!groups.every((g) => /^[0-9a-f]{1,4}$/i.test(g))) return false;
  return double ? groups.length < 8 : groups.length === 8;
}

/** True if `s` is a DNS name (a trailing dot allowed). */
export function isName(s) {
  const n = s.endsWith(".") ? s.slice(0, -1) : s;
  if (!n || n.length > 253 || isIp(n)) return false;
  return n.split(".").every((l) => LABEL.test(l));
}

/**
 * Classifies one indicator: {kind, value} with kind one of name, wildcard, ip, cidr, asn, or
 * invalid (with a reason).
 */
export function classify(raw) {
  const s = raw.trim().replace(/^\[|\]$/g, "");
  if (/^as\d{1,10}$/i.test(s)) return { kind: "asn", value: "AS" + s.slice(2) };
  const slash = s.indexOf("/");
  if (slash > 0) {
    const ip = s.slice(0, slash);
    const len = s.slice(slash + 1);
    const max = ip.includes(":") ? 128 : 32;
    if (isIp(ip) && /^\d{1,3}$/.test(len) && Number(len) <= max) return { kind: "cidr", value: `${ip}/${Number(len)}` };
    return { kind: "invalid", value: s, reason: "not an address/prefix-length" };
  }
  if (isIp(s)) return { kind: "ip", value: s.toLowerCase() };
  if (s.startsWith("*.") && isName(s.slice(2))) return { kind: "wildcard", value: s.toLowerCase() };
  if (s.endsWith(".*") && isName(s.slice(0, -2))) return { kind: "wildcard", value: s.toLowerCase() };
  if (isName(s)) return { kind: "name", value: s.toLowerCase().replace(/\.$/, "") };
  return { kind: "invalid", value: s, reason: "not a name, *.zone, IP, CIDR or ASnnn" };
}

/**
 * Parses what was typed or pasted: a single indicator, or a list (separated by white space,
 * commas or semicolons; defanged `[.]` and `hxxp://` forms undone, duplicates dropped).
 */
export function parseQuery(text) {
  const cleaned = text.replace(/\[\.\]/g, ".").replace(/\(\.\)/g, ".").replace(/\bh(xx|tt)ps?:\/\//gi, "");
  const tokens = [...new Set(cleaned.split(/[\s,;]+/).map((t) => t.trim()).filter(Boolean))];
  if (tokens.length === 1) return { list: false, items: [classify(tokens[0])] };
  return { list: tokens.length > 1, items: tokens.map(classify) };
}

/** The native lookup path of a name, wildcard, IP or CIDR (`rrtype` only for names). */
export function lookupPath(item, rrtype) {
  const enc = encodeURIComponent;
  switch (item.kind) {
    case "name":
    case "wildcard":
      return `/api/v1/lookup/rrset/name/${enc(item.value)}` + (rrtype ? `/${enc(rrtype)}` : "");
    case "ip":
      return `/api/v1/lookup/rdata/ip/${enc(item.value)}`;
    case "cidr":
      return `/api/v1/lookup/rdata/ip/${enc(item.value.replace("/", ","))}`;
    default:
      return null;
  }
}
