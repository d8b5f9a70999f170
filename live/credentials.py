"""Device credentials for the broker: Mosquitto password and ACL files, a demo CA for TLS.

:func:`write_credentials` writes, for one site, everything a broker and the twin's clients
need so that each device may publish only under its own topics (see ``docs/mqtt.md``):

- ``passwd``: Mosquitto password file, one ``user:$7$<iterations>$<salt>$<hash>`` line per
  user (PBKDF2-HMAC-SHA512, 12-byte salt, 64-byte hash, standard base64: the format of
  ``mosquitto_passwd`` in Mosquitto 2);
- ``acl``: Mosquitto ACL file: device ``D`` may write ``twin/{site}/D/#``; the service user
  may read ``twin/{site}/#``; the simulator user may write ``twin/{site}/#``;
- ``credentials.json`` (mode 0600): the users and their passwords, read by ``twin serve``
  (``service``) and ``twin devices simulate`` (``simulator``), and each device's own;
- ``tls/``: a demo CA (``ca.crt``, ``ca.key``) and a server certificate signed by it
  (``server.crt``, ``server.key``) for ``localhost``, ``127.0.0.1`` and the given hosts;
- ``mosquitto.conf``: a listener block using all of the above.

:func:`read_password_file`, :func:`read_acl` and :func:`acl_allows` read the same files
back; the embedded broker enforces them with them (:mod:`live.broker`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from live.errors import LiveError

__all__ = ["CredentialsError", "hash_password", "verify_password", "read_password_file", "read_acl",
           "acl_allows", "write_credentials", "load_credentials", "make_demo_tls"]

#: PBKDF2 iterations of new hashes (Mosquitto 2's own default).
ITERATIONS = 101
_SALT_BYTES = 12


class CredentialsError(LiveError):
    """A credentials, password or ACL file is missing or invalid (message names it)."""


# -- passwords ---------------------------------------------------------------------------
def hash_password(password: str, *, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    """Return the Mosquitto 2 hash ``$7$<iterations>$<b64 salt>$<b64 PBKDF2-SHA512>`` of ``password``."""
    salt = secrets.token_bytes(_SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(encoded: str, password: str) -> bool:
    """Whether ``password`` matches a ``$7$`` hash (False for any other or malformed hash)."""
    parts = encoded.split("$")
    if len(parts) != 5 or parts[0] or parts[1] != "7" or not parts[2].isascii() or not parts[2].isdigit():
        return False
    iterations = int(parts[2])
    if not 1 <= iterations <= 10_000_000:
        return False
    try:
        salt = base64.b64decode(parts[3], validate=True)
        expected = base64.b64decode(parts[4], validate=True)
    except ValueError:
        return False
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations)
    return hmac.compare_digest(digest, expected)


def _lines(path: str | Path, what: str):
    """Yield ``(line number, stripped line)`` of a Mosquitto-style file, without blanks and
    ``#`` comments."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CredentialsError(f"{what} {path} cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
    for n, line in enumerate(lines, 1):
        line = line.strip()
        if line and not line.startswith("#"):
            yield n, line


def read_password_file(path: str | Path) -> dict[str, str]:
    """Return ``{username: hash}`` of a Mosquitto password file."""
    users: dict[str, str] = {}
    for n, line in _lines(path, "password file"):
        user, sep, encoded = line.partition(":")
        if not sep or not user:
            raise CredentialsError(f"password file {path} line {n} is not user:hash")
        users[user] = encoded
    return users


# -- ACL -----------------------------------------------------------------------------------
_ACCESS = {"read": {"read"}, "write": {"write"}, "readwrite": {"read", "write"}}


def read_acl(path: str | Path) -> dict[str, list[tuple[set[str], str]]]:
    """Return ``{username: [(access, topic filter), ...]}`` of a Mosquitto ACL file.

    Understood: ``user NAME`` and ``topic [read|write|readwrite] FILTER`` lines (the
    subset :func:`write_credentials` writes); ``#`` comments. Anything else is refused.
    """
    rules: dict[str, list[tuple[set[str], str]]] = {}
    user: str | None = None
    for n, line in _lines(path, "ACL file"):
        word, _, rest = line.partition(" ")
        rest = rest.strip()
        if word == "user" and rest:
            user = rest
            rules.setdefault(user, [])
            continue
        if word == "topic" and rest and user is not None:
            access, _, topic = rest.partition(" ")
            if access not in _ACCESS:
                access, topic = "readwrite", rest
            rules[user].append((_ACCESS[access], topic.strip()))
            continue
        raise CredentialsError(f"ACL file {path} line {n} is not understood: {line[:80]!r}")
    return rules


def _filter_within(requested: str, allowed: str) -> bool:
    """Whether every topic matching ``requested`` (a topic or a filter) matches ``allowed``."""
    req, allow = requested.split("/"), allowed.split("/")
    for i, a in enumerate(allow):
        if a == "#":
            return True
        if i >= len(req):
            return False
        r = req[i]
        if r == "#":
            return False
        if a == "+":
            continue
        if r == "+" or r != a:
            return False
    return len(req) == len(allow)


def acl_allows(rules: dict[str, list[tuple[set[str], str]]], user: str | None, topic: str, access: str) -> bool:
    """Whether ``user`` may ``access`` (``read`` or ``write``) ``topic`` (a subscription filter
    for reads); anonymous users (None) and unknown users may do nothing."""
    if user is None:
        return False
    return any(access in acc and _filter_within(topic, pattern) for acc, pattern in rules.get(user, ()))


# -- TLS -------------------------------------------------------------------------------------
def make_demo_tls(folder: str | Path, hosts: tuple[str, ...] = (), *, days: int = 825) -> dict[str, str]:
    """Write a demo CA and a server certificate it signs for localhost, 127.0.0.1 and ``hosts``.

    Return the paths ``{"ca_file", "ca_key_file", "cert_file", "key_file"}``. For a demo
    only: production brokers use certificates of the operator's own CA.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(timezone.utc) - timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "community twin demo CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now).not_valid_after(now + timedelta(days=days))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    names: list[x509.GeneralName] = []
    for h in ("localhost", "127.0.0.1", *hosts):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            names.append(x509.DNSName(h))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0] if hosts else "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    paths = {"ca_file": folder / "ca.crt", "ca_key_file": folder / "ca.key",
             "cert_file": folder / "server.crt", "key_file": folder / "server.key"}
    paths["ca_file"].write_bytes(ca.public_bytes(pem))
    paths["cert_file"].write_bytes(cert.public_bytes(pem))
    for k, private in (("ca_key_file", ca_key), ("key_file", key)):
        _write_private(paths[k], private.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return {k: str(v) for k, v in paths.items()}


# -- the whole set -------------------------------------------------------------------------
@dataclass(frozen=True)
class _User:
    name: str
    password: str


def _check_username(name: str) -> str:
    if not name or any(ch in name for ch in ":#\x00") or any(ch.isspace() for ch in name) or not name.isprintable():
        raise CredentialsError(f"device id {name!r} cannot be a broker username (empty, or has ':', '#', "
                               "white space or control characters)")
    return name


def write_credentials(site: str, device_ids, out: str | Path, *, hosts: tuple[str, ...] = (),
                      tls: bool = True, force: bool = False) -> dict:
    """Write passwd, acl, credentials.json, tls/ and mosquitto.conf for ``site`` into ``out``.

    Parameters
    ----------
    site : str
        The site name (topic segment).
    device_ids : iterable of str
        Registered device ids; each becomes a broker user of the same name.
    out : path
        Output folder (created; must not hold a ``credentials.json`` unless ``force``).
    hosts : tuple of str
        Extra host names or addresses the demo server certificate is valid for.
    tls : bool
        Generate the demo CA and server certificate.

    Returns
    -------
    dict
        The paths written and the user names (no passwords).
    """
    out = Path(out)
    if (out / "credentials.json").exists() and not force:
        raise CredentialsError(f"{out / 'credentials.json'} exists; pass --force to replace every credential")
    devices = sorted({_check_username(str(d)) for d in device_ids})
    service = _User(f"twin-service-{site}", secrets.token_urlsafe(24))
    simulator = _User(f"twin-simulator-{site}", secrets.token_urlsafe(24))
    if {service.name, simulator.name} & set(devices):
        raise CredentialsError(f"a device id collides with the service users {service.name}, {simulator.name}")
    users = [service, simulator] + [_User(d, secrets.token_urlsafe(24)) for d in devices]
    out.mkdir(parents=True, exist_ok=True)
    _write_private(out / "passwd", "".join(f"{u.name}:{hash_password(u.password)}\n" for u in users).encode())
    acl = [f"# broker ACL of site {site}: written by `twin devices credentials`",
           f"user {service.name}", f"topic read twin/{site}/#", "",
           f"user {simulator.name}", f"topic write twin/{site}/#", ""]
    for d in devices:
        acl += [f"user {d}", f"topic write twin/{site}/{d}/#", ""]
    _write_private(out / "acl", "\n".join(acl).encode())
    paths = {"password_file": str((out / "passwd").resolve()), "acl_file": str((out / "acl").resolve())}
    if tls:
        made = make_demo_tls(out / "tls", hosts)
        paths.update({k: str(Path(v).resolve()) for k, v in made.items()})
    record = {
        "site": site, **paths,
        "service": {"username": service.name, "password": service.password},
        "simulator": {"username": simulator.name, "password": simulator.password},
        "devices": {u.name: {"username": u.name, "password": u.password} for u in users[2:]},
    }
    _write_private(out / "credentials.json", json.dumps(record, indent=2).encode())
    conf = ["# Mosquitto listeners using the generated files (adjust ports and paths)",
            "per_listener_settings false", "allow_anonymous false",
            f"password_file {paths['password_file']}", f"acl_file {paths['acl_file']}"]
    if tls:
        conf += ["listener 8883", f"cafile {paths['ca_file']}", f"certfile {paths['cert_file']}",
                 f"keyfile {paths['key_file']}", "tls_version tlsv1.2"]
    (out / "mosquitto.conf").write_text("\n".join(conf) + "\n", encoding="utf-8")
    return {"site": site, "out": str(out.resolve()), **paths, "credentials_file": str((out / "credentials.json").resolve()),
            "service_user": service.name, "simulator_user": simulator.name, "devices": len(devices)}


def load_credentials(path: str | Path) -> dict:
    """Read a ``credentials.json`` written by :func:`write_credentials`.

    Raises
    ------
    CredentialsError
        When it is missing, readable by others than its owner, or not such a file.
    """
    path = Path(path)
    try:
        mode = path.stat().st_mode
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CredentialsError(f"credentials file {path} cannot be read: {exc}") from None
    if os.name == "posix" and mode & 0o077:
        raise CredentialsError(f"credentials file {path} is readable by others (mode {mode & 0o777:o}); chmod 600 it")
    for role in ("service", "simulator"):
        if not isinstance(data, dict) or not isinstance(data.get(role), dict) or "username" not in data[role]:
            raise CredentialsError(f"credentials file {path} has no {role} user")
    return data


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to a file only its owner can read (created 0600, never world-readable)."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
