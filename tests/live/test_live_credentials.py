"""Devices authenticate: password file, ACL and TLS against a real Mosquitto started with the
generated files, and the embedded broker enforcing the same files."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import ssl
import stat
import subprocess
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from live.broker import EmbeddedBroker, parse_mqtt_url
from live.client import connect_kwargs, make_client
from live.credentials import (acl_allows, hash_password, load_credentials, read_acl, read_password_file,
                              verify_password, write_credentials)
from tests.conftest import free_port, run_cli
from tests.live.common import wait_until

pytestmark = pytest.mark.mqtt

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
DEVICES = ["B1-E-101", "B1-W-101", "B3-SMOKE-12"]


def _need(exe: str) -> None:
    if not Path(exe).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{exe} is missing in CI")
        pytest.skip(f"{exe} is not installed")


# -- hashes -----------------------------------------------------------------------------
def test_hash_is_pbkdf2_sha512_in_mosquitto_format():
    """Recompute the hash from its own text (format: $7$iterations$b64 salt$b64 hash)."""
    for pw in ["secret", "", "pässwörd 密码", "x" * 500]:
        h = hash_password(pw)
        empty, seven, iterations, salt, digest = h.split("$")
        assert (empty, seven, iterations) == ("", "7", "101")
        salt_b, digest_b = base64.b64decode(salt), base64.b64decode(digest)
        assert len(salt_b) == 12 and len(digest_b) == 64
        assert hashlib.pbkdf2_hmac("sha512", pw.encode(), salt_b, 101) == digest_b
        assert verify_password(h, pw) and not verify_password(h, pw + "x")
    for bad in ["", "$6$abc$def", "$7$x$a$b", "$7$101$!!!$###", "$7$0$AAAA$AAAA", "plain"]:
        assert not verify_password(bad, "secret")


def test_hashes_of_mosquitto_passwd_verify(tmp_path):
    _need(MOSQUITTO_PASSWD)
    f = tmp_path / "pw"
    subprocess.run([MOSQUITTO_PASSWD, "-c", "-b", str(f), "alice", "s3cret:with:colons"], check=True)
    users = read_password_file(f)
    assert verify_password(users["alice"], "s3cret:with:colons")
    assert not verify_password(users["alice"], "s3cret")


def test_acl_matching():
    rules = {"svc": [({"read"}, "twin/s/#")], "d1": [({"write"}, "twin/s/d1/#")],
             "both": [({"read", "write"}, "twin/s/+/status")]}
    assert acl_allows(rules, "d1", "twin/s/d1/telemetry", "write")
    assert not acl_allows(rules, "d1", "twin/s/d2/telemetry", "write")
    assert not acl_allows(rules, "d1", "twin/s/d1/telemetry", "read")
    assert acl_allows(rules, "svc", "twin/s/+/+", "read") and acl_allows(rules, "svc", "twin/s/#", "read")
    assert not acl_allows(rules, "svc", "twin/#", "read") and not acl_allows(rules, "svc", "#", "read")
    assert not acl_allows(rules, "svc", "twin/other/x/y", "read")
    assert acl_allows(rules, "both", "twin/s/x/status", "write") and not acl_allows(rules, "both", "twin/s/+/+", "read")
    assert not acl_allows(rules, "both", "twin/s/#", "read")
    assert not acl_allows(rules, None, "twin/s/d1/telemetry", "write")
    assert not acl_allows(rules, "nobody", "twin/s/d1/telemetry", "write")


# -- generated files against a real Mosquitto ------------------------------------------
@pytest.fixture(scope="module")
def creds(tmp_path_factory):
    out = tmp_path_factory.mktemp("creds")
    site = f"c{uuid.uuid4().hex[:8]}"
    done = write_credentials(site, DEVICES, out)
    return site, out, done, load_credentials(out / "credentials.json")


def test_written_files(creds, tmp_path):
    site, out, done, c = creds
    assert stat.S_IMODE((out / "credentials.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((out / "passwd").stat().st_mode) == 0o600
    assert stat.S_IMODE((out / "tls" / "ca.key").stat().st_mode) == 0o600
    users = read_password_file(out / "passwd")
    assert set(users) == set(DEVICES) | {c["service"]["username"], c["simulator"]["username"]}
    for d in DEVICES:
        assert verify_password(users[d], c["devices"][d]["password"])
        assert len(c["devices"][d]["password"]) >= 32
    rules = read_acl(out / "acl")
    assert rules[DEVICES[0]] == [({"write"}, f"twin/{site}/{DEVICES[0]}/#")]
    assert rules[c["service"]["username"]] == [({"read"}, f"twin/{site}/#")]
    with pytest.raises(Exception, match="exists"):
        write_credentials(site, DEVICES, out)
    os.chmod(out / "credentials.json", 0o644)
    try:
        with pytest.raises(Exception, match="readable by others"):
            load_credentials(out / "credentials.json")
    finally:
        os.chmod(out / "credentials.json", 0o600)
    with pytest.raises(Exception, match="cannot be a broker username"):
        write_credentials(site, ["ok", "bad:id"], tmp_path / "x")


@pytest.fixture(scope="module")
def secure_mosquitto(creds, tmp_path_factory):
    _need(MOSQUITTO)
    site, out, done, c = creds
    folder = tmp_path_factory.mktemp("mosq")
    port, tls_port = free_port(), free_port()
    user = "root" if os.geteuid() == 0 else "mosquitto"
    conf = folder / "mosquitto.conf"
    conf.write_text(f"user {user}\nper_listener_settings false\nallow_anonymous false\n"
                    f"password_file {c['password_file']}\nacl_file {c['acl_file']}\n"
                    f"listener {port} 127.0.0.1\n"
                    f"listener {tls_port} 127.0.0.1\ncafile {c['ca_file']}\ncertfile {c['cert_file']}\n"
                    f"keyfile {c['key_file']}\n")
    proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    import socket

    def up():
        for p in (port, tls_port):
            try:
                socket.create_connection(("127.0.0.1", p), timeout=0.2).close()
            except OSError:
                return False
        return True
    try:
        wait_until(up, 10, what="mosquitto with credentials to listen")
    except AssertionError:
        proc.kill()
        raise AssertionError(proc.stderr.read().decode()[-2000:])
    yield port, tls_port
    proc.terminate()
    proc.wait(10)


def _connect(url: str, username=None, password=None, ca=None, protocol=5, timeout=5.0):
    """Connect; return (client, reason) where reason is None on success."""
    u = parse_mqtt_url(url, protocol=protocol).with_options(username=username, password=password, ca_file=ca)
    client = make_client(u, f"t-{uuid.uuid4().hex[:8]}", persistent=False)
    result: dict = {}

    def on_connect(cl, ud, flags, rc, props):
        result["rc"] = rc
    client.on_connect = on_connect
    try:
        client.connect(**connect_kwargs(u, persistent=False, session_expiry_s=0))
    except (OSError, ssl.SSLError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    client.loop_start()
    deadline = time.monotonic() + timeout
    while "rc" not in result and time.monotonic() < deadline:
        time.sleep(0.02)
    rc = result.get("rc")
    if rc is None or rc.is_failure:
        client.loop_stop()
        client.disconnect()
        return None, str(rc)
    return client, None


def _check_enforcement(url: str, site: str, c: dict, protocol: int, tls_url: str | None = None) -> None:
    """Anonymous and wrong logins refused; the service receives its devices' own topics and
    the simulator's, never a device publishing under another device's topic."""
    client, why = _connect(url, protocol=protocol)
    assert client is None, "anonymous connect must be refused"
    client, why = _connect(url, DEVICES[0], "wrong", protocol=protocol)
    assert client is None, "a wrong password must be refused"
    svc, why = _connect(url, c["service"]["username"], c["service"]["password"], protocol=protocol)
    assert svc is not None, why
    got: list[tuple[str, bytes]] = []
    svc.on_message = lambda cl, ud, msg: got.append((msg.topic, msg.payload))
    svc.subscribe(f"twin/{site}/+/+", qos=1)
    time.sleep(0.3)
    d0, why = _connect(url, DEVICES[0], c["devices"][DEVICES[0]]["password"], protocol=protocol)
    assert d0 is not None, why
    sim, why = _connect(url, c["simulator"]["username"], c["simulator"]["password"], protocol=protocol)
    assert sim is not None, why
    d0.publish(f"twin/{site}/{DEVICES[1]}/telemetry", b"spoofed", qos=1).wait_for_publish(5)
    d0.publish(f"twin/{site}/{DEVICES[0]}/telemetry", b"own", qos=1).wait_for_publish(5)
    sim.publish(f"twin/{site}/{DEVICES[2]}/status", b"simulated", qos=1).wait_for_publish(5)
    d0.publish(f"twin/other/{DEVICES[0]}/telemetry", b"other site", qos=1).wait_for_publish(5)
    wait_until(lambda: len(got) >= 2, 10, what="the service to receive the allowed messages")
    time.sleep(0.5)
    assert sorted(got) == sorted([(f"twin/{site}/{DEVICES[0]}/telemetry", b"own"),
                                  (f"twin/{site}/{DEVICES[2]}/status", b"simulated")])
    # the service user may read only: its publish never reaches a subscriber
    svc.publish(f"twin/{site}/{DEVICES[0]}/telemetry", b"from service", qos=1).wait_for_publish(5)
    time.sleep(0.3)
    assert all(p != b"from service" for _, p in got)
    for cl in (svc, d0, sim):
        cl.loop_stop()
        cl.disconnect()


def test_mosquitto_enforces_the_generated_password_file_and_acl(creds, secure_mosquitto):
    site, out, done, c = creds
    port, tls_port = secure_mosquitto
    _check_enforcement(f"mqtt://127.0.0.1:{port}", site, c, protocol=5)
    _check_enforcement(f"mqtt://127.0.0.1:{port}", site, c, protocol=4)


def test_tls_works_with_the_generated_ca_and_fails_without(creds, secure_mosquitto, tmp_path):
    site, out, done, c = creds
    port, tls_port = secure_mosquitto
    url = f"mqtts://127.0.0.1:{tls_port}"
    svc = c["service"]
    client, why = _connect(url, svc["username"], svc["password"], ca=c["ca_file"])
    assert client is not None, why
    client.loop_stop()
    client.disconnect()
    client, why = _connect(url, svc["username"], svc["password"], ca=None)  # system CAs only
    assert client is None and "CERTIFICATE_VERIFY_FAILED" in why
    other = write_credentials(site, DEVICES, tmp_path / "other")           # another demo CA
    client, why = _connect(url, svc["username"], svc["password"], ca=other["ca_file"])
    assert client is None and "CERTIFICATE_VERIFY_FAILED" in why
    client, why = _connect(f"mqtts://localhost:{tls_port}", svc["username"], svc["password"], ca=c["ca_file"])
    assert client is not None, why  # the certificate names localhost too
    client.loop_stop()
    client.disconnect()


def test_service_ingests_over_tls_with_the_credentials_file(creds, secure_mosquitto, tmp_path):
    """The settings path end to end: TWIN_MQTT_CREDENTIALS_FILE + mqtts:// URL → the service
    logs in as its user, verifies the demo CA, and applies a device's message."""
    from live.client import MqttIngestor
    from live.ingest import Pipeline
    from live.registry import DeviceRegistry
    from services.live_component import broker_url
    from services.settings import Settings

    site, out, done, c = creds
    port, tls_port = secure_mosquitto
    settings = Settings(mqtt_url=f"mqtts://127.0.0.1:{tls_port}", mqtt_credentials_file=out / "credentials.json",
                        data_dir=tmp_path)
    url = broker_url(settings, "service")
    assert (url.tls, url.username, url.ca_file) == (True, c["service"]["username"], c["ca_file"])
    assert c["service"]["password"] not in repr(url)
    from twin.model import Building, Community, Device, Storey

    com = Community(name=site, crs="EPSG:4547")
    b = Building("B1", "B1", "gis", floors=1, height_m=3.0)
    b.storeys = [Storey("B1-F01", "F1", "B1", 0.0, 3.0)]
    com.buildings = [b]
    com.devices = [Device(DEVICES[0], "meter_electricity", "m", "B1", "B1-F01", None)]
    p = Pipeline(DeviceRegistry.from_community(com))
    ing = MqttIngestor(p, url, client_id=f"ing-{site}", flush_interval_s=0.05).start(wait_s=10)
    try:
        assert ing.subscribed.is_set(), ing.health()
        dev, why = _connect(f"mqtts://127.0.0.1:{tls_port}", DEVICES[0], c["devices"][DEVICES[0]]["password"],
                            ca=c["ca_file"])
        assert dev is not None, why
        dev.publish(f"twin/{site}/{DEVICES[0]}/telemetry",
                    json.dumps({"ts": time.time(), "energy_kwh": 5.0}).encode(), qos=1).wait_for_publish(5)
        wait_until(lambda: p.stats()["applied"] == 1, 10, what="the device's message applied")
        dev.loop_stop()
        dev.disconnect()
        # the simulator's URL of the same settings logs in as the simulator
        assert broker_url(settings, "simulator").username == c["simulator"]["username"]
        env = Settings(mqtt_url=f"mqtts://127.0.0.1:{tls_port}", mqtt_username="u", mqtt_password="p",
                       mqtt_ca_file=Path(c["ca_file"]))
        assert broker_url(env, "service").username == "u"
    finally:
        ing.stop()


def test_embedded_broker_enforces_the_same_files(creds):
    site, out, done, c = creds
    broker = EmbeddedBroker(free_port(), password_file=c["password_file"], acl_file=c["acl_file"]).start()
    try:
        _check_enforcement(f"mqtt://127.0.0.1:{broker.port}", site, c, protocol=4)
    finally:
        broker.stop()


def test_cli_writes_credentials(tmp_path):
    from tests.live.common import write_site

    folder, name, devices = write_site(tmp_path)
    out = tmp_path / "creds"
    r = run_cli("devices", "credentials", "--site", str(folder), "--out", str(out), "--json")
    assert r.returncode == 0, r.stderr
    done = json.loads(r.stdout)
    assert done["devices"] == len(devices) and done["site"] == name
    users = read_password_file(out / "passwd")
    assert set(users) >= {d["id"] for d in devices}
    assert f"topic write twin/{name}/B1-E-101/#" in (out / "acl").read_text()
    again = run_cli("devices", "credentials", "--site", str(folder), "--out", str(out))
    assert again.returncode == 2 and len(again.stderr.strip().splitlines()) == 1 and "--force" in again.stderr


def test_embedded_broker_tls_listener(creds):
    site, out, done, c = creds
    port, tls_port = free_port(), free_port()
    broker = EmbeddedBroker(port, password_file=c["password_file"], acl_file=c["acl_file"], tls_port=tls_port,
                            cert_file=c["cert_file"], key_file=c["key_file"]).start()
    svc = c["service"]
    try:
        client, why = _connect(f"mqtts://127.0.0.1:{tls_port}", svc["username"], svc["password"], ca=c["ca_file"], protocol=4)
        assert client is not None, why
        client.loop_stop()
        client.disconnect()
        client, why = _connect(f"mqtts://127.0.0.1:{tls_port}", svc["username"], svc["password"], protocol=4)
        assert client is None and "CERTIFICATE_VERIFY_FAILED" in why
    finally:
        broker.stop()


def test_service_with_credentials_and_the_embedded_broker(tmp_path):
    """``twin serve`` without TWIN_MQTT_URL but with a credentials file: the embedded broker
    refuses anonymous logins, the service logs in as its user and applies a device's message."""
    from fastapi.testclient import TestClient

    from services.app import create_app
    from services.live_component import LiveComponent
    from services.settings import Settings
    from tests.live.common import make_community

    site = f"e{uuid.uuid4().hex[:8]}"
    com = make_community(site)
    c = write_credentials(site, [d.id for d in com.devices], tmp_path / "creds")
    creds = load_credentials(c["credentials_file"])
    settings = Settings(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", data_dir=tmp_path / "data",
                        mqtt_credentials_file=Path(c["credentials_file"]))
    comp = LiveComponent(settings, com, client_id=f"ing-{site}")
    app = create_app(settings, community=com, components=[comp])
    with TestClient(app) as client:
        assert client.get("/api/health").status_code == 200
        assert comp.ingestor.url.username == creds["service"]["username"]
        assert comp.simulator_url().username == creds["simulator"]["username"]
        url = f"mqtt://127.0.0.1:{comp.embedded.port}"
        assert _connect(url, protocol=4)[0] is None
        dev_id = "B1-meter_water"
        dev, why = _connect(url, dev_id, creds["devices"][dev_id]["password"], protocol=4)
        assert dev is not None, why
        dev.publish(f"twin/{site}/B1-meter_gas/telemetry", json.dumps({"ts": time.time(), "volume_m3": 9.0}),
                    qos=1).wait_for_publish(5)
        dev.publish(f"twin/{site}/{dev_id}/telemetry", json.dumps({"ts": time.time(), "volume_m3": 2.0}),
                    qos=1).wait_for_publish(5)
        wait_until(lambda: comp.pipeline.stats()["applied"] >= 1, 10, what="the device's own message")
        time.sleep(0.5)
        s = comp.pipeline.stats()
        assert s["received"] == 1 and comp.state.get("B1-meter_gas").values == {}
        dev.loop_stop()
        dev.disconnect()


def test_simulator_cli_refused_login_is_one_line(creds, secure_mosquitto, tmp_path):
    from tests.live.common import write_site

    site, out, done, c = creds
    port, tls_port = secure_mosquitto
    folder, name, devices = write_site(tmp_path)
    r = run_cli("devices", "simulate", "--site", str(folder), "--mqtt", f"mqtt://127.0.0.1:{port}",
                "--duration", "60", "--speed", "600", timeout=120)
    assert r.returncode == 2, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert "refused the login of anonymous" in last
    r = run_cli("devices", "simulate", "--site", str(folder), "--mqtt", f"mqtts://127.0.0.1:{tls_port}",
                "--credentials", c["credentials_file"] if "credentials_file" in c else str(out / "credentials.json"),
                "--duration", "60", "--speed", "600", timeout=120)
    assert r.returncode == 0, r.stderr
    assert "published" in r.stderr
