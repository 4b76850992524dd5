"""Line protocol's fast path: lines whose series this process has stored before.

Telegraf sends the same ``measurement,tag=value...`` prefix for a host every interval,
with new values and a new timestamp. The general path (``lineproto.parse`` into
``Point``s, a label dict and a ``Sample`` per field, a label-tuple hash per sample in the
store) costs ~8 µs a sample; once a prefix's series ids are known, a line is a split,
a dict lookup per field and a float per value, and goes to the store as
``(series_id, ts_ms, value)`` rows in columns (``steward.tsdb.store.Columns``, for
``TimeSeriesStore.append_resolved``): a line adds its ids and values to two lists, and
the timestamp once per run of lines sharing it, with no tuple per sample.

Exactness: a line takes the fast path only if it has the plain form the general parser
would accept identically (``prefix fields timestamp``, optionally ending in the CR of
a CRLF line end, which the general parser strips too; no backslash, no quote, every
field key known, every value a float that ``lineproto._number`` accepts as one, an
unsigned ASCII timestamp; a body with a value that overflows to an infinity goes to the
general parser whole); anything else — integers (``1i``), booleans, strings,
escapes, missing timestamps, bad lines — goes to the general parser, so results and
error messages are unchanged. A prefix enters the table only after the general path
parsed it from a line without escapes, so the same text always maps to the same labels.

Pure Python, no Django: ``ingest.py`` owns the table's lifetime (see ``LineSeriesCache``).
"""

from __future__ import annotations

import re
import threading

from steward.tsdb.store import Columns

# Field key -> series id, per line prefix (the text before the first space).
PrefixTable = dict[str, dict[str, int]]
# Per line prefix: the field section's pattern for the keys it was last seen with, and
# their series ids in that order (see ``split_known``).
Templates = dict[str, tuple[re.Pattern[str], tuple[int, ...]]]

_FLOAT_END = frozenset("0123456789.")
MAX_PREFIXES = 200_000  # per organization; beyond it the table starts over (memory bound)
# A value the template takes: ASCII digits, sign, point, exponent, ending in a digit or
# a point. A subset of what the per-field checks below accept, so a template match is
# decided exactly as they would decide it (float() still has the last word).
_VALUE = r"([-+.0-9eE]*[.0-9])"
_patterns: dict[tuple[str, ...], re.Pattern[str]] = {}
MAX_PATTERNS = 4_096  # distinct field-key sequences; beyond it the cache starts over


def _pattern(keys: tuple[str, ...]) -> re.Pattern[str]:
    pattern = _patterns.get(keys)
    if pattern is None:
        if len(_patterns) >= MAX_PATTERNS:
            _patterns.clear()
        pattern = re.compile(",".join(f"{re.escape(key)}={_VALUE}" for key in keys))
        _patterns[keys] = pattern
    return pattern


def split_known(
    text: str,
    known: PrefixTable,
    mul: int,
    div: int,
    templates: Templates | None = None,
) -> tuple[Columns, list[tuple[int, str]], int]:
    """Rows of the lines ``known`` covers, the other lines (numbered), and the fast count.

    ``mul``/``div`` convert the request's precision to ms (``lineproto.PRECISIONS``).
    ``templates`` (kept with ``known``, see ``LineSeriesCache.tables``) remembers each
    prefix's field keys as one compiled pattern: a line with the same keys in the same
    order is then a regex match, ``float`` over the values and a list extend with the
    ids, all in C (~3x faster than a Python loop per field); any other line takes the
    loop. Rows keep the order of the lines and of the fields within a line.
    """
    col_ids: list[int] = []
    values: list[float] = []
    runs: list[tuple[int, int]] = []  # (first row, ts): see ``Columns``
    rest: list[tuple[int, str]] = []
    fast = 0
    add_rest = rest.append
    add_run = runs.append
    extend_values = values.extend
    float_end = _FLOAT_END
    if templates is None:
        templates = {}
    get_template = templates.get
    # The lines of a request mostly share their timestamp (one collection interval):
    # its checks and conversion run once per distinct text, not once per line.
    last_stamp = ""  # never equal to a line's: an empty stamp fails isdigit()
    ts = 0
    run_ts = -1  # the timestamp of the last run; ts >= 0 (digits only)
    for number, line in enumerate(text.split("\n"), start=1):
        parts = line.split(" ")
        if len(parts) == 3:
            prefix, fields, stamp = parts
            if stamp != last_stamp:
                # A CRLF body leaves its CR on the stamp; the general parser strips it
                # (``lineproto.parse_lines``), so the line means the same without it.
                digits = stamp[:-1] if stamp[-1:] == "\r" else stamp
                if not (digits.isdigit() and digits.isascii()):
                    add_rest((number, line))
                    continue
                last_stamp = stamp
                ts = int(digits) * mul // div
            # A template implies the prefix is in ``known`` (both are filled below).
            template = get_template(prefix)
            if template is not None:
                match = template[0].fullmatch(fields)
                if match is not None:
                    mark = len(values)
                    try:
                        # Straight into ``values``: no list of values per line.
                        extend_values(map(float, match.groups()))
                    except ValueError:
                        del values[mark:]  # the loop below refuses it the same way
                    else:
                        if ts != run_ts:
                            add_run((mark, ts))
                            run_ts = ts
                        col_ids += template[1]
                        fast += 1
                        continue
            ids = known.get(prefix)
            if ids is not None:
                out: list[float] = []
                sids: list[int] = []
                keys = []
                for part in fields.split(","):
                    key, _, value = part.partition("=")
                    sid = ids.get(key)
                    if (
                        sid is None
                        or not value
                        or value[-1] not in float_end
                        or "_" in value
                        or not value.isascii()
                    ):
                        break
                    try:
                        out.append(float(value))
                    except ValueError:
                        break
                    sids.append(sid)
                    keys.append(key)
                else:
                    if out:  # an empty field section never gets here, but runs stay non-empty
                        if ts != run_ts:
                            add_run((len(col_ids), ts))
                            run_ts = ts
                        col_ids += sids
                        values += out
                    fast += 1
                    if template is not None or len(templates) < MAX_PREFIXES:
                        templates[prefix] = (_pattern(tuple(keys)), tuple(sids))
                    continue
        add_rest((number, line))
    # A value too large for a double (``1e999``) parses to an infinity, which the general
    # parser refuses: one sum in C finds any (a sum that overflows by itself errs on the
    # safe side), and then every line takes the general path, which refuses those lines
    # alone. Rare, so no check per value.
    total = sum(values)
    if total - total != 0.0:
        return Columns(), list(enumerate(text.split("\n"), start=1)), 0
    return Columns(col_ids, values, runs), rest, fast


def prefix_of(line: str) -> str | None:
    """The table key of a line the general parser accepted, or None if it has escapes."""
    line = line.strip(" \t\r")
    if "\\" in line or '"' in line:
        return None
    return line.split(" ", 1)[0]


class LineSeriesCache:
    """One ``PrefixTable`` (and its ``Templates``) per organization, valid while its
    ``generation`` object lives.

    The labels of a prefix depend on the organization's slug and on the host name ->
    device map (``ingest.DeviceDirectory``, refreshed every
    ``metrics_device_cache_seconds``); the caller passes that map as the generation, so
    a refresh or a renamed organization starts an empty table and nothing stale is used.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tables: dict[int, tuple[object, str, PrefixTable, Templates]] = {}

    def tables(self, org_id: int, slug: str, generation: object) -> tuple[PrefixTable, Templates]:
        entry = self._tables.get(org_id)
        if entry is not None and entry[0] is generation and entry[1] == slug:
            table = entry[2]
            if len(table) <= MAX_PREFIXES:
                return table, entry[3]
        with self._lock:
            table, templates = {}, {}
            self._tables[org_id] = (generation, slug, table, templates)
        return table, templates

    def table(self, org_id: int, slug: str, generation: object) -> PrefixTable:
        return self.tables(org_id, slug, generation)[0]

    def clear(self) -> None:
        with self._lock:
            self._tables.clear()
