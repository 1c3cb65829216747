"""The area rules and the summary table (pure; runs in `make test`, without the suite)."""

from __future__ import annotations

import pytest

from s3compat.areas import AREAS, CORE_AREAS, area_of, format_table, summarize


@pytest.mark.parametrize(
    ("name", "markers", "module", "area"),
    [
        ("test_bucket_list_empty", (), "test_s3", "bucket-listing"),
        ("test_bucket_listv2_many", ("list_objects_v2",), "test_s3", "bucket-listing"),
        ("test_bucket_create_naming_good_long_63", (), "test_s3", "buckets"),
        ("test_object_write_read_update_read_delete", (), "test_s3", "objects"),
        ("test_ranged_request_invalid_range", (), "test_s3", "ranged-get"),
        ("test_object_copy_zero_size", ("copy",), "test_s3", "copy"),
        ("test_multipart_copy_small", ("copy",), "test_s3", "copy"),
        ("test_multipart_upload_small", (), "test_s3", "multipart"),
        ("test_multi_object_delete", (), "test_s3", "delete-many"),
        ("test_object_set_get_metadata_none_to_good", (), "test_s3", "metadata"),
        # a condition on a copy is about conditions, not copies (rule order)
        ("test_copy_object_ifmatch_good", ("copy",), "test_s3", "conditional"),
        ("test_put_current_object_if_match", ("conditional_write",), "test_s3", "versioning"),
        ("test_object_checksum_sha256", ("checksum",), "test_s3", "checksums"),
        ("test_object_acl_canned", (), "test_s3", "acl"),
        ("test_encryption_sse_c_present", (), "test_s3", "encryption"),
        (
            "test_copy_enc[sse-c-unencrypted-STANDARD-STANDARD-1]",
            ("encryption",),
            "test_s3",
            "encryption",
        ),
        ("test_object_create_bad_md5_bad", (), "test_headers", "headers"),
        ("test_object_create_bad_date_none_aws2", (), "test_headers", "auth-v2"),
    ],
)
def test_area_of(name: str, markers: tuple[str, ...], module: str, area: str) -> None:
    assert area_of(name, markers, module) == area


def test_core_areas_are_areas() -> None:
    assert CORE_AREAS <= set(AREAS)


def test_summary_counts_and_table() -> None:
    rows = [
        {"area": "copy", "outcome": "passed"},
        {"area": "copy", "outcome": "failed"},
        {"area": "acl", "outcome": "skipped"},
    ]
    summary = summarize(rows)
    assert summary["copy"].counts == {"passed": 1, "failed": 1, "error": 0, "skipped": 0}
    table = format_table(summary)
    assert "= core" in table and "= other" in table
    assert table.splitlines()[-1].split() == ["=", "all", "1", "1", "0", "1", "3"]
