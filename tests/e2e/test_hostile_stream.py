"""10,000 hostile messages mixed into good traffic: no crash, every one dead-lettered with a reason, counted."""

from __future__ import annotations

import json
import random
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from kafka import KafkaProducer
from kafka.errors import MessageSizeTooLargeError

from pipeline.runtime.broker import EmbeddedBroker, client_config
from pipeline.settings import KafkaSettings
from pipeline.sink import SinkStore
from tests.conftest import SEEDS, raw_seed
from tests.e2e.conftest import Processes, wait_for

pytestmark = pytest.mark.e2e

GOOD = json.loads(raw_seed("000").model_dump_json())
BAD_MESSAGES = 10_000


def hostile(number: int, rng: random.Random) -> tuple[str, bytes]:
    """Return the kind and bytes of one bad message; every kind must end in the dead letters."""
    kinds = {
        "invalid_utf8": lambda: b"\xff\xfe\xfa" + rng.randbytes(40),
        "empty": lambda: b"",
        "oversized": lambda: json.dumps({**GOOD, "text": "word " * 120_000}).encode(),  # 600 KB > 512 KB
        "malformed_json": lambda: b'{"article_id": "x", "text": "unterminated',
        "wrong_schema_version": lambda: json.dumps({**GOOD, "schema_version": rng.randint(2, 99)}).encode(),
        "deeply_nested": lambda: b"[" * 20_000 + b"]" * 20_000,
        "nul_bytes": lambda: json.dumps(
            {**GOOD, "text": "Real words here\x00and a NUL byte in them"}
        ).encode(),
        "html_soup": lambda: json.dumps(
            {**GOOD, "text": "<script>var a=1;</script><div><br></div>" * 50}
        ).encode(),
        "one_word_body": lambda: json.dumps({**GOOD, "text": "Headline\n\nWord"}).encode(),
        "long_line": lambda: json.dumps({**GOOD, "text": "x" * 300_000}).encode(),
        "wrong_types": lambda: json.dumps({**GOOD, "received_at": 12, "text": ["not", "text"]}).encode(),
        "not_an_object": lambda: json.dumps(rng.choice([[1, 2], "text", 3.5, None])).encode(),
    }
    kind = sorted(kinds)[number % len(kinds)]
    if kind == "oversized" and (number // 12) % 10:  # one in ten is enough: they are large
        kind = "malformed_json"
    return kind, kinds[kind]()


def test_hostile_traffic(
    processes: Processes, broker: EmbeddedBroker, copydesk_env: dict[str, str], tmp_path: Path
):
    processes.call("topics", "create")
    processes.start("worker")
    processes.start("sink")
    producer = KafkaProducer(**client_config(KafkaSettings(bootstrap_servers=broker.bootstrap_servers)),
                             linger_ms=20, max_request_size=1_000_000)  # fmt: skip
    rng = random.Random(3)
    kinds: Counter[str] = Counter()
    seeds = sorted(SEEDS.glob("*.txt"))
    for number in range(BAD_MESSAGES):
        if number % 2000 == 0 and seeds:  # good articles in between the bad ones
            good = raw_seed(seeds.pop(0).stem[:3])
            producer.send(
                "wire.raw.seeds", key=good.article_id.encode(), value=good.model_dump_json().encode()
            )
        kind, payload = hostile(number, rng)
        kinds[kind] += 1
        producer.send("wire.raw.seeds", key=f"bad-{number:05d}".encode(), value=payload)
    # A message over the broker's limit never enters Kafka: the producer refuses it, readably.
    with pytest.raises(MessageSizeTooLargeError):
        producer.send("wire.raw.seeds", key=b"huge", value=b"x" * 50_000_000).get(timeout=10)
    producer.flush()
    producer.close()

    store = SinkStore(tmp_path / "out" / "copydesk.db")
    try:
        expected = {f"bad-{n:05d}" for n in range(BAD_MESSAGES)} | {p.stem for p in SEEDS.glob("*.txt")}
        wait_for(lambda: expected <= store.settled_ids(), 900, "every message settled in the sink", processes)
        letters = store.dead_letters()
        assert len(letters) == BAD_MESSAGES
        assert all(letter.stage == "normalize" and letter.error for letter in letters)
        reasons = Counter(letter.error.split(":")[0].split(" ")[0] for letter in letters)
        assert len(reasons) >= 6, reasons
        relations = {a.article_id[:3]: a.dedup.relation for a in store.articles()}
        assert relations == {"000": "unique", "001": "paraphrase", "002": "unique", "003": "update",
                             "004": "paraphrase"}  # fmt: skip
        port = copydesk_env["COPYDESK_METRICS__WORKER_PORT"]
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        assert f'copydesk_dead_letters_total{{stage="normalize"}} {float(BAD_MESSAGES)}' in metrics
    finally:
        store.close()
    assert set(kinds) >= {"invalid_utf8", "empty", "oversized", "deeply_nested", "nul_bytes", "html_soup"}
