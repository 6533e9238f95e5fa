"""schemathesis hooks: the rules of the data that no JSON Schema can say.

The document says them in words (``analytics.serializers.query_schema``): ``from``
before ``to``, ``min`` not above ``max``, a box's south not above its north and
its west not above its east. A generated valid query that breaks one would be
refused, rightly: before it is sent, its pair is put in order (the values stay
the ones generated). Likewise an alert's ``assigned_to`` must name an active
officer, which only the database knows: a generated name is replaced by the one
officer the test made (``SCHEMATHESIS_OFFICER``), so that the assignment is
tried for real rather than refused with 400 (a name that is no officer is
refused, as tests/alerts say).
"""

import os

import schemathesis


def _in_order(parent, low: str, high: str) -> None:
    if isinstance(parent, dict):
        a, b = parent.get(low), parent.get(high)
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (a, b))
        if (numbers or (isinstance(a, str) and isinstance(b, str))) and a > b:
            parent[low], parent[high] = b, a


def put_in_order(query) -> None:
    if not isinstance(query, dict):
        return
    time = query.get("time")
    _in_order(time, "from", "to")  # RFC 3339 strings: compared as given, which only matters when offsets agree
    _in_order(query.get("score"), "min", "max")
    area = query.get("area")
    if isinstance(area, dict):
        _in_order(area.get("box"), "south", "north")
        _in_order(area.get("box"), "west", "east")


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or not isinstance(case.body, dict):
        return
    put_in_order(case.body)
    put_in_order(case.body.get("query"))
    officer = os.environ.get("SCHEMATHESIS_OFFICER")
    if officer and isinstance(case.body.get("assigned_to"), str) and case.body["assigned_to"]:
        case.body["assigned_to"] = officer
