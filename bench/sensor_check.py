#!/usr/bin/env python3
"""Independent answer-section count for the `dnsledger sensor` benchmark (python3 stdlib only).

Usage:
  sensor_check.py tshark PCAP OUTPREFIX     run tshark over PCAP and write
                                            OUTPREFIX.tsv  (sorted distinct rrname<TAB>rrtype<TAB>rdata)
                                            OUTPREFIX.json (responses, rcodes, answer RRs, tuples by type, ...)
  sensor_check.py ours NDJSON OUTPREFIX     the same tuple set from dnsledger NDJSON observations
  sensor_check.py compare TSHARK_PREFIX NDJSON SUMMARY_JSON [RESULT_JSON]
                                            print both counts, the differences both ways (10 examples
                                            each) and tshark's responses vs the sensor's "responses"
  sensor_check.py count-pcap PCAP           number of records in a pcap (classic) file

Counted: DNS responses (QR=1) on port 53, UDP and TCP (tshark reassembles TCP), the ANSWER
section only, types A AAAA CNAME MX NS TXT PTR SOA SRV, whatever the rcode. A tuple is
(owner lower-cased with trailing dot, type, rdata in one canonical presentation form):
  names in rdata lower-cased with trailing dot; AAAA compressed (RFC 5952); MX "pref exchange";
  SOA "mname rname serial refresh retry expire minimum"; SRV "prio weight port target";
  TXT each character-string quoted, '"' and '\\' escaped with '\\', bytes outside 0x20-0x7e as \\DDD,
  strings separated by one space.
tshark flattens the sections (-T fields lists every RR of a message in wire order), so the first
dns.count.answers RRs of each message are the answers; the per-type rdata fields are consumed in
RR order (every RR of a counted type takes its values, whatever its section) to stay aligned.
A TCP segment carrying several DNS messages gives several values per header field; the RR list
is split by each message's an+ns+ar counts.
"""
import ipaddress
import json
import os
import re
import struct
import subprocess
import sys
import time

AGG = "\x1e"  # tshark aggregator: a byte that cannot appear in a field value here
TYPES = {1: "A", 28: "AAAA", 5: "CNAME", 15: "MX", 2: "NS", 16: "TXT", 12: "PTR", 6: "SOA", 33: "SRV"}
TYPE_NAMES = set(TYPES.values())
FIELDS = ["frame.number", "dns.flags.response", "dns.flags.rcode", "dns.count.answers", "dns.count.auth_rr",
          "dns.count.add_rr", "dns.resp.name", "dns.resp.type", "dns.resp.len",
          "dns.a", "dns.aaaa", "dns.cname", "dns.ns", "dns.mx.preference", "dns.mx.mail_exchange",
          "dns.txt.length", "dns.txt", "dns.ptr.domain_name",
          "dns.soa.mname", "dns.soa.rname", "dns.soa.serial_number", "dns.soa.refresh_interval",
          "dns.soa.retry_interval", "dns.soa.expire_limit", "dns.soa.minimum_ttl",
          "dns.srv.priority", "dns.srv.weight", "dns.srv.port", "dns.srv.target"]
IDX = {f: i for i, f in enumerate(FIELDS)}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


def tname(s):
    """tshark name display -> lower-case with trailing dot."""
    if s in ("<Root>", ""):
        return "."
    s = s.lower()
    return s if s.endswith(".") else s + "."


def pname(s):
    """presentation name -> lower-case with trailing dot."""
    s = s.lower()
    return s if s.endswith(".") else s + "."


def txt_canon(strings):
    """list of bytes -> canonical presentation."""
    out = []
    for b in strings:
        p = []
        for c in b:
            if c in (0x22, 0x5C):
                p.append("\\" + chr(c))
            elif 0x20 <= c <= 0x7E:
                p.append(chr(c))
            else:
                p.append("\\%03d" % c)
        out.append('"' + "".join(p) + '"')
    return " ".join(out)


_TSHARK_ESC = re.compile(r"\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)")
_C_ESC = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11}


def tshark_txt_bytes(s):
    """tshark's display of a character-string (C-style escapes for unprintables) -> bytes."""
    out = bytearray()
    pos = 0
    for m in _TSHARK_ESC.finditer(s):
        out += s[pos:m.start()].encode("utf-8", "surrogateescape")
        e = m.group(1)
        if e[0] == "x" and len(e) == 3:
            out.append(int(e[1:], 16))
        elif e[0] in "01234567":
            out.append(int(e, 8) & 0xFF)
        elif e in _C_ESC:
            out.append(_C_ESC[e])
        else:
            out += e.encode("utf-8", "surrogateescape")
        pos = m.end()
    out += s[pos:].encode("utf-8", "surrogateescape")
    return bytes(out)


def pres_txt_strings(s):
    """presentation TXT rdata ('"a b" c "d\\"e"') -> list of bytes."""
    res, i, n = [], 0, len(s)
    while i < n:
        while i < n and s[i] == " ":
            i += 1
        if i >= n:
            break
        quoted = s[i] == '"'
        if quoted:
            i += 1
        cur = bytearray()
        while i < n:
            c = s[i]
            if quoted and c == '"':
                i += 1
                break
            if not quoted and c == " ":
                break
            if c == "\\" and i + 1 < n:
                d = s[i + 1:i + 4]
                if len(d) == 3 and d.isdigit():
                    cur.append(int(d) & 0xFF)
                    i += 4
                    continue
                cur += s[i + 1].encode("utf-8")
                i += 2
                continue
            cur += c.encode("utf-8")
            i += 1
        res.append(bytes(cur))
    return res


def canon_pres(rrtype, rd):
    """one rdata item of dnsledger's NDJSON (presentation format) -> canonical form."""
    if rrtype == "A":
        return rd.strip()
    if rrtype == "AAAA":
        try:
            return ipaddress.IPv6Address(rd.strip()).compressed
        except ValueError:
            return rd
    if rrtype in ("CNAME", "NS", "PTR"):
        return pname(rd.strip())
    if rrtype == "MX":
        p = rd.split()
        return "%d %s" % (int(p[0]), pname(p[1])) if len(p) == 2 else rd
    if rrtype == "SRV":
        p = rd.split()
        return "%d %d %d %s" % (int(p[0]), int(p[1]), int(p[2]), pname(p[3])) if len(p) == 4 else rd
    if rrtype == "SOA":
        p = rd.split()
        return " ".join([pname(p[0]), pname(p[1])] + [str(int(x)) for x in p[2:]]) if len(p) == 7 else rd
    if rrtype == "TXT":
        return txt_canon(pres_txt_strings(rd))
    return rd


def split_list(s):
    return s.split(AGG) if s != "" else []


def run_tshark(pcap, prefix):
    t0 = time.time()
    cmd = ["tshark", "-r", pcap, "-n", "-Y", "dns.flags.response == 1 && (udp.port == 53 || tcp.port == 53)",
           "-T", "fields", "-E", "separator=/t", "-E", "aggregator=" + AGG, "-E", "occurrence=a"]
    for f in FIELDS:
        cmd += ["-e", f]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=1 << 20)
    tuples = set()
    nonzero_rcode_tuples = set()
    by_type_rrs = {t: 0 for t in TYPE_NAMES}
    st = {"frames": 0, "responses": 0, "rcodes": {}, "answer_rrs": 0, "answer_rrs_counted_types": 0,
          "multi_message_frames": 0, "misaligned_frames": 0, "misaligned_examples": [], "authority_rrs": 0,
          "additional_rrs": 0}
    nf = len(FIELDS)
    for raw in proc.stdout:
        line = raw.decode("utf-8", "surrogateescape").rstrip("\n")
        f = line.split("\t")
        if len(f) != nf:
            st["misaligned_frames"] += 1
            if len(st["misaligned_examples"]) < 5:
                st["misaligned_examples"].append(line[:200])
            continue
        st["frames"] += 1
        resp = split_list(f[1])
        rcodes = split_list(f[2])
        an, ns, ar = split_list(f[3]), split_list(f[4]), split_list(f[5])
        names, types, lens = split_list(f[6]), split_list(f[7]), split_list(f[8])
        if len(resp) > 1:
            st["multi_message_frames"] += 1
        q = {k: split_list(f[IDX[k]]) for k in FIELDS[9:]}
        ptr = {k: 0 for k in q}

        def take(k):
            i = ptr[k]
            ptr[k] = i + 1
            v = q[k]
            return v[i] if i < len(v) else None

        rr = 0
        bad = len(types) != len(names) or len(types) != len(lens)
        for m in range(len(resp)):
            try:
                a, n_, r_ = int(an[m]), int(ns[m]), int(ar[m])
            except (IndexError, ValueError):
                bad = True
                break
            is_resp = resp[m] in ("1", "True", "true")
            rc = int(rcodes[m]) if m < len(rcodes) and rcodes[m].isdigit() else -1
            if is_resp:
                st["responses"] += 1
                k = RCODES.get(rc, str(rc))
                st["rcodes"][k] = st["rcodes"].get(k, 0) + 1
                st["answer_rrs"] += a
                st["authority_rrs"] += n_
                st["additional_rrs"] += r_
            for j in range(a + n_ + r_):
                if rr >= len(types):
                    bad = True
                    break
                t = int(types[rr])
                owner = names[rr]
                rdlen = int(lens[rr]) if lens[rr].isdigit() else 0
                rr += 1
                tn = TYPES.get(t)
                if tn is None:
                    continue
                rd = None
                if rdlen > 0:
                    if t == 1:
                        rd = take("dns.a")
                    elif t == 28:
                        v = take("dns.aaaa")
                        rd = ipaddress.IPv6Address(v).compressed if v else None
                    elif t == 5:
                        v = take("dns.cname")
                        rd = tname(v) if v is not None else None
                    elif t == 2:
                        v = take("dns.ns")
                        rd = tname(v) if v is not None else None
                    elif t == 12:
                        v = take("dns.ptr.domain_name")
                        rd = tname(v) if v is not None else None
                    elif t == 15:
                        p, x = take("dns.mx.preference"), take("dns.mx.mail_exchange")
                        rd = "%s %s" % (p, tname(x)) if x is not None else None
                    elif t == 33:
                        vals = [take(k) for k in ("dns.srv.priority", "dns.srv.weight", "dns.srv.port", "dns.srv.target")]
                        rd = "%s %s %s %s" % (vals[0], vals[1], vals[2], tname(vals[3])) if None not in vals else None
                    elif t == 6:
                        vals = [take(k) for k in ("dns.soa.mname", "dns.soa.rname", "dns.soa.serial_number",
                                                  "dns.soa.refresh_interval", "dns.soa.retry_interval",
                                                  "dns.soa.expire_limit", "dns.soa.minimum_ttl")]
                        rd = " ".join([tname(vals[0]), tname(vals[1])] + vals[2:]) if None not in vals else None
                    elif t == 16:
                        strings, used = [], 0
                        while used < rdlen:
                            ln = take("dns.txt.length")
                            s = take("dns.txt")
                            if ln is None:
                                bad = True
                                break
                            used += 1 + int(ln)
                            strings.append(tshark_txt_bytes(s or ""))
                        rd = txt_canon(strings)
                if rd is None:
                    bad = True
                    continue
                if is_resp and j < a:
                    tup = (tname(owner), tn, rd)
                    tuples.add(tup)
                    by_type_rrs[tn] += 1
                    st["answer_rrs_counted_types"] += 1
                    if rc != 0:
                        nonzero_rcode_tuples.add(tup)
        if bad:
            st["misaligned_frames"] += 1
            if len(st["misaligned_examples"]) < 5:
                st["misaligned_examples"].append("frame %s" % f[0])
    proc.wait()
    err = proc.stderr.read().decode("utf-8", "replace")
    if proc.returncode != 0:
        sys.exit("tshark failed (%d): %s" % (proc.returncode, err[-2000:]))
    st["seconds"] = round(time.time() - t0, 1)
    st["pcap"] = os.path.abspath(pcap)
    st["distinct_answer_tuples"] = len(tuples)
    by_type = {}
    for _, t, _ in tuples:
        by_type[t] = by_type.get(t, 0) + 1
    st["distinct_answer_tuples_by_type"] = dict(sorted(by_type.items()))
    st["answer_rrs_by_type"] = {k: v for k, v in sorted(by_type_rrs.items()) if v}
    st["distinct_tuples_only_in_nonzero_rcode"] = len(nonzero_rcode_tuples)
    st["distinct_rrnames"] = len({n for n, _, _ in tuples})
    tmp = prefix + ".tsv.tmp"
    with open(tmp, "w") as out:
        for n, t, r in sorted(tuples):
            out.write("%s\t%s\t%s\n" % (n, t, r))
    os.replace(tmp, prefix + ".tsv")
    with open(prefix + ".json", "w") as out:
        json.dump(st, out, indent=1)
    return st


def ours_tuples(ndjson):
    tuples = set()
    st = {"lines": 0, "negative_lines": 0, "other_type_lines": 0, "bad_lines": 0}
    with open(ndjson, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            st["lines"] += 1
            try:
                o = json.loads(line)
            except ValueError:
                st["bad_lines"] += 1
                continue
            if o.get("negative"):
                st["negative_lines"] += 1
                continue
            t = str(o.get("rrtype", "")).upper()
            if t not in TYPE_NAMES:
                st["other_type_lines"] += 1
                continue
            rd = o.get("rdata")
            if rd is None:
                st["bad_lines"] += 1
                continue
            if isinstance(rd, str):
                rd = [rd]
            owner = pname(o["rrname"])
            for item in rd:
                try:
                    tuples.add((owner, t, canon_pres(t, item)))
                except (ValueError, IndexError):
                    tuples.add((owner, t, item))
    return tuples, st


def load_tsv(path):
    s = set()
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            p = line.rstrip("\n").split("\t", 2)
            if len(p) == 3:
                s.add(tuple(p))
    return s


def by_type(tuples):
    d = {}
    for _, t, _ in tuples:
        d[t] = d.get(t, 0) + 1
    return dict(sorted(d.items()))


def compare(prefix, ndjson, summary_path, result_path=None):
    ts = load_tsv(prefix + ".tsv")
    tst = json.load(open(prefix + ".json"))
    ours, ost = ours_tuples(ndjson)
    summ = {}
    if summary_path and os.path.exists(summary_path):
        summ = json.load(open(summary_path))
    only_t = sorted(ts - ours)
    only_o = sorted(ours - ts)
    print("independent check (ANSWER section, types %s)" % " ".join(sorted(TYPE_NAMES)))
    print("  responses:            tshark %d   dnsledger %s" % (tst["responses"], summ.get("responses", "?")))
    print("  distinct tuples:      tshark %d   dnsledger %d   common %d" % (len(ts), len(ours), len(ts & ours)))
    print("  by type tshark:       %s" % by_type(ts))
    print("  by type dnsledger:    %s" % by_type(ours))
    print("  only in tshark:       %d" % len(only_t))
    for x in only_t[:10]:
        print("      %s %s %s" % x)
    print("  only in dnsledger:    %d" % len(only_o))
    for x in only_o[:10]:
        print("      %s %s %s" % x)
    if tst.get("misaligned_frames"):
        print("  tshark frames not parsed cleanly: %d (e.g. %s)" % (tst["misaligned_frames"], tst["misaligned_examples"][:3]))
    if ost["bad_lines"]:
        print("  dnsledger NDJSON lines not understood: %d" % ost["bad_lines"])
    res = {"tshark_responses": tst["responses"], "our_responses": summ.get("responses"),
           "tshark_tuples": len(ts), "our_tuples": len(ours), "only_tshark": len(only_t), "only_ours": len(only_o),
           "tshark_by_type": by_type(ts), "our_by_type": by_type(ours), "ours_ndjson": ost}
    if result_path:
        json.dump(res, open(result_path, "w"), indent=1)
    return res


def count_pcap(path):
    n = 0
    with open(path, "rb") as f:
        gh = f.read(24)
        if gh[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
            fmt = "<IIII"
        elif gh[:4] in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
            fmt = ">IIII"
        else:
            sys.exit("%s: not a classic pcap file" % path)
        while True:
            h = f.read(16)
            if len(h) < 16:
                break
            f.seek(struct.unpack(fmt, h)[2], 1)
            n += 1
    return n


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd = argv[1]
    if cmd == "tshark" and len(argv) == 4:
        st = run_tshark(argv[2], argv[3])
        print(json.dumps({k: v for k, v in st.items() if k != "misaligned_examples"}, indent=1))
    elif cmd == "ours" and len(argv) == 4:
        t, st = ours_tuples(argv[2])
        with open(argv[3] + ".tsv", "w") as out:
            for x in sorted(t):
                out.write("%s\t%s\t%s\n" % x)
        st["distinct_answer_tuples"] = len(t)
        st["by_type"] = by_type(t)
        print(json.dumps(st, indent=1))
    elif cmd == "compare" and len(argv) in (5, 6):
        compare(argv[2], argv[3], argv[4], argv[5] if len(argv) == 6 else None)
    elif cmd == "count-pcap" and len(argv) == 3:
        print(count_pcap(argv[2]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
