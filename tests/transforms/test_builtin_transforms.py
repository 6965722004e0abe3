"""Each built-in transformation and predicate against Kafka Connect's documented behaviour.

The configurations are the examples of Kafka Connect's and Confluent's SMT reference pages,
run through ``build_transforms`` exactly as a connector file would carry them.
"""

from __future__ import annotations

import datetime as dt
import decimal
import typing as t

import pytest

from headwater.codecs import schema as s
from headwater.connectors.api import SinkRecord, SourceRecord
from headwater.connectors.errors import ConfigError
from headwater.connectors.transforms import TransformChain, TransformError, build_transforms

UTC = dt.UTC


def chain(type_: str, **settings: str) -> TransformChain:
    flat = {"transforms": "t", "transforms.t.type": type_}
    flat.update({f"transforms.t.{key.replace('_', '.')}": value for key, value in settings.items()})
    return build_transforms(flat)


def sink(value: t.Any, key: t.Any = None, **extra: t.Any) -> SinkRecord:
    fields: dict[str, t.Any] = {"topic": "orders", "partition": 3, "offset": 42, "key": key, "value": value}
    fields.update(extra)
    return SinkRecord(**fields)


def source(value: t.Any, key: t.Any = None, **extra: t.Any) -> SourceRecord:
    fields: dict[str, t.Any] = {"partition": {"f": "x"}, "offset": {"n": 1}, "topic": "orders", "key": key}
    fields.update({"value": value, **extra})
    return SourceRecord(**fields)


def applied(c: TransformChain, record: t.Any) -> t.Any:
    out = c.apply(record)
    assert out is not None
    return out


# -- InsertField -------------------------------------------------------------------------------


def test_insert_field_static_value_as_in_the_kafka_docs() -> None:
    c = chain("org.apache.kafka.connect.transforms.InsertField$Value", static_field="MessageSource",
              static_value="Kafka Connect framework")  # fmt: skip
    assert applied(c, sink({"id": 1})).value == {"id": 1, "MessageSource": "Kafka Connect framework"}


def test_insert_field_topic_partition_offset_timestamp_on_a_sink_record() -> None:
    c = chain("InsertField$Value", topic_field="t", partition_field="p", offset_field="o!", timestamp_field="ts")
    out = applied(c, sink({"id": 1}, timestamp_ms=1_700_000_000_123))
    assert out.value == {"id": 1, "t": "orders", "p": 3, "o": 42,
                         "ts": dt.datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)}  # fmt: skip


def test_insert_field_offset_on_a_source_record_is_a_record_error() -> None:
    c = chain("InsertField$Value", offset_field="o")
    with pytest.raises(TransformError, match="only supported for sink connectors"):
        c.apply(source({"id": 1}))


def test_insert_field_key_and_tombstones_pass() -> None:
    c = chain("InsertField$Key", static_field="src", static_value="hw")
    out = applied(c, sink(None, key={"id": 7}))
    assert out.key == {"id": 7, "src": "hw"}
    assert applied(chain("InsertField$Value", static_field="a", static_value="b"), sink(None)).value is None


def test_insert_field_refuses_a_non_map_value() -> None:
    with pytest.raises(TransformError, match=r"only maps are supported .*field insertion.*found str"):
        chain("InsertField$Value", static_field="a", static_value="b").apply(sink("text"))


def test_insert_field_with_a_schema_adds_optional_and_required_fields() -> None:
    row = s.struct({"id": s.INT32}, name="shop.orders.Value")
    c = chain("InsertField$Value", topic_field="topic!", timestamp_field="ts")
    out = applied(c, sink({"id": 1}, value_schema=row, timestamp_ms=0))
    assert out.value_schema.name == "shop.orders.Value"
    assert out.value_schema.field("topic").schema == s.STRING
    assert out.value_schema.field("ts").schema == s.TIMESTAMP.optional()
    out.value_schema.validate(out.value)


# -- ReplaceField ------------------------------------------------------------------------------


def test_replace_field_exclude_include_and_renames() -> None:
    value = {"foo": 1, "bar": 2, "baz": 3, "etc": 4}
    assert applied(chain("ReplaceField$Value", exclude="bar"), sink(value)).value == {"foo": 1, "baz": 3, "etc": 4}
    assert applied(chain("ReplaceField$Value", include="foo,bar"), sink(value)).value == {"foo": 1, "bar": 2}
    renamed = applied(chain("ReplaceField$Value", renames="foo:c1,bar:c2"), sink(value)).value
    assert renamed == {"c1": 1, "c2": 2, "baz": 3, "etc": 4}
    # exclude wins over include, as Kafka Connect's filter does
    assert applied(chain("ReplaceField$Value", include="foo,bar", exclude="bar"), sink(value)).value == {"foo": 1}


def test_replace_field_deprecated_blacklist_and_whitelist() -> None:
    value = {"a": 1, "b": 2, "c": 3}
    assert applied(chain("ReplaceField$Value", blacklist="a"), sink(value)).value == {"b": 2, "c": 3}
    assert applied(chain("ReplaceField$Value", whitelist="a"), sink(value)).value == {"a": 1}


def test_replace_field_with_a_schema() -> None:
    row = s.struct({"a": s.INT32, "b": s.STRING.optional(), "c": s.BOOLEAN}, name="x.Value")
    out = applied(chain("ReplaceField$Value", exclude="c", renames="a:id"), sink({"a": 1, "b": None, "c": True},
                                                                                  value_schema=row))  # fmt: skip
    assert out.value == {"id": 1, "b": None}
    assert out.value_schema.field_names == ("id", "b")
    assert out.value_schema.name == "x.Value"


# -- MaskField ---------------------------------------------------------------------------------


def test_mask_field_uses_the_types_empty_value() -> None:
    value = {"s": "secret", "i": 5, "f": 1.5, "d": decimal.Decimal("9.99"), "b": True, "l": [1], "m": {"x": 1},
             "n": None, "keep": "me"}  # fmt: skip
    out = applied(chain("MaskField$Value", fields="s,i,f,d,b,l,m,n"), sink(value)).value
    assert out == {"s": "", "i": 0, "f": 0.0, "d": decimal.Decimal(0), "b": False, "l": [], "m": {}, "n": None,
                   "keep": "me"}  # fmt: skip


def test_mask_field_with_a_replacement() -> None:
    c = chain("MaskField$Value", fields="ssn,age", replacement="0")
    assert applied(c, sink({"ssn": "123-45-6789", "age": 42})).value == {"ssn": "0", "age": 0}
    redacted = chain("MaskField$Value", fields="ssn", replacement="<redacted>")
    assert applied(redacted, sink({"ssn": "123"})).value == {"ssn": "<redacted>"}
    with pytest.raises(TransformError, match="not a valid int"):
        chain("MaskField$Value", fields="age", replacement="<redacted>").apply(sink({"age": 42}))
    with pytest.raises(TransformError, match="custom replacement"):
        chain("MaskField$Value", fields="ok", replacement="x").apply(sink({"ok": True}))


# -- ValueToKey, ExtractField, HoistField, Flatten --------------------------------------------


def test_value_to_key_builds_the_key_from_value_fields() -> None:
    c = chain("org.apache.kafka.connect.transforms.ValueToKey", fields="userId,city,state")
    out = applied(c, sink({"userId": 1, "city": "Oslo", "state": None, "x": 0}, key="old"))
    assert out.key == {"userId": 1, "city": "Oslo", "state": None}
    assert out.value == {"userId": 1, "city": "Oslo", "state": None, "x": 0}


def test_value_to_key_with_a_schema_and_a_missing_field() -> None:
    row = s.struct({"id": s.INT64, "name": s.STRING})
    out = applied(chain("ValueToKey", fields="id"), sink({"id": 5, "name": "a"}, value_schema=row))
    assert out.key == {"id": 5}
    assert out.key_schema == s.struct({"id": s.INT64})
    with pytest.raises(TransformError, match="unknown field 'nope'"):
        chain("ValueToKey", fields="nope").apply(sink({"id": 5, "name": "a"}, value_schema=row))


def test_extract_field_key_and_value() -> None:
    assert applied(chain("ExtractField$Key", field="id"), sink({}, key={"id": 42, "n": 1})).key == 42
    assert applied(chain("ExtractField$Value", field="after"), sink({"after": {"a": 1}})).value == {"a": 1}
    assert applied(chain("ExtractField$Value", field="absent"), sink({"a": 1})).value is None
    row = s.struct({"id": s.INT32, "name": s.STRING.optional()})
    out = applied(chain("ExtractField$Value", field="name"), sink({"id": 1, "name": "x"}, value_schema=row))
    assert (out.value, out.value_schema) == ("x", s.STRING.optional())


def test_hoist_field_wraps_the_value() -> None:
    assert applied(chain("HoistField$Value", field="line"), sink("hello")).value == {"line": "hello"}
    assert applied(chain("HoistField$Key", field="k"), sink({}, key=42)).key == {"k": 42}
    out = applied(chain("HoistField$Value", field="line"), sink("hello", value_schema=s.STRING))
    assert out.value_schema == s.struct({"line": s.STRING})


def test_flatten_as_in_the_confluent_docs() -> None:
    value = {"content": {"id": 42, "name": {"first": "David", "middle": None, "last": "Wong"}}, "tags": [{"a": 1}]}
    out = applied(chain("org.apache.kafka.connect.transforms.Flatten$Value"), sink(value)).value
    assert out == {"content.id": 42, "content.name.first": "David", "content.name.middle": None,
                   "content.name.last": "Wong", "tags": [{"a": 1}]}  # fmt: skip
    assert applied(chain("Flatten$Value", delimiter="_"), sink({"a": {"b": 1}})).value == {"a_b": 1}


def test_flatten_with_a_schema_makes_fields_under_optional_structs_optional() -> None:
    inner = s.struct({"first": s.STRING, "last": s.STRING}, optional=True)
    row = s.struct({"id": s.INT32, "name": inner})
    out = applied(chain("Flatten$Value"), sink({"id": 1, "name": {"first": "a", "last": "b"}}, value_schema=row))
    assert out.value_schema.field_names == ("id", "name.first", "name.last")
    assert out.value_schema.field("name.first").schema == s.STRING.optional()
    assert out.value_schema.field("id").schema == s.INT32
    empty = applied(chain("Flatten$Value"), sink({"id": 2, "name": None}, value_schema=row))
    assert empty.value == {"id": 2, "name.first": None, "name.last": None}
    empty.value_schema.validate(empty.value)


# -- Cast --------------------------------------------------------------------------------------


def test_cast_fields_and_whole_values() -> None:
    c = chain("Cast$Value", spec="ID:string,score:float64,flag:boolean,small:int8")
    out = applied(c, sink({"ID": 42, "score": "3.5", "flag": 1, "small": "-7", "other": 1}))
    assert out.value == {"ID": "42", "score": 3.5, "flag": True, "small": -7, "other": 1}
    assert applied(chain("Cast$Key", spec="int32"), sink(None, key="12")).key == 12
    assert applied(chain("Cast$Value", spec="int64"), sink(decimal.Decimal("12.99"))).value == 12
    assert applied(chain("Cast$Value", spec="string"), sink(True)).value == "true"
    assert applied(chain("Cast$Value", spec="float32"), sink(0.1)).value == pytest.approx(0.1, rel=1e-7)


def test_cast_refuses_out_of_range_and_unreadable_values() -> None:
    with pytest.raises(TransformError, match="out of range for int8"):
        chain("Cast$Value", spec="int8").apply(sink(300))
    with pytest.raises(TransformError, match=r"field 'n'.*cannot cast 'abc' to int32"):
        chain("Cast$Value", spec="n:int32").apply(sink({"n": "abc"}))
    with pytest.raises(TransformError, match="not a boolean"):
        chain("Cast$Value", spec="boolean").apply(sink("yes"))


def test_cast_with_a_schema_changes_the_field_types() -> None:
    row = s.struct({"id": s.INT64, "price": s.decimal_of(2, precision=9).optional()})
    out = applied(chain("Cast$Value", spec="id:string,price:float64"),
                  sink({"id": 1, "price": decimal.Decimal("9.50")}, value_schema=row))  # fmt: skip
    assert out.value == {"id": "1", "price": 9.5}
    assert out.value_schema.field("id").schema == s.STRING
    assert out.value_schema.field("price").schema == s.FLOAT64.optional()
    out.value_schema.validate(out.value)


# -- TimestampConverter, TimestampRouter ------------------------------------------------------


def test_timestamp_converter_between_string_unix_and_logical_types() -> None:
    to_string = chain("TimestampConverter$Value", field="ts", target_type="string", format="yyyy-MM-dd HH:mm:ss")
    assert applied(to_string, sink({"ts": 1_700_000_000_000})).value == {"ts": "2023-11-14 22:13:20"}
    to_unix = chain("TimestampConverter$Value", field="ts", target_type="unix", format="yyyy-MM-dd")
    assert applied(to_unix, sink({"ts": "2017-01-02"})).value == {"ts": 1_483_315_200_000}
    seconds = chain("TimestampConverter$Value", field="ts", target_type="unix", unix_precision="seconds")
    assert applied(seconds, sink({"ts": dt.datetime(2017, 1, 2, tzinfo=UTC)})).value == {"ts": 1_483_315_200}
    to_date = chain("TimestampConverter$Value", field="ts", target_type="Date")
    assert applied(to_date, sink({"ts": 1_483_315_200_123})).value == {"ts": dt.date(2017, 1, 2)}
    to_time = chain("TimestampConverter$Value", field="ts", target_type="Time")
    assert applied(to_time, sink({"ts": 1_483_315_200_123})).value == {"ts": dt.time(0, 0, 0, 123000)}
    whole = chain("TimestampConverter$Key", target_type="Timestamp", unix_precision="microseconds")
    assert applied(whole, sink(None, key=1_000_001)).key == dt.datetime(1970, 1, 1, 0, 0, 1, 1, tzinfo=UTC)


def test_timestamp_converter_with_a_schema_and_bad_text() -> None:
    row = s.struct({"opened": s.STRING})
    c = chain("TimestampConverter$Value", field="opened", target_type="Date", format="yyyyMMdd")
    out = applied(c, sink({"opened": "20240131"}, value_schema=row))
    assert out.value == {"opened": dt.date(2024, 1, 31)}
    assert out.value_schema.field("opened").schema == s.DATE
    with pytest.raises(TransformError, match="does not match the date pattern 'yyyyMMdd'"):
        c.apply(sink({"opened": "2024-01-31"}))


def test_timestamp_router_as_in_the_kafka_docs() -> None:
    c = chain("TimestampRouter", topic_format="${topic}-${timestamp}", timestamp_format="yyyyMMdd")
    assert applied(c, sink({}, timestamp_ms=1_700_000_000_000)).topic == "orders-20231114"
    with pytest.raises(TransformError, match="timestamp missing"):
        c.apply(source({}))


# -- RegexRouter, Filter, headers --------------------------------------------------------------


def test_regex_router_drops_a_prefix_as_in_the_kafka_docs() -> None:
    c = chain("org.apache.kafka.connect.transforms.RegexRouter", regex="soe-(.*)", replacement="$1")
    assert applied(c, sink({}, topic="soe-Customers")).topic == "Customers"
    assert applied(c, sink({}, topic="other-soe-Customers")).topic == "other-soe-Customers"  # whole name must match
    named = chain("RegexRouter", regex=r"(?<db>\w+)\.(?<table>\w+)", replacement="${table}_from_$1\\$")
    assert applied(named, sink({}, topic="shop.orders")).topic == "orders_from_shop$"


def test_filter_drops_everything_it_is_applied_to() -> None:
    assert chain("org.apache.kafka.connect.transforms.Filter").apply(sink({"a": 1})) is None


def test_header_transforms() -> None:
    moved = applied(chain("HeaderFrom$Value", fields="id,ts", headers="record_id,event_timestamp", operation="move"),
                    sink({"id": 7, "ts": "2024", "n": {"x": 1}}))  # fmt: skip
    assert moved.value == {"n": {"x": 1}}
    assert moved.headers == (("record_id", b"7"), ("event_timestamp", b"2024"))
    copied = applied(
        chain("HeaderFrom$Key", fields="n", headers="n", operation="copy"), sink(None, key={"n": {"x": 1}})
    )
    assert copied.key == {"n": {"x": 1}} and copied.headers == (("n", b'{"x":1}'),)
    inserted = applied(chain("InsertHeader", header="app.id", value_literal="best-app"), sink({}))
    assert inserted.headers == (("app.id", b"best-app"),)
    dropped = applied(chain("DropHeaders", headers="unwanted-1,unwanted-2"),
                      sink({}, headers=(("unwanted-1", b"a"), ("keep", b"b"), ("unwanted-2", b"c"))))  # fmt: skip
    assert dropped.headers == (("keep", b"b"),)


def test_header_from_move_with_a_schema_removes_the_field() -> None:
    row = s.struct({"id": s.INT32, "name": s.STRING})
    out = applied(chain("HeaderFrom$Value", fields="id", headers="id", operation="move"),
                  sink({"id": 1, "name": "a"}, value_schema=row))  # fmt: skip
    assert out.value_schema.field_names == ("name",)
    assert out.headers == (("id", b"1"),)


# -- predicates --------------------------------------------------------------------------------


def _with_predicate(predicate_type: str, negate: bool = False, **settings: str) -> TransformChain:
    flat = {
        "transforms": "Filter",
        "transforms.Filter.type": "org.apache.kafka.connect.transforms.Filter",
        "transforms.Filter.predicate": "P",
        "transforms.Filter.negate": str(negate).lower(),
        "predicates": "P",
        "predicates.P.type": predicate_type,
    }
    flat.update({f"predicates.P.{key}": value for key, value in settings.items()})
    return build_transforms(flat)


def test_topic_name_matches_filters_as_in_the_kafka_docs() -> None:
    c = _with_predicate("org.apache.kafka.connect.transforms.predicates.TopicNameMatches", pattern="foo")
    assert c.apply(sink({}, topic="foo")) is None
    assert c.apply(sink({}, topic="foobar")) is not None  # the whole name must match
    negated = _with_predicate("TopicNameMatches", negate=True, pattern="foo.*")
    assert negated.apply(sink({}, topic="foobar")) is not None
    assert negated.apply(sink({}, topic="bar")) is None


def test_has_header_key_and_record_is_tombstone() -> None:
    has = _with_predicate("HasHeaderKey", name="trace")
    assert has.apply(sink({}, headers=(("trace", b"1"),))) is None
    assert has.apply(sink({}, headers=(("other", b"1"),))) is not None
    tombstones = _with_predicate("RecordIsTombstone")
    assert tombstones.apply(sink(None)) is None
    assert tombstones.apply(sink({})) is not None


def test_extract_field_only_where_the_predicate_does_not_match_as_in_the_kafka_docs() -> None:
    c = build_transforms(
        {
            "transforms": "Extract",
            "transforms.Extract.type": "org.apache.kafka.connect.transforms.ExtractField$Key",
            "transforms.Extract.field": "other_field",
            "transforms.Extract.predicate": "IsBar",
            "transforms.Extract.negate": "true",
            "predicates": "IsBar",
            "predicates.IsBar.type": "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
            "predicates.IsBar.pattern": "bar",
        }
    )
    key = {"other_field": 9, "id": 1}
    assert applied(c, sink({}, key=key, topic="bar")).key == key
    assert applied(c, sink({}, key=key, topic="foo")).key == 9


def test_a_chain_applies_in_order_and_stops_at_a_drop() -> None:
    c = build_transforms(
        {
            "transforms": "hoist,insert,route",
            "transforms.hoist.type": "HoistField$Value",
            "transforms.hoist.field": "line",
            "transforms.insert.type": "InsertField$Value",
            "transforms.insert.topic.field": "from",
            "transforms.route.type": "RegexRouter",
            "transforms.route.regex": "(.*)",
            "transforms.route.replacement": "copy-$1",
        }
    )
    out = applied(c, source("hello"))
    assert (out.topic, out.value) == ("copy-orders", {"line": "hello", "from": "orders"})
    assert out.partition == {"f": "x"} and out.offset == {"n": 1}  # source coordinates are kept


def test_config_errors_name_each_key() -> None:
    with pytest.raises(ConfigError) as info:
        build_transforms(
            {
                "transforms": "a,b,c,d,e",
                "transforms.a.type": "NoSuchTransform",
                "transforms.b.type": "RegexRouter",
                "transforms.b.regex": "([",
                "transforms.c.type": "ReplaceField$Value",
                "transforms.c.renames": "foo",
                "transforms.d.type": "Cast$Value",
                "transforms.d.spec": "x:uuid",
                "transforms.d.predicate": "missing",
                "transforms.e.type": "com.example.Evil",
                "transforms.e.negate": "true",
                "transforms.zz.type": "Filter",
                "predicates": "p",
                "predicates.p.type": "TopicNameMatches",
            }
        )
    errors = {error.key: error.message for error in info.value.errors}
    assert "unknown transform 'NoSuchTransform'" in errors["transforms.a.type"]
    assert "not a valid regular expression" in errors["transforms.b.regex"]
    assert "not old:new" in errors["transforms.c.renames"]
    assert "unknown type 'uuid'" in errors["transforms.d.spec"]
    assert "'missing' is not listed in predicates" in errors["transforms.d.predicate"]
    assert "unknown transform 'com.example.Evil'" in errors["transforms.e.type"]  # never imported
    assert errors["transforms.e.negate"] == "negate needs a predicate"
    assert "'zz' is not listed in transforms" in errors["transforms.zz.type"]
    assert errors["predicates.p.pattern"] == "missing (required)"


def test_config_errors_for_unknown_and_missing_keys() -> None:
    with pytest.raises(ConfigError) as info:
        build_transforms({"transforms": "a,b", "transforms.a.type": "HoistField$Value", "transforms.a.feild": "x"})
    errors = {error.key: error.message for error in info.value.errors}
    assert errors["transforms.a.field"] == "missing (required)"
    assert "unknown key" in errors["transforms.a.feild"]
    assert errors["transforms.b.type"] == "missing (required)"
    with pytest.raises(ConfigError, match=r"transforms.t: .*target.type=string needs format"):
        chain("TimestampConverter$Value", target_type="string")
    with pytest.raises(ConfigError, match=r"transforms.t.timestamp.format.*unsupported letter 'Q'"):
        chain("TimestampRouter", timestamp_format="QQ")
