"""Settings come from the environment; Kafka security passes through to both clients; secrets stay secret."""

from __future__ import annotations

import logging
import ssl

import faust
import pytest

from pipeline.runtime.broker import client_config
from pipeline.runtime.faust_app import faust_config, new_app
from pipeline.settings import Settings
from tests.conftest import close_consumer_loop

SECRET = "s3cr3t-pa55word"


@pytest.fixture
def scram(monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name, value in {
        "COPYDESK_KAFKA__BOOTSTRAP_SERVERS": "broker-1:9093,broker-2:9093",
        "COPYDESK_KAFKA__SECURITY_PROTOCOL": "SASL_SSL",
        "COPYDESK_KAFKA__SASL_MECHANISM": "SCRAM-SHA-512",
        "COPYDESK_KAFKA__SASL_USERNAME": "copydesk",
        "COPYDESK_KAFKA__SASL_PASSWORD": SECRET,
        "COPYDESK_KAFKA__FEEDS": '["ap", "reuters"]',
        "COPYDESK_SINK__DATABASE_URL": f"postgresql://copydesk:{SECRET}@db:5432/copydesk",
    }.items():
        monkeypatch.setenv(name, value)
    return Settings()


def test_environment_is_read_into_nested_settings(scram):
    assert scram.kafka.feeds == ["ap", "reuters"]
    assert scram.kafka.servers() == "broker-1:9093,broker-2:9093"


def test_kafka_python_gets_sasl_and_tls(scram):
    config = client_config(scram.kafka)
    assert config["bootstrap_servers"] == ["broker-1:9093", "broker-2:9093"]
    assert config["security_protocol"] == "SASL_SSL"
    assert config["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (config["sasl_plain_username"], config["sasl_plain_password"]) == ("copydesk", SECRET)


def test_faust_gets_sasl_over_tls(scram):
    config = faust_config(scram, "copydesk", "memory://")
    credentials = config["broker_credentials"]
    assert isinstance(credentials, faust.SASLCredentials)
    assert (credentials.username, credentials.password) == ("copydesk", SECRET)
    assert credentials.mechanism.value == "SCRAM-SHA-512"
    assert isinstance(credentials.ssl_context, ssl.SSLContext)
    assert config["broker"] == "kafka://broker-1:9093;kafka://broker-2:9093"


def test_plaintext_has_no_credentials():
    assert faust_config(Settings(), "copydesk", "memory://")["broker_credentials"] is None


def test_secrets_never_show_in_reprs_or_logs(scram, caplog):
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("copydesk.test").info("settings: %s", scram)
        logging.getLogger("copydesk.test").info("credentials: %r", faust_config(scram, "x", "memory://"))
    assert SECRET not in repr(scram)
    assert SECRET not in str(scram.model_dump())
    assert SECRET not in caplog.text


@pytest.mark.parametrize(("wait_ms", "expected"), [(None, 1500), (50, 50)])
async def test_the_consumer_fetch_wait_comes_from_the_settings(wait_ms, expected):
    settings = Settings(kafka={"fetch_max_wait_ms": wait_ms})
    app = new_app(settings, "copydesk-test", "memory://")
    thread = app.consumer._thread
    consumer = thread._create_worker_consumer(app.transport)
    try:
        assert consumer._fetch_max_wait_ms == expected
    finally:
        await consumer.stop()
        close_consumer_loop(app)


@pytest.mark.parametrize(
    ("max_chars", "inline_chars", "tagging_bound"),
    [
        (100_000, 15_000, 15_000),
        (10_000, 15_000, 10_000),
        (0, 15_000, 15_000),
        (100_000, 0, 100_000),
        (0, 0, None),
    ],
)
def test_the_stories_stage_tags_by_the_facts_of_an_articles_head(max_chars, inline_chars, tagging_bound):
    facts = Settings(_env_file=None, facts={"max_chars": max_chars, "inline_chars": inline_chars}).facts
    assert facts.tagging_bound == tagging_bound
