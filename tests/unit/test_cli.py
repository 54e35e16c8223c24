from __future__ import annotations

import pytest

from server.cli import parse_args


@pytest.mark.parametrize("post", ["-x1Yz_ab", "--Qw3", "plainId"])
def test_review_takes_a_post_id_that_starts_with_a_dash(post: str) -> None:
    # Post ids are URL-safe base64: one in 64 starts with "-", which argparse alone
    # reads as an unknown option and exits with status 2 (seen in CI as a flaky
    # `arbor review remove <id>`).
    for action in ("keep", "remove"):
        args = parse_args(["review", action, post])
        assert (args.command, args.action, args.post) == ("review", action, post)


def test_review_still_rejects_an_unknown_action() -> None:
    with pytest.raises(SystemExit) as exc:
        parse_args(["review", "delete", "-x1Yz_ab"])
    assert exc.value.code == 2
