"""The worker protocol's pure parts: answer lines, and the agent's script text."""

from __future__ import annotations

import pytest

from pachstream.worker.agent import AGENT, parse_line

LINES = [
    # (line, expected (word, id, key))
    ("ready\n", ("ready", "", "")),
    ("run 3f2a\n", ("run", "3f2a", "")),
    ("done 3f2a 9c9c\n", ("done", "3f2a", "9c9c")),
    ("done 3f2a\n", ("", "", "")),  # no key: never taken for an answer
    ("done 3f2a 9c9c extra\n", ("", "", "")),
    ("done 3f2a 9c9c 0 0\n", ("done", "3f2a", "9c9c")),  # with its status and timeout flag
    ("done 3f2a 9c9c 137 1\n", ("done", "3f2a", "9c9c")),
    ("done 3f2a 9c9c -1 0\n", ("", "", "")),
    ("done 3f2a 9c9c 0 2\n", ("", "", "")),
    ("ready now\n", ("", "", "")),
    ("run\n", ("", "", "")),
    ("", ("", "", "")),
    ("\x00\xff garbage", ("", "", "")),
    ("RUN 3f2a\n", ("", "", "")),
]


@pytest.mark.parametrize(("line", "expected"), LINES, ids=[repr(c[0]) for c in LINES])
def test_answer_lines(line, expected):
    assert parse_line(line) == expected


@pytest.mark.parametrize(
    "needle",
    [
        "exec 3<>/ctl/in 4<>/ctl/out",  # both ends held: no side blocks or sees EOF
        "case $id in ''|*/*|.*) continue ;; esac",  # ids never leave /ctl
        "kill -9 -$p || kill -9 $p",  # at its timeout the run is killed (its session too)
        '[ "$id" = "$l" ] && continue',  # a run is never replayed by a line user code wrote
        "S=; [ $$ -le 2 ] || S=",  # the sweep, only as the first process of a namespace
        '[ -z "$S" ] && kill -9 -1',
        "while kill -0 -1",  # and answers once what it killed is gone
        'echo "done $id $key $c $o"',  # key and status travel back only with the real answer
    ],
)
def test_the_agent_keeps_its_promises(needle):
    assert needle in AGENT
