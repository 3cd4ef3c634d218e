#!/usr/bin/env python3
"""Deterministic synthetic DNS logs in each collector format, for bench/import_formats.sh and fuzz seeds.

    gen_logs.py FORMAT COUNT OUT

One line (or zone record / dnstap frame) per DNS response: COUNT responses over 200k names and 60k
addresses, one in ten through a CNAME, one in fifty NXDOMAIN, times one second apart from
2024-01-01. Shapes follow each format's public documentation (see docs/collectors.md)."""
import json
import struct
import sys
from datetime import datetime, timezone

T0 = 1704067200


def responses(count):
    x = 42
    for i in range(count):
        x ^= (x << 13) & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 7
        x ^= (x << 17) & 0xFFFFFFFFFFFFFFFF
        name = x % 200_000
        ip = x % 60_000
        qname = f"host{name % 7}.dom{name}.example.com"
        addr = f"10.{ip >> 16}.{(ip >> 8) & 255}.{ip & 255}"
        t = T0 + i
        if i % 50 == 7:
            yield t, qname, "A", "NXDOMAIN", []
        elif i % 10 == 3:
            target = f"edge{name % 97}.cdn.example.net"
            yield t, qname, "A", "NOERROR", [(qname, "CNAME", 300, target), (target, "A", 60, addr)]
        else:
            yield t, qname, "A", "NOERROR", [(qname, "A", 300, addr)]


def iso(t, frac=".123456", z="Z"):
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + frac + z


def zeek_tsv(out, count):
    out.write("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n")
    out.write("#open\t2024-01-01-00-00-00\n")
    out.write("#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\trtt\tquery\tqclass\t"
              "qclass_name\tqtype\tqtype_name\trcode\trcode_name\tAA\tTC\tRD\tRA\tZ\tanswers\tTTLs\trejected\n")
    out.write("#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\tinterval\tstring\tcount\tstring\tcount\t"
              "string\tcount\tstring\tbool\tbool\tbool\tbool\tcount\tvector[string]\tvector[interval]\tbool\n")
    for i, (t, q, qt, rc, ans) in enumerate(responses(count)):
        rcode = 3 if rc == "NXDOMAIN" else 0
        answers = ",".join(a[3] for a in ans) or "-"
        ttls = ",".join(f"{a[2]}.000000" for a in ans) or "-"
        out.write(f"{t}.{i % 1000000:06d}\tC{i:08x}\t192.0.2.{i % 250 + 1}\t{40000 + i % 20000}\t198.51.100.53\t53\tudp\t"
                  f"{i % 65536}\t0.000512\t{q}\t1\tC_INTERNET\t1\tA\t{rcode}\t{rc}\tF\tF\tT\tT\t0\t{answers}\t{ttls}\tF\n")
    out.write("#close\t2024-01-02-00-00-00\n")


def zeek_json(out, count):
    for i, (t, q, qt, rc, ans) in enumerate(responses(count)):
        rec = {"ts": t + (i % 1000) / 1000, "uid": f"C{i:08x}", "id.orig_h": f"192.0.2.{i % 250 + 1}",
               "id.orig_p": 40000 + i % 20000, "id.resp_h": "198.51.100.53", "id.resp_p": 53, "proto": "udp",
               "trans_id": i % 65536, "rtt": 0.000512, "query": q, "qclass": 1, "qclass_name": "C_INTERNET",
               "qtype": 1, "qtype_name": "A", "rcode": 3 if rc == "NXDOMAIN" else 0, "rcode_name": rc,
               "AA": False, "TC": False, "RD": True, "RA": True, "Z": 0, "rejected": False}
        if ans:
            rec["answers"] = [a[3] for a in ans]
            rec["TTLs"] = [float(a[2]) for a in ans]
        out.write(json.dumps(rec, separators=(",", ":")) + "\n")


def suricata(out, count):
    for i, (t, q, qt, rc, ans) in enumerate(responses(count)):
        dns = {"version": 2, "type": "answer", "id": i % 65536, "flags": "8180", "qr": True, "rd": True,
               "ra": True, "rrname": q, "rrtype": qt, "rcode": rc}
        if ans:
            dns["answers"] = [{"rrname": a[0], "rrtype": a[1], "ttl": a[2], "rdata": a[3]} for a in ans]
        ev = {"timestamp": iso(t, ".123456", "+0000"), "flow_id": 1000000 + i, "in_iface": "eth0",
              "event_type": "dns", "src_ip": "198.51.100.53", "src_port": 53, "dest_ip": f"192.0.2.{i % 250 + 1}",
              "dest_port": 40000 + i % 20000, "proto": "UDP", "dns": dns}
        out.write(json.dumps(ev, separators=(",", ":")) + "\n")


def gopassivedns(out, count):
    for i, (t, q, qt, rc, ans) in enumerate(responses(count)):
        for a in ans or [(q, qt, 0, "")]:
            rec = {"query_id": i % 65536, "rcode": 3 if rc == "NXDOMAIN" else 0, "q": q, "qtype": qt, "a": a[3],
                   "atype": a[1], "ttl": a[2], "dst": f"192.0.2.{i % 250 + 1}", "src": "198.51.100.53",
                   "tstamp": datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%d %H:%M:%S.123456 +0000 UTC"),
                   "elapsed": 512000, "sport": "53", "level": "", "bytes": 120, "protocol": "udp",
                   "truncated": False, "aa": False, "rd": True, "ra": True}
            out.write(json.dumps(rec, separators=(",", ":")) + "\n")


def packetbeat(out, count):
    for i, (t, q, qt, rc, ans) in enumerate(responses(count)):
        dns = {"type": "answer", "id": i % 65536, "op_code": "QUERY", "response_code": rc, "question": {"name": q, "type": qt, "class": "IN"},
               "flags": {"authoritative": False, "recursion_available": True, "recursion_desired": True},
               "answers_count": len(ans)}
        if ans:
            dns["answers"] = [{"name": a[0], "type": a[1], "class": "IN", "ttl": str(a[2]), "data": a[3]} for a in ans]
        ev = {"@timestamp": iso(t, ".123Z", ""), "type": "dns", "event": {"dataset": "dns", "kind": "event"},
              "network": {"protocol": "dns", "transport": "udp"}, "agent": {"hostname": "sensor-1", "type": "packetbeat"},
              "client": {"ip": f"192.0.2.{i % 250 + 1}"}, "server": {"ip": "198.51.100.53"}, "dns": dns, "status": "OK"}
        out.write(json.dumps(ev, separators=(",", ":")) + "\n")


def route53(out, count):
    for i, (t, q, qt, rc, ans) in enumerate(responses(count)):
        rec = {"version": "1.100000", "account_id": "111122223333", "region": "eu-west-1",
               "vpc_id": "vpc-0abc1234def567890", "query_timestamp": iso(t, "", "Z"), "query_name": q + ".",
               "query_type": qt, "query_class": "IN", "rcode": rc,
               "answers": [{"Rdata": a[3] + ("." if a[1] == "CNAME" else ""), "Type": a[1], "Class": "IN"} for a in ans],
               "srcaddr": f"192.0.2.{i % 250 + 1}", "srcport": str(40000 + i % 20000), "transport": "UDP",
               "srcids": {"instance": "i-0123456789abcdef0"}}
        out.write(json.dumps(rec, separators=(",", ":")) + "\n")


def gcp(out, count):
    for i, (t, q, qt, rc, ans) in enumerate(responses(count)):
        rdata = "\n".join(f"{a[0]}.\t{a[2]}\tIN\t{a[1].lower()}\t{a[3]}{'.' if a[1] == 'CNAME' else ''}" for a in ans)
        payload = {"authAnswer": False, "protocol": "UDP", "queryName": q + ".", "queryType": qt,
                   "responseCode": rc, "serverLatency": 1, "sourceIP": f"192.0.2.{i % 250 + 1}",
                   "sourceNetwork": "default", "vmInstanceId": 1234567890123456789, "vmInstanceName": "1234.vm-1",
                   "vmProjectId": "my-project", "vmZoneName": "europe-west1-b"}
        if rdata:
            payload["rdata"] = rdata
        ent = {"insertId": f"{i:012x}", "jsonPayload": payload,
               "logName": "projects/my-project/logs/dns.googleapis.com%2Fdns_queries",
               "receiveTimestamp": iso(t, ".523456789", "Z"),
               "resource": {"labels": {"location": "europe-west1", "project_id": "my-project",
                                       "source_type": "gce-vm", "target_name": "", "target_type": "external"},
                            "type": "dns_query"},
               "severity": "INFO", "timestamp": iso(t, ".123456789", "Z")}
        out.write(json.dumps(ent, separators=(",", ":")) + "\n")


def azure(out, count):
    """DNS security policy DnsResponse records as diagnostic settings write them to storage."""
    policy = ("/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg/providers/"
              "Microsoft.Network/dnsResolverPolicies/policy1")
    for i, (t, q, qt, rc, ans) in enumerate(responses(count)):
        props = {"version": "1", "sub_id": "00000000-1111-2222-3333-444444444444", "region": "westeurope",
                 "vnet_id": "5f3c2a10-9b1e-4c2d-8e7f-0123456789ab", "query_name": q + ".", "query_type": qt,
                 "query_class": "IN", "response_code": 3 if rc == "NXDOMAIN" else 0,
                 "srcipaddr": f"10.20.0.{i % 250 + 1}", "srcport": 40000 + i % 20000, "dstipaddr": "168.63.129.16",
                 "dstport": 53, "transport": "UDP", "query_response_time": 2,
                 "resolution_path": "PublicDnsResolution", "resolverpolicy_id": policy,
                 "resolverpolicy_rule_action": "NoMatch",
                 "answer": [{"Type": a[1], "Class": "IN", "TTL": a[2],
                             "RData": a[3] + ("." if a[1] == "CNAME" else "")} for a in ans]}
        rec = {"time": iso(t, ".1234567", "Z"), "resourceId": policy, "category": "DnsResponse",
               "operationName": "RESPONSE_SUCCESS", "properties": props}
        out.write(json.dumps(rec, separators=(",", ":")) + "\n")


def cof(out, count):
    for t, q, qt, rc, ans in responses(count):
        for owner, typ, ttl, data in ans:
            out.write(json.dumps({"count": 1, "time_first": t, "time_last": t, "rrtype": typ, "rrname": owner,
                                  "rdata": data, "sensor_id": "s1"}, separators=(",", ":")) + "\n")


def saf(out, count):
    out.write('{"cond":"begin"}\n')
    for t, q, qt, rc, ans in responses(count):
        for owner, typ, ttl, data in ans:
            obj = {"count": 1, "time_first": t, "time_last": t, "rrname": owner + ".", "rrtype": typ,
                   "bailiwick": "example.com." if owner.endswith("example.com") else "example.net.",
                   "rdata": [data + ("." if typ == "CNAME" else "")]}
            out.write(json.dumps({"obj": obj}, separators=(",", ":")) + "\n")
    out.write('{"cond":"succeeded"}\n')


def zone(out, count):
    out.write("$ORIGIN example.com.\n$TTL 3600\n")
    out.write("@\tIN\tSOA\tns1 hostmaster (2024010101 7200 3600 1209600 300)\n\tIN\tNS\tns1\n\tIN\tNS\tns2\n")
    out.write("ns1\tIN\tA\t192.0.2.53\nns2\tIN\tA\t198.51.100.53\n")
    for i in range(count):
        out.write(f"host{i}.z{i % 1000}\t300\tIN\tA\t10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}\n")


def dnstap(out, count):
    """Frame Streams of dnstap CLIENT_RESPONSE messages, encoded by hand (protobuf varints)."""
    def varint(n):
        b = bytearray()
        while True:
            c = n & 0x7F
            n >>= 7
            if n:
                b.append(c | 0x80)
            else:
                b.append(c)
                return bytes(b)

    def field(num, wt, payload):
        if wt == 0:
            return varint(num << 3) + varint(payload)
        if wt == 5:
            return varint(num << 3 | 5) + struct.pack("<I", payload)
        return varint(num << 3 | 2) + varint(len(payload)) + payload

    def wname(n):
        return b"".join(bytes([len(l)]) + l.encode() for l in n.split(".")) + b"\x00"

    def msg(i, q, rc, ans):
        hdr = struct.pack(">HHHHHH", i % 65536, 0x8180 | (3 if rc == "NXDOMAIN" else 0), 1, len(ans), 0, 0)
        body = wname(q) + struct.pack(">HH", 1, 1)
        for owner, typ, ttl, data in ans:
            if typ == "A":
                rd = bytes(int(p) for p in data.split("."))
                body += wname(owner) + struct.pack(">HHIH", 1, 1, ttl, 4) + rd
            else:
                rd = wname(data)
                body += wname(owner) + struct.pack(">HHIH", 5, 1, ttl, len(rd)) + rd
        return hdr + body

    ctype = b"protobuf:dnstap.Dnstap"
    start = struct.pack(">I", 2) + struct.pack(">II", 1, len(ctype)) + ctype
    out.write(struct.pack(">II", 0, len(start)) + start)
    for i, (t, q, qt, rc, ans) in enumerate(responses(count)):
        m = (field(1, 0, 6) + field(2, 0, 1) + field(3, 0, 1) + field(4, 2, bytes([192, 0, 2, i % 250 + 1]))
             + field(5, 2, bytes([198, 51, 100, 53])) + field(6, 0, 40000 + i % 20000) + field(7, 0, 53)
             + field(8, 0, t) + field(9, 5, 1000) + field(12, 0, t) + field(13, 5, 2000) + field(14, 2, msg(i, q, rc, ans)))
        d = field(1, 2, b"resolver-1") + field(2, 2, b"bench") + field(15, 0, 1) + field(14, 2, m)
        out.write(struct.pack(">I", len(d)) + d)
    stop = struct.pack(">I", 3)
    out.write(struct.pack(">II", 0, len(stop)) + stop)


FORMATS = {"zeek": zeek_tsv, "zeek-json": zeek_json, "suricata": suricata, "gopassivedns": gopassivedns,
           "packetbeat": packetbeat, "route53": route53, "gcp": gcp, "azure": azure, "cof": cof, "dnsdb": saf, "zone": zone,
           "dnstap": dnstap}

if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in FORMATS:
        sys.exit(f"usage: gen_logs.py {{{','.join(FORMATS)}}} COUNT OUT")
    fmt, count, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if fmt == "dnstap":
        with open(path, "wb") as f:
            FORMATS[fmt](f, count)
    else:
        with open(path, "w") as f:
            FORMATS[fmt](f, count)
