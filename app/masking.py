"""Masking a server's secrets in job output, even when one is split across two reads."""

from __future__ import annotations

from typing import Final

MASK: Final = "********"


class SecretMasker:
    """Feed text in order; get back text with every secret replaced by ``********``.

    A read may end in the middle of a secret, so a tail that could be the start of one is held back until the
    next read (or the end) shows what follows. Text that cannot begin a secret is never delayed.
    """

    def __init__(self, secrets: list[str]) -> None:
        # Longest first, so that a secret containing another is masked whole.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)
        self._pending = ""

    def feed(self, text: str) -> str:
        if not self._secrets:
            return text
        text = self._mask(self._pending + text)
        hold = self._possible_start(text)
        self._pending = text[len(text) - hold :] if hold else ""
        return text[: len(text) - hold] if hold else text

    def flush(self) -> str:
        rest, self._pending = self._pending, ""
        return rest

    def held(self) -> str:
        """What ``feed`` holds back: the tail that could begin a secret."""
        return self._pending

    def _mask(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    def _possible_start(self, text: str) -> int:
        """Length of the longest tail of ``text`` that is a proper prefix of a secret."""
        longest = 0
        for secret in self._secrets:
            for size in range(min(len(secret) - 1, len(text)), longest, -1):
                if secret.startswith(text[-size:]):
                    longest = size
                    break
        return longest
