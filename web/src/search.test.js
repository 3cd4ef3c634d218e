import { test } from "node:test";
import assert from "node:assert/strict";
import { classify, parseQuery, lookupPath } from "./search.js";

test("classifies single indicators", () => {
  assert.deepEqual(classify("www.example.com"), { kind: "name", value: "www.example.com" });
  assert.deepEqual(classify("WWW.Example.COM."), { kind: "name", value: "www.example.com" });
  assert.equal(classify("*.example.com").kind, "wildcard");
  assert.equal(classify("www.example.*").kind, "wildcard");
  assert.deepEqual(classify("192.0.2.1"), { kind: "ip", value: "192.0.2.1" });
  assert.deepEqual(classify("2001:DB8::1"), { kind: "ip", value: "2001:db8::1" });
  assert.deepEqual(classify("198.51.100.0/24"), { kind: "cidr", value: "198.51.100.0/24" });
  assert.equal(classify("2001:db8::/32").kind, "cidr");
  assert.deepEqual(classify("as64496"), { kind: "asn", value: "AS64496" });
  assert.equal(classify("192.0.2.0/33").kind, "invalid");
  assert.equal(classify("256.1.1.1").kind, "name"); // a (strange) numeric name, as DNS allows
  assert.equal(classify("not a name!").kind, "invalid");
  assert.equal(classify("1:2:3").kind, "invalid");
});

test("parses pasted lists, defanged forms and duplicates", () => {
  const q = parseQuery("evil[.]example.net, 192.0.2.1\n192.0.2.1 hxxp://bad.example.org AS64500");
  assert.equal(q.list, true);
  assert.deepEqual(q.items.map((i) => i.kind), ["name", "ip", "name", "asn"]);
  assert.equal(parseQuery("  www.example.com  ").list, false);
});

test("builds lookup paths", () => {
  assert.equal(lookupPath(classify("www.example.com"), "A"), "/api/v1/lookup/rrset/name/www.example.com/A");
  assert.equal(lookupPath(classify("*.example.com")), "/api/v1/lookup/rrset/name/*.example.com");
  assert.equal(lookupPath(classify("192.0.2.0/24")), "/api/v1/lookup/rdata/ip/192.0.2.0%2C24");
  assert.equal(lookupPath(classify("AS1")), null);
});
