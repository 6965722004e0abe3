"""Configs that carry over from Kafka Connect: .properties files, Java connector classes,
Java client security names, worker keys, and topic.creation.* (KIP-158)."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from headwater.conformance.runtime import in_process_worker
from headwater.connectors.cli import cli
from headwater.connectors.errors import ConfigError
from headwater.connectors.kafka_clients import parse_jaas, to_librdkafka
from headwater.connectors.loading import load_connector_file, load_worker_file, parse_connector
from headwater.connectors.properties import PropertiesError, parse_properties
from headwater.connectors.runtime.worker import client_configs

JAAS_PLAIN = 'org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="s3c;r\\"et";'


def _errors(exc: pytest.ExceptionInfo[ConfigError]) -> dict[str, str]:
    return {error.key: error.message for error in exc.value.errors}


# -- .properties ------------------------------------------------------------------------


def test_properties_syntax_follows_java() -> None:
    text = (
        "# a comment\n"
        "! another\n"
        "name = my-sink\n"
        "colon:value\n"
        "spaced   value with spaces  \n"
        "tasks.max=\\\n"
        "    3\n"
        "topics=a,\\\n"
        "  b\n"
        "path=C:\\\\data\\\\in\n"
        "key\\=with\\:seps=v\n"
        "unicode=caf\\u00e9\\tx\n"
        "empty=\n"
        "name=last-wins\n"
    )
    assert parse_properties(text) == {
        "name": "last-wins",
        "colon": "value",
        "spaced": "value with spaces  ",
        "tasks.max": "3",
        "topics": "a,b",
        "path": "C:\\data\\in",
        "key=with:seps": "v",
        "unicode": "café\tx",
        "empty": "",
    }
    with pytest.raises(PropertiesError, match="line 2"):
        parse_properties("a=1\nb=\\u12G4\n")


def test_connector_and_worker_files_as_properties(tmp_path: Path) -> None:
    worker = tmp_path / "worker.properties"
    worker.write_text("bootstrap.servers=127.0.0.1:19092\nrest.port=0\noffset.flush.interval.ms=1000\n")
    connector = tmp_path / "sink.properties"
    connector.write_text(f"name=files\nconnector.class=file\ntopics=t1\nfile.dir={tmp_path}/out\ntasks.max=2\n")
    worker_config = load_worker_file(worker)
    assert (worker_config.rest_port, worker_config.offset_flush_interval_ms) == (0, 1000)
    latin1 = tmp_path / "latin1.properties"
    latin1.write_bytes("bootstrap.servers=café:9092\n".encode("iso-8859-1"))
    assert load_worker_file(latin1).bootstrap_servers == "café:9092"  # Java's own encoding when not UTF-8
    loaded = load_connector_file(connector, worker=worker_config)
    assert (loaded.framework.name, loaded.framework.tasks_max, loaded.plugin_class.name) == ("files", 2, "file")
    connector.write_text("name=files\nconnector.class=file\ntopics=t1\nbogus.key=1\n")
    with pytest.raises(ConfigError) as exc:
        load_connector_file(connector, worker=worker_config)
    assert exc.value.source == str(connector)
    assert set(_errors(exc)) == {"file.dir", "bogus.key"}


# -- Java connector classes -------------------------------------------------------------


def test_java_file_stream_sink_is_refused_key_by_key_then_runs_as_file(tmp_path: Path) -> None:
    config = {
        "connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
        "topics": "t1",
        "file": "/tmp/out.txt",
    }
    with pytest.raises(ConfigError) as exc:
        parse_connector({"name": "fs", "config": config})
    assert "file.dir" in _errors(exc)["file"]
    del config["file"]
    connector = parse_connector({"name": "fs", "config": {**config, "file.dir": str(tmp_path)}})
    assert connector.plugin_class.name == "file"
    assert connector.raw["connector.class"] == config["connector.class"]
    assert any("runs as Headwater's 'file' plugin" in note for note in connector.notes)


def test_java_mongodb_and_debezium_oracle_classes_map_with_notes() -> None:
    mongo = parse_connector(
        {
            "name": "m",
            "config": {
                "connector.class": "com.mongodb.kafka.connect.MongoSinkConnector",
                "topics": "t",
                "connection.uri": "mongodb://127.0.0.1:27017",
                "database": "d",
                "mongo.errors.tolerance": "all",
                "max.num.retries": "3",
            },
        }
    )
    assert mongo.plugin_class.name == "mongodb"
    assert mongo.framework.errors_tolerance == "all"
    assert any(note.startswith("max.num.retries ignored") for note in mongo.notes)
    oracle = parse_connector(
        {
            "name": "o",
            "config": {
                "connector.class": "io.debezium.connector.oracle.OracleConnector",
                "database.hostname": "db",
                "database.port": "1521",
                "database.user": "u",
                "database.password": "p",
                "database.dbname": "ORCL",
                "database.server.name": "server1",
                "schema.history.internal.kafka.topic": "history",
                "schema.history.internal.kafka.bootstrap.servers": "k:9092",
            },
        }
    )
    assert oracle.plugin_class.name == "oracle-logminer"
    assert oracle.plugin_config.topic_prefix == "server1"  # type: ignore[attr-defined]
    assert sum("schema.history.internal" in note for note in oracle.notes) == 2


def test_java_snowflake_class_keeps_the_metadata_toggles() -> None:
    """Snowflake's own connector has snowflake.metadata.*; ours honours them, so a
    migrated config must not lose them to the Java-class mapping."""
    snowflake = parse_connector(
        {
            "name": "s",
            "config": {
                "connector.class": "com.snowflake.kafka.connector.SnowflakeSinkConnector",
                "topics": "t",
                "snowflake.url.name": "acct.snowflakecomputing.com:443",
                "snowflake.user.name": "u",
                "snowflake.password": "p",
                "snowflake.database.name": "d",
                "snowflake.schema.name": "s",
                "snowflake.metadata.createtime": "false",
                "snowflake.ingestion.method": "SNOWPIPE_STREAMING",
            },
        }
    )
    assert snowflake.plugin_class.name == "snowflake"
    assert snowflake.plugin_config.snowflake_metadata_createtime is False  # type: ignore[attr-defined]
    assert any(note.startswith("snowflake.ingestion.method ignored") for note in snowflake.notes)
    assert not any("snowflake.metadata" in note for note in snowflake.notes)


def test_validate_prints_the_notes(tmp_path: Path) -> None:
    path = tmp_path / "lambda.properties"
    path.write_text(
        "name=l\nconnector.class=io.confluent.connect.aws.lambda.AwsLambdaSinkConnector\ntopics=t\n"
        "aws.lambda.function.name=f\naws.lambda.region=us-east-1\nconfluent.license=\n"
        "confluent.topic.bootstrap.servers=k:9092\n"
    )
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "valid (aws-lambda" in result.output
    assert "note: confluent.license ignored" in result.output
    assert "note: confluent.topic.bootstrap.servers ignored" in result.output


# -- client security ----------------------------------------------------------------------


def test_jaas_lines_parse() -> None:
    assert parse_jaas(JAAS_PLAIN) == (
        "org.apache.kafka.common.security.plain.PlainLoginModule",
        {"username": "alice", "password": 's3c;r"et'},
    )
    module, options = parse_jaas(
        "org.apache.kafka.common.security.scram.ScramLoginModule required\n  username=bob\n  password=pw;"
    )
    assert module.endswith("ScramLoginModule") and options == {"username": "bob", "password": "pw"}
    with pytest.raises(ValueError, match="expected"):
        parse_jaas("username=alice")


def test_java_client_names_map_to_librdkafka(tmp_path: Path) -> None:
    pem = tmp_path / "ca.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    mapped, errors = to_librdkafka(
        {
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "PLAIN",
            "sasl.jaas.config": JAAS_PLAIN,
            "ssl.truststore.location": str(pem),
            "ssl.truststore.password": "ignored-for-pem",
            "ssl.endpoint.identification.algorithm": "",
        }
    )
    assert errors == []
    assert mapped == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "PLAIN",
        "sasl.username": "alice",
        "sasl.password": 's3c;r"et',
        "ssl.ca.location": str(pem),
        "ssl.endpoint.identification.algorithm": "none",
    }
    keystore = tmp_path / "client.p12"
    keystore.write_bytes(b"\x30\x82binary")
    mapped, errors = to_librdkafka({"ssl.keystore.location": str(keystore), "ssl.keystore.password": "pw"})
    assert (mapped, errors) == ({"ssl.keystore.location": str(keystore), "ssl.keystore.password": "pw"}, [])


def test_pkcs12_truststore_becomes_ca_pem(tmp_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    store = tmp_path / "truststore.p12"
    store.write_bytes(
        pkcs12.serialize_key_and_certificates(
            None, None, None, [cert], serialization.BestAvailableEncryption(b"changeit")
        )
    )
    mapped, errors = to_librdkafka(
        {"ssl.truststore.location": str(store), "ssl.truststore.type": "PKCS12", "ssl.truststore.password": "changeit"}
    )
    assert errors == []
    assert mapped["ssl.ca.pem"] == cert.public_bytes(serialization.Encoding.PEM).decode()
    _, errors = to_librdkafka(
        {"ssl.truststore.location": str(store), "ssl.truststore.type": "PKCS12", "ssl.truststore.password": "wrong"}
    )
    assert [e.key for e in errors] == ["ssl.truststore.location"]


def test_worker_file_refuses_what_librdkafka_cannot_use(tmp_path: Path) -> None:
    jks = tmp_path / "truststore.jks"
    jks.write_bytes(b"\xfe\xed\xfe\xed\x00\x00\x00\x02")
    worker = tmp_path / "worker.properties"
    worker.write_text(
        "bootstrap.servers=127.0.0.1:19092\n"
        "security.protocol=SASL_SSL\n"
        "sasl.mechanism=SCRAM-SHA-512\n"
        "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required \\\n"
        '    username="alice" password="pw";\n'
        f"ssl.truststore.location={jks}\n"
        "ssl.protocol=TLSv1.3\n"
        "producer.ssl.enabled.protocols=TLSv1.2\n"
        "consumer.sasl.login.callback.handler.class=com.example.Handler\n"
        "admin.no.such.property=1\n"
    )
    with pytest.raises(ConfigError) as exc:
        load_worker_file(worker)
    errors = _errors(exc)
    assert "needs sasl.mechanism=PLAIN" in errors["sasl.jaas.config"]
    assert "keytool -importkeystore" in errors["ssl.truststore.location"]
    assert "not a librdkafka setting" in errors["ssl.protocol"]
    assert "not a librdkafka setting" in errors["producer.ssl.enabled.protocols"]
    assert "sasl.oauthbearer.method=oidc" in errors["consumer.sasl.login.callback.handler.class"]
    assert "admin.no.such.property" in errors
    result = CliRunner().invoke(cli, ["validate", "--worker", str(worker), str(worker)])
    assert result.exit_code != 0


def test_worker_security_reaches_every_client_with_prefixes_taking_precedence(tmp_path: Path) -> None:
    worker_file = tmp_path / "worker.json"
    worker_file.write_text(
        '{"bootstrap.servers": "127.0.0.1:19092", "security.protocol": "SASL_PLAINTEXT",'
        ' "sasl.mechanism": "PLAIN", "sasl.jaas.config": '
        + '"org.apache.kafka.common.security.plain.PlainLoginModule required username=\\"worker\\" password=\\"w\\";",'
        ' "producer.sasl.username": "producer-user", "admin.sasl.username": "admin-user"}'
    )
    worker = load_worker_file(worker_file)
    assert worker.client_settings("consumer")["sasl.username"] == "worker"
    assert worker.client_settings("producer")["sasl.username"] == "producer-user"
    assert worker.client_settings("admin")["sasl.username"] == "admin-user"
    assert worker.client_settings("admin")["security.protocol"] == "SASL_PLAINTEXT"
    connector = parse_connector(
        {
            "name": "d",
            "config": {
                "connector.class": "datagen",
                "topic.prefix": "d",
                "producer.override.sasl.jaas.config": JAAS_PLAIN.replace("alice", "conn").replace('s3c;r\\"et', "c"),
            },
        }
    )
    producer, consumer = client_configs(connector, worker)
    assert (producer["sasl.username"], producer["sasl.password"]) == ("conn", "c")
    assert producer["security.protocol"] == "SASL_PLAINTEXT" and producer["acks"] == "all"
    assert consumer["sasl.username"] == "worker" and "sasl.jaas.config" not in consumer


def test_connector_override_with_java_only_name_fails_validate() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_connector(
            {
                "name": "d",
                "config": {"connector.class": "datagen", "topic.prefix": "d", "consumer.override.ssl.protocol": "TLS"},
            }
        )
    assert "not a librdkafka setting" in _errors(exc)["consumer.override.ssl.protocol"]
    with pytest.raises(ConfigError) as exc:
        parse_connector(
            {
                "name": "d",
                "config": {"connector.class": "datagen", "topic.prefix": "d", "admin.override.ssl.protocol": "TLS"},
            }
        )
    assert "not a librdkafka setting" in _errors(exc)["admin.override.ssl.protocol"]


# -- worker keys ------------------------------------------------------------------------


def test_connect_worker_keys(tmp_path: Path) -> None:
    worker_file = tmp_path / "worker.properties"
    worker_file.write_text(
        "listeners=http://127.0.0.1:0\nrest.advertised.host.name=w1.example\nrest.advertised.port=8443\n"
        "offset.flush.timeout.ms=7000\nheader.converter=org.apache.kafka.connect.storage.SimpleHeaderConverter\n"
        "plugin.path=my_company.connectors\nconfig.providers=env\n"
        "config.providers.env.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider\n"
    )
    worker = load_worker_file(worker_file)
    assert worker.plugin_package_list() == ["my_company.connectors"]
    assert (worker.rest_advertised_host_name, worker.rest_advertised_port) == ("w1.example", 8443)
    assert worker.offset_flush_timeout_ms == 7000
    # config.providers=env: ${file:} references may read nothing, ${env:} still work.
    secret = tmp_path / "secret.properties"
    secret.write_text("uri=mongodb://x\n")
    with pytest.raises(ConfigError, match="allowed"):
        parse_connector(
            {"name": "d", "config": {"connector.class": "datagen", "topic.prefix": f"${{file:{secret}:uri}}"}},
            worker=worker,
        )
    worker_file.write_text(
        "plugin.path=/usr/share/java\nheader.converter=io.confluent.connect.avro.AvroConverter\n"
        "config.providers=vault\n"
        "config.providers.file.class=com.example.VaultProvider\n"
    )
    with pytest.raises(ConfigError) as exc:
        load_worker_file(worker_file)
    errors = _errors(exc)
    assert "not a Python package" in errors["plugin.path"]
    assert "SimpleHeaderConverter" in errors["header.converter"]
    assert "unknown provider" in errors["config.providers"]
    assert "FileConfigProvider" in errors["config.providers.file.class"]


# -- topic.creation.* ---------------------------------------------------------------------


def test_topic_creation_errors_name_each_key() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_connector(
            {
                "name": "d",
                "config": {
                    "connector.class": "datagen",
                    "topic.prefix": "d",
                    "topic.creation.groups": "compacted",
                    "topic.creation.default.partitions": "0",
                    "topic.creation.compacted.include": "d\\.(",
                    "topic.creation.compacted.cleanup.polcy": "compact",
                    "topic.creation.other.partitions": "3",
                },
            }
        )
    assert set(_errors(exc)) == {
        "topic.creation.default.replication.factor",
        "topic.creation.default.partitions",
        "topic.creation.compacted.partitions",  # inherits default's 0
        "topic.creation.compacted.include",
        "topic.creation.compacted.cleanup.polcy",
        "topic.creation.other.partitions",
    }
    with pytest.raises(ConfigError) as exc:
        parse_connector(
            {
                "name": "s",
                "config": {
                    "connector.class": "file",
                    "topics": "t",
                    "file.dir": "/tmp/x",
                    "topic.creation.default.partitions": "1",
                    "topic.creation.default.replication.factor": "1",
                },
            }
        )
    assert "only source connectors" in _errors(exc)["topic.creation.*"]


@pytest.mark.kafka
def test_source_topics_are_created_from_their_group(kafka_bootstrap_servers: str, tmp_path: Path) -> None:
    from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType

    prefix = f"tc{uuid.uuid4().hex[:6]}"
    connector = {
        "name": prefix,
        "config": {
            "connector.class": "datagen",
            "topic.prefix": prefix,
            "count": "30",
            "tables": "customers,orders",
            "topic.creation.groups": "compacted",
            "topic.creation.default.replication.factor": "-1",
            "topic.creation.default.partitions": "2",
            "topic.creation.default.retention.ms": "3600000",
            "topic.creation.compacted.include": f"{prefix}\\.customers",
            "topic.creation.compacted.partitions": "3",
            "topic.creation.compacted.cleanup.policy": "compact",
        },
    }
    worker = in_process_worker(kafka_bootstrap_servers, tmp_path, [connector])
    worker.start()
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap_servers})
    try:
        deadline = time.monotonic() + 60
        topics: dict[str, int] = {}
        while len(topics) < 2:
            assert time.monotonic() < deadline, topics
            metadata = admin.list_topics(timeout=10).topics
            topics = {n: len(m.partitions) for n, m in metadata.items() if n.startswith(prefix + ".")}
            time.sleep(0.2)
    finally:
        worker.stop()
    assert topics == {f"{prefix}.customers": 3, f"{prefix}.orders": 2}
    resources = [
        ConfigResource(ResourceType.TOPIC, f"{prefix}.customers"),
        ConfigResource(ResourceType.TOPIC, f"{prefix}.orders"),
    ]
    described = {r.name: f.result(timeout=10) for r, f in admin.describe_configs(resources).items()}
    assert described[f"{prefix}.customers"]["cleanup.policy"].value == "compact"
    assert described[f"{prefix}.orders"]["cleanup.policy"].value == "delete"
    assert described[f"{prefix}.orders"]["retention.ms"].value == "3600000"
    assert described[f"{prefix}.customers"]["retention.ms"].value == "604800000"  # groups don't inherit configs


def test_topic_creation_enable_false_turns_it_off(tmp_path: Path) -> None:
    connector = parse_connector(
        {
            "name": "tc",
            "config": {
                "connector.class": "datagen",
                "topic.prefix": "tc",
                "topic.creation.default.replication.factor": "1",
                "topic.creation.default.partitions": "4",
            },
        }
    )
    producer = {"bootstrap.servers": "127.0.0.1:1", "sasl.username": "u", "linger.ms": "5"}
    enabled = in_process_worker("127.0.0.1:1", tmp_path, [connector])
    creator = enabled._topic_creator(connector, producer)
    assert creator is not None and creator.rules.group_for("tc.customers").partitions == 4
    assert creator.admin_config == {"bootstrap.servers": "127.0.0.1:1", "sasl.username": "u"}  # producer's cluster
    disabled = in_process_worker("127.0.0.1:1", tmp_path, [connector], topic_creation_enable=False)
    assert disabled._topic_creator(connector, producer) is None


def test_readme_lists_the_java_connector_classes() -> None:
    from headwater.connectors.compat import java_connectors_markdown

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    indented = "\n".join("  " + line for line in java_connectors_markdown().splitlines())
    assert indented in readme, "README's Java connector table is stale: regenerate it from java_connectors_markdown()"


def test_kafka_stock_distributed_worker_file_loads(tmp_path: Path) -> None:
    """The keys of Kafka's own config/connect-distributed.properties, comments and all."""
    path = tmp_path / "connect-distributed.properties"
    path.write_text(
        "# A list of host/port pairs to use for establishing the initial connection to the Kafka cluster.\n"
        "bootstrap.servers=127.0.0.1:19092\n"
        "group.id=connect-cluster\n"
        "key.converter=org.apache.kafka.connect.json.JsonConverter\n"
        "value.converter=org.apache.kafka.connect.json.JsonConverter\n"
        "key.converter.schemas.enable=true\n"
        "value.converter.schemas.enable=true\n"
        "offset.storage.topic=connect-offsets\n"
        "offset.storage.replication.factor=1\n"
        "offset.storage.partitions=25\n"
        "config.storage.topic=connect-configs\n"
        "config.storage.replication.factor=1\n"
        "status.storage.topic=connect-status\n"
        "status.storage.replication.factor=1\n"
        "offset.flush.interval.ms=10000\n"
        "listeners=HTTP://127.0.0.1:8083\n"
        "rest.advertised.host.name=127.0.0.1\n"
        "rest.advertised.port=8083\n"
        "rest.advertised.listener=http\n"
        "connector.client.config.override.policy=Principal\n"
    )
    worker = load_worker_file(path, distributed=True)
    assert (worker.offset_storage_replication_factor, worker.offset_storage_partitions) == (1, 25)
    assert worker.config_storage_replication_factor == worker.status_storage_replication_factor == 1
    base = {"connector.class": "datagen", "topic.prefix": "d"}
    allowed = {**base, "producer.override.sasl.jaas.config": JAAS_PLAIN, "producer.override.sasl.mechanism": "PLAIN"}
    parse_connector({"name": "d", "config": allowed}, worker=worker)
    with pytest.raises(ConfigError) as exc:
        parse_connector({"name": "d", "config": {**base, "producer.override.linger.ms": "50"}}, worker=worker)
    assert "override.policy=Principal" in _errors(exc)["producer.override.linger.ms"]


def test_topic_creation_picks_the_first_matching_group() -> None:
    from headwater.connectors.runtime.topics import parse_topic_creation

    rules, errors = parse_topic_creation(
        {
            "groups": "audit, compacted",
            "default.replication.factor": "1",
            "default.partitions": "6",
            "audit.include": "shop\\..*audit.*",
            "audit.partitions": "1",
            "compacted.include": "shop\\..*",
            "compacted.exclude": "shop\\.events.*",
            "compacted.cleanup.policy": "compact",
        }
    )
    assert errors == [] and rules is not None
    picked = {topic: rules.group_for(topic).name for topic in ("shop.audit_log", "shop.customers", "shop.events", "x")}
    assert picked == {
        "shop.audit_log": "audit",
        "shop.customers": "compacted",
        "shop.events": "default",
        "x": "default",
    }
    compacted = rules.group_for("shop.customers")
    assert (compacted.partitions, compacted.replication_factor, dict(compacted.configs)) == (
        6,
        1,
        {"cleanup.policy": "compact"},
    )
    assert rules.group_for("shop.customers_2").name == "compacted"  # regexes match the whole name
    assert rules.group_for("eshop.customers").name == "default"


def test_sink_consumers_skip_librdkafkas_one_second_queue_pause_unless_told(tmp_path: Path) -> None:
    """librdkafka stops fetching a partition for ``fetch.queue.backoff.ms`` (1000 by default)
    once 100,000 records wait locally: a sink faster than that stalled for the rest of
    each second. The runtime's default is shorter; the worker's and the connector's settings win."""
    worker_file = tmp_path / "worker.json"
    worker_file.write_text('{"bootstrap.servers": "127.0.0.1:19092"}')
    sink = {"name": "s", "config": {"connector.class": "file", "topics": "t", "file.dir": str(tmp_path)}}
    _producer, consumer = client_configs(parse_connector(sink), load_worker_file(worker_file))
    assert int(consumer["fetch.queue.backoff.ms"]) <= 100
    worker_file.write_text('{"bootstrap.servers": "127.0.0.1:19092", "consumer.fetch.queue.backoff.ms": "250"}')
    _producer, consumer = client_configs(parse_connector(sink), load_worker_file(worker_file))
    assert consumer["fetch.queue.backoff.ms"] == "250"
    sink["config"]["consumer.override.fetch.queue.backoff.ms"] = "500"
    _producer, consumer = client_configs(parse_connector(sink), load_worker_file(worker_file))
    assert consumer["fetch.queue.backoff.ms"] == "500"
