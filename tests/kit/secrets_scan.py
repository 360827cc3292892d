"""Finding secrets where they must not be: recognisable fake secrets, and a scanner that looks
for them in any text or bytes, raw and encoded, and names where it found them without ever
showing them.

    secrets = {"api secret": marker("apisecret"), ...}
    scan = Scan(SecretScanner(secrets))
    scan.item("ray logs", str(path), path.read_bytes())
    assert not scan.leaks, scan.report()

Each secret is looked for as itself and as what an encoder makes of it: hex (either case),
base64 and base64url (at each of the three alignments a secret can take inside a longer
encoded text, so a secret encoded with its surroundings is found too), URL-encoded and
JSON-escaped (when those differ from the raw value); and, for a marker, its random part alone
(its recognisable prefix cut off), its head (cut short, as a "key hint" shows it) and its tail.
"""

from __future__ import annotations

import base64
import json
import re
import secrets as random_source
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import quote, quote_plus

MARKER_PREFIX: Final = "AUDIT"
RANDOM_HEX_DIGITS: Final = 24
"""How long a marker's random part is: 96 bits, which nothing else will contain by chance."""
_RANDOM_PART: Final = re.compile(rf"[0-9a-f]{{{RANDOM_HEX_DIGITS}}}")
_HEAD_HEX_DIGITS: Final = 8
"""A marker cut short (``AUDIT-apikey-3f9a1b2c…``) still shows its kind and 32 random bits."""
_TAIL_HEX_DIGITS: Final = 12
"""A marker's end alone (``…9a1b2c3d4e5f``): 48 random bits, never there by chance even among
Ray's hex ids."""
_EXCERPT_CHARS: Final = 60


def marker(kind: str, suffix: str = "") -> str:
    """A recognisable fake secret: ``AUDIT-<kind>-<24 random hex digits><suffix>`` (*suffix*
    adds characters that URL-encoding changes, e.g. ``+/=`` as in base64 tokens)."""
    return f"{MARKER_PREFIX}-{kind}-{random_source.token_hex(RANDOM_HEX_DIGITS // 2)}{suffix}"


def _base64_cores(raw: bytes, alphabet: bytes | None) -> dict[str, bytes]:
    """The characters of base64(… + *raw* + …) that depend on *raw* alone, for each of the
    three offsets (mod 3) at which *raw* can start inside the encoded bytes."""
    cores: dict[str, bytes] = {}
    bits = 8 * len(raw)
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw, altchars=alphabet).rstrip(b"=")
        first = -(-8 * offset // 6)  # the first character after the prefix's bits
        last = (8 * offset + bits) // 6  # past the last character within the secret's bits
        name = "base64url" if alphabet else "base64"
        cores[f"{name}@{offset}"] = encoded[first:last]
    return cores


def encoded_forms(value: str) -> dict[str, bytes]:
    """Every form of *value* the scanner looks for, by name (``raw``, ``hex``, ``HEX``,
    ``base64@0``…, ``base64url@0``…, ``url``, ``url+``, ``json``, ``json/``; for a marker also
    ``random part``, ``head`` (cut short after 8 random digits) and ``tail`` (its last 12
    random digits on)); forms identical to another are listed once, under the first name."""
    raw = value.encode()
    candidates: dict[str, bytes] = {
        "raw": raw,
        "hex": raw.hex().encode(),
        "HEX": raw.hex().upper().encode(),
        **_base64_cores(raw, None),
        **_base64_cores(raw, b"-_"),
        "url": quote(value, safe="").encode(),
        "url+": quote_plus(value, safe="").encode(),
        "json": json.dumps(value)[1:-1].encode(),
        "json/": json.dumps(value)[1:-1].replace("/", "\\/").encode(),
    }
    if (random_part := _RANDOM_PART.search(value)) is not None:
        start, end = random_part.span()
        candidates["random part"] = random_part.group().encode()
        candidates["head"] = value[: start + _HEAD_HEX_DIGITS].encode()
        candidates["tail"] = value[end - _TAIL_HEX_DIGITS :].encode()
    forms: dict[str, bytes] = {}
    for name, form in candidates.items():
        if form and form not in forms.values():
            forms[name] = form
    return forms


@dataclass(frozen=True, slots=True)
class Leak:
    """A secret found: which one, in which form, where (a source and its line, from 1), and
    the text around it with every secret masked."""

    secret: str
    form: str
    source: str
    line: int
    excerpt: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.secret} ({self.form}) in {self.excerpt!r}"


class SecretScanner:
    """Looks for every form of each named secret in what it is given."""

    def __init__(self, secrets: Mapping[str, str]) -> None:
        if not secrets:
            raise ValueError("no secrets to look for")
        self.secrets = dict(secrets)
        self._forms = [
            (name, form_name, form)
            for name, value in secrets.items()
            for form_name, form in encoded_forms(value).items()
        ]

    def find(self, source: str, data: bytes | str) -> list[Leak]:
        """Every occurrence of a secret in *data*, in any form, named by *source*."""
        content = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
        leaks: list[Leak] = []
        spans: list[tuple[int, int]] = []  # found already: a form inside one is not a leak again
        for name, form_name, form in self._forms:
            start = content.find(form)
            while start != -1:
                end = start + len(form)
                if not any(a <= start and end <= b for a, b in spans):
                    spans.append((start, end))
                    line = content.count(b"\n", 0, start) + 1
                    excerpt = self._excerpt(content, start)
                    leaks.append(Leak(name, form_name, source, line, excerpt))
                start = content.find(form, end)
        return leaks

    def mask(self, text: str) -> str:
        """*text* with every form of every secret replaced by ``<name:form>``."""
        content = text.encode("utf-8", "surrogateescape")
        for name, form_name, form in sorted(self._forms, key=lambda f: -len(f[2])):
            content = content.replace(form, f"<{name}:{form_name}>".encode())
        return content.decode("utf-8", "replace")

    def _excerpt(self, content: bytes, start: int) -> str:
        around = content[max(0, start - _EXCERPT_CHARS) : start + 2 * _EXCERPT_CHARS]
        return self.mask(around.decode("utf-8", "replace"))


@dataclass
class Tally:
    """What one kind of place held: how many items (files, rows, answers …), lines and bytes."""

    items: int = 0
    lines: int = 0
    bytes: int = 0

    def __str__(self) -> str:
        return f"{self.items} items, {self.lines} lines, {self.bytes} bytes"


@dataclass
class Scan:
    """Scans items by kind of place, counting what it read and keeping every leak."""

    scanner: SecretScanner
    tallies: dict[str, Tally] = field(default_factory=dict)
    leaks: list[Leak] = field(default_factory=list)

    def item(self, place: str, source: str, data: bytes | str) -> list[Leak]:
        """Scan one item of *place* (``"ray logs"``, ``"sql rows"`` …) named *source*; its
        leaks (also kept in :attr:`leaks`)."""
        content = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
        tally = self.tallies.setdefault(place, Tally())
        tally.items += 1
        tally.lines += content.count(b"\n") + (1 if content and not content.endswith(b"\n") else 0)
        tally.bytes += len(content)
        found = self.scanner.find(f"{place}: {source}", content)
        self.leaks.extend(found)
        return found

    def tree(self, place: str, root: Path) -> list[Path]:
        """Scan every regular file under *root* as an item of *place*; the files read."""
        files = sorted(path for path in root.rglob("*") if path.is_file() and not path.is_symlink())
        for path in files:
            try:
                content = path.read_bytes()
            except OSError:  # gone meanwhile, or a socket
                continue
            self.item(place, str(path.relative_to(root)), content)
        return files

    def count(self, place: str) -> Tally:
        """What was read of *place* (nothing yet: all zero)."""
        return self.tallies.get(place, Tally())

    def report(self, limit: int = 40) -> str:
        """The leaks, one a line, secrets masked (at most *limit*, then how many more)."""
        lines = [self.scanner.mask(str(leak)) for leak in self.leaks[:limit]]
        if len(self.leaks) > limit:
            lines.append(f"… and {len(self.leaks) - limit} more")
        return "\n".join(lines)

    def summary(self) -> str:
        """One line per place: what was read."""
        return "\n".join(f"{place}: {tally}" for place, tally in self.tallies.items())


def planted(data: bytes, secret: str, form: str = "raw") -> bytes:
    """*data* with *secret*, in *form* (see :func:`encoded_forms`), put in its middle: a copy
    to prove a check would see a secret there."""
    middle = len(data) // 2
    return data[:middle] + encoded_forms(secret)[form] + data[middle:]
