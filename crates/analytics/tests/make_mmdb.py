#!/usr/bin/env python3
"""Writes a small MaxMind-format (.mmdb) database for dnsledger's enrichment tests.

usage: make_mmdb.py SHAPE OUT.mmdb NETWORK=ASN:ORG:CC [NETWORK=ASN:ORG:CC ...]

SHAPE is the record layout of a published database family, so the tests read each shape the
way real files lay it out (field names as their publishers document them):

  geolite2-asn      {autonomous_system_number: uint32, autonomous_system_organization}
                    (GeoLite2-ASN, DB-IP ASN Lite)
  asn-u16           the same with the number stored as uint16 (writers that pick the
                    smallest integer type)
  geolite2-country  {country: {iso_code, names: {en}}, registered_country: {iso_code}}
                    (GeoLite2-Country, DB-IP Country Lite)
  country-code      {country_code} (ip-location-db country databases)
  asn-string        {asn: "AS64500", as_name, country_code} (databases that carry the ASN as
                    text, with the country in the same record)

Uses the PyPI package mmdb-writer (installed into the test venv by scripts/test.sh). Nothing
here comes from a published database: every network is given on the command line.
"""

import sys

from mmdb_writer import MMDBWriter, MmdbU16, MmdbU32
from netaddr import IPSet

TYPES = {
    "geolite2-asn": "GeoLite2-ASN",
    "asn-u16": "Test-ASN-U16",
    "geolite2-country": "GeoLite2-Country",
    "country-code": "Test-Country-Code",
    "asn-string": "Test-ASN-String",
}


def record(shape, asn, org, cc):
    if shape == "geolite2-asn":
        return {"autonomous_system_number": MmdbU32(asn), "autonomous_system_organization": org}
    if shape == "asn-u16":
        return {"autonomous_system_number": MmdbU16(asn), "autonomous_system_organization": org}
    if shape == "geolite2-country":
        return {
            "continent": {"code": "EU"},
            "country": {"iso_code": cc, "names": {"en": cc}},
            "registered_country": {"iso_code": cc},
        }
    if shape == "country-code":
        return {"country_code": cc}
    if shape == "asn-string":
        return {"asn": f"AS{asn}", "as_name": org, "country_code": cc}
    raise SystemExit(f"make_mmdb.py: unknown shape {shape!r} (one of {', '.join(TYPES)})")


def main(argv):
    if len(argv) < 4:
        raise SystemExit(__doc__)
    shape, out = argv[1], argv[2]
    if shape not in TYPES:
        raise SystemExit(f"make_mmdb.py: unknown shape {shape!r} (one of {', '.join(TYPES)})")
    w = MMDBWriter(
        ip_version=6,
        ipv4_compatible=True,
        database_type=TYPES[shape],
        languages=["en"],
        description={"en": "dnsledger test database"},
    )
    for spec in argv[3:]:
        net, _, rest = spec.partition("=")
        asn, org, cc = rest.split(":", 2)
        w.insert_network(IPSet([net]), record(shape, int(asn), org, cc))
    w.to_db_file(out)


if __name__ == "__main__":
    main(sys.argv)
