"""Secrets echoed by a job never reach storage, whatever the read boundaries."""

from __future__ import annotations

import pytest

from app.masking import MASK, SecretMasker
from app.workers.recorder import StreamText


def run(masker: SecretMasker, pieces: list[str]) -> str:
    return "".join(masker.feed(piece) for piece in pieces) + masker.flush()


@pytest.mark.parametrize("cut", range(1, 20))
def test_a_secret_split_anywhere_is_masked(cut: int) -> None:
    text = "pw=hunter2-secret and again hunter2-secret."
    assert run(SecretMasker(["hunter2-secret"]), [text[:cut], text[cut:]]) == f"pw={MASK} and again {MASK}."


def test_text_that_cannot_start_a_secret_is_not_held_back() -> None:
    masker = SecretMasker(["s3cret"])
    assert masker.feed("hello world\n") == "hello world\n"
    assert masker.feed("almost s3") == "almost "  # "s3" may be the start of the secret
    assert masker.feed("x\n") == "s3x\n"  # it was not


def test_several_secrets_longest_first_and_none() -> None:
    assert run(SecretMasker(["abc", "abcdef"]), ["xx abcdef yy abc"]) == f"xx {MASK} yy {MASK}"
    assert run(SecretMasker([]), ["a", "b"]) == "ab"
    assert run(SecretMasker(["", "k"]), ["kkk"]) == MASK * 3


def test_a_lost_connection_resumes_before_what_the_masker_held_back() -> None:
    """The worker lets go of a job whose connection dropped: the claim that re-attaches reads again, from its
    stored offset, the bytes not yet released (the start of a possible secret, a split character), so that a
    secret printed across the two claims is still masked whole."""
    first = StreamText(["hunter2"])
    released = first.feed(b"password: hun")
    released += first.feed("é".encode()[:1])  # half a character: not a secret's start, but not decodable yet
    assert released == "password: hun"[: -len("hun")]
    first.end_offset = len(b"password: hun") + 1
    resume = first.resume_offset()
    assert resume == len(b"password: ")

    # The new claim gets everything from the resume offset, the rest of the line included.
    printed = b"password: hunter2\n"
    second = StreamText(["hunter2"])
    assert released + second.feed(printed[resume:]) + second.flush() == "password: ********\n"
