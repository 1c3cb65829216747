import pytest

from pachstream.errors import InvalidInput, InvalidName
from pachstream.names import (
    MAX_NAME_LENGTH,
    is_commit_id,
    sanitize_name,
    validate_branch_name,
    validate_repo_name,
)

VALID_NAMES = [
    "images",
    "Images",
    "edges_2024",
    "my-repo",
    "a",
    "0",
    "_",
    "-",
    "--leading-dash",
    "x" * MAX_NAME_LENGTH,
]


@pytest.mark.parametrize("name", VALID_NAMES)
def test_valid_repo_names_are_returned_unchanged(name):
    assert validate_repo_name(name) == name


@pytest.mark.parametrize("name", [*VALID_NAMES, "feature-x", "0123456789abcdef0123456789abcde"])
def test_valid_branch_names_are_returned_unchanged(name):
    assert validate_branch_name(name) == name


# (name, expected message fragments)
BAD_NAMES = [
    ("", ["name ''", "cannot be empty"]),
    ("my repo", ["'my repo'", "' ' at position 2", "e.g. 'my_repo'"]),
    ("a.b", ["'a.b'", "'.' at position 1", "e.g. 'a_b'"]),
    ("a/b", ["'a/b'", "'/' at position 1"]),
    ("a@b", ["'a@b'", "'@' at position 1"]),
    ("a:b", ["'a:b'", "':' at position 1"]),
    ("a^", ["'a^'", "'^' at position 1"]),
    ("a~1", ["'a~1'", "'~' at position 1"]),
    ("données", ["'données'", "'é' at position 4", "e.g. 'donn_es'"]),
    ("数据", ["'数据'", "'数' at position 0"]),
    ("a\x00b", ["'a\\x00b'", "'\\x00' at position 1"]),
    ("tab\t", ["'\\t' at position 3"]),
    ("ｆｕｌｌ", ["'ｆ' at position 0"]),
    ("x" * (MAX_NAME_LENGTH + 1), ["64 characters is 1 over the limit of 63"]),
]


@pytest.mark.parametrize(
    ("kind", "validate"), [("repo", validate_repo_name), ("branch", validate_branch_name)]
)
@pytest.mark.parametrize(("name", "fragments"), BAD_NAMES)
def test_bad_names_are_refused_with_the_value_and_a_fix(kind, validate, name, fragments):
    with pytest.raises(InvalidName) as info:
        validate(name)
    message = str(info.value)
    assert message.startswith(f"{kind} name ")
    for fragment in fragments:
        assert fragment in message
    assert info.value.name == name
    assert info.value.kind == kind
    assert isinstance(info.value, InvalidInput)


@pytest.mark.parametrize("value", [None, 3, b"images"])
def test_non_text_names_are_refused(value):
    with pytest.raises(InvalidName, match="a name is text"):
        validate_repo_name(value)


COMMIT_IDS = [
    "0123456789abcdef0123456789abcdef",
    "0123456789ABCDEF0123456789ABCDEF",
    "ffffffffffffffffffffffffffffffff",
    "00000000000000000000000000000000",
]


@pytest.mark.parametrize("name", COMMIT_IDS)
def test_branch_names_that_look_like_commit_ids_are_refused(name):
    with pytest.raises(InvalidName) as info:
        validate_branch_name(name)
    assert str(info.value) == (
        f"branch name '{name}': 32 hex characters look like a commit id, so 'repo@{name}' "
        f"would name a commit; choose a name with a non-hex character, e.g. 'b-{name[:8]}'"
    )


@pytest.mark.parametrize("name", COMMIT_IDS)
def test_repo_names_may_be_hex(name):
    assert validate_repo_name(name) == name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0123456789abcdef0123456789abcdef", True),
        ("0123456789ABCDEF0123456789abcdef", True),
        ("0123456789abcdef0123456789abcde", False),
        ("0123456789abcdef0123456789abcdef0", False),
        ("0123456789abcdef0123456789abcdeg", False),
        ("master", False),
        ("", False),
    ],
)
def test_is_commit_id(text, expected):
    assert is_commit_id(text) is expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [("my repo", "my_repo"), ("a.b/c", "a_b_c"), ("ok-name_1", "ok-name_1"), ("x" * 70, "x" * 63)],
)
def test_sanitize_name(name, expected):
    assert sanitize_name(name) == expected
    assert validate_repo_name(sanitize_name(name)) == expected


def test_repo_error_message_exact():
    with pytest.raises(InvalidName) as info:
        validate_repo_name("my repo")
    assert str(info.value) == (
        "repo name 'my repo': character ' ' at position 2 is not allowed; use only ASCII "
        "letters, digits, '_' and '-', e.g. 'my_repo'"
    )
