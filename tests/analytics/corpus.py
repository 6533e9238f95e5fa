"""Simulated reports with subject ids (CONTRACT v1.1 ``citizens[].id``), for tests of both engines.

The simulator names people only; :func:`give_ids` gives some of them ids the
way a recognition system would, so that a population has all three cases:
people known by name only, two people sharing a name (one id each; which of the
two a report saw follows from its report id, so both turn up wherever the name
does, even where names are made unique per drone), and one person seen under
two spellings.
"""

from __future__ import annotations

import json
import zlib


def give_ids(value: bytes) -> bytes:
    doc = json.loads(value)
    drone = zlib.crc32(doc["drone_id"].encode())
    for person in doc["citizens"]:
        h = zlib.crc32(person["name"].encode())
        if h % 3 == 0:  # a name two people share
            person["id"] = f"subj-{h:08x}-{zlib.crc32(doc['report_id'].encode()) % 2}"
        elif h % 3 == 1:  # one person, sometimes recognised under another spelling
            person["id"] = f"subj-{h:08x}"
            if drone % 4 == 0:
                person["name"] = person["name"].upper()
    return json.dumps(doc).encode()
