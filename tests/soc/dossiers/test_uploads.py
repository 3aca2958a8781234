"""Uploads: size and type limits, content checks, path tricks refused, nothing overwritten."""

from __future__ import annotations

import hashlib
import io
import stat
from pathlib import Path

import pytest

from soc.db.dossiers import Dossier
from soc.dossiers.engine import DossierError
from tests.soc.dossiers.conftest import World, pdf


@pytest.fixture
def draft(world: World) -> Dossier:
    return world.dossier(3)


def upload(w: World, filename: str, data: io.BytesIO, kind: str = "design") -> str:
    d = w.service.visible(w.session, w["officer_a"])[0]
    try:
        w.service.upload(w.session, w["officer_a"], d.id, kind=kind, filename=filename, stream=data,
                         expected_version=d.version)  # fmt: skip
    except DossierError as exc:
        return exc.key
    return "ok"


def stored_files(w: World) -> list[Path]:
    root = w.service.upload_dir
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_it_stores_a_document_with_its_hash_under_a_generated_name(world: World, draft: Dossier) -> None:
    data = b"%PDF-1.7\nthiet ke\n"

    assert upload(world, "Thiết kế hệ thống.pdf", io.BytesIO(data)) == "ok"

    doc = draft.documents[0]
    path, _ = world.service.document_path(world.session, world["officer_a"], doc.id)
    assert path.read_bytes() == data
    assert doc.sha256 == hashlib.sha256(data).hexdigest()
    assert (doc.filename, doc.content_type, doc.size_bytes) == (
        "Thiết kế hệ thống.pdf",
        "application/pdf",
        18,
    )
    assert path.name.endswith(".pdf.bin")
    assert "Thiết" not in path.name
    assert path.parent == world.service.upload_dir / str(doc.dossier_id)


def test_it_never_stores_a_document_as_executable(world: World, draft: Dossier) -> None:
    upload(world, "a.pdf", pdf())

    mode = stored_files(world)[0].stat().st_mode
    assert not mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def test_it_refuses_an_oversized_file_and_keeps_nothing(world: World, draft: Dossier) -> None:
    big = io.BytesIO(b"%PDF-1.7\n" + b"x" * (64 * 1024))

    assert upload(world, "big.pdf", big) == "upload_too_large"
    assert stored_files(world) == []
    assert draft.documents == []


@pytest.mark.parametrize("name", ["script.sh", "page.html", "tool.exe", "noextension", "archive.pdf.php"])
def test_it_refuses_a_type_not_on_the_list(world: World, draft: Dossier, name: str) -> None:
    assert upload(world, name, pdf()) == "upload_type"


def test_it_refuses_content_that_does_not_match_its_extension(world: World, draft: Dossier) -> None:
    assert upload(world, "fake.pdf", io.BytesIO(b"<html><script>alert(1)</script>")) == "upload_content"
    assert stored_files(world) == []


def test_it_refuses_an_empty_file(world: World, draft: Dossier) -> None:
    assert upload(world, "empty.pdf", io.BytesIO(b"")) == "upload_content"


@pytest.mark.parametrize(
    "name",
    ["../../etc/passwd.pdf", "a/b.pdf", "..\\..\\win.pdf", "C:evil.pdf", "x.pdf\x00.exe", ".hidden.pdf",
     "ok\u202efdp.exe", "", "   "],
)  # fmt: skip
def test_it_refuses_path_tricks_in_file_names(world: World, draft: Dossier, name: str) -> None:
    assert upload(world, name, pdf()) == "upload_name"
    assert stored_files(world) == []


def test_it_keeps_both_files_when_two_share_a_name(world: World, draft: Dossier) -> None:
    assert upload(world, "thiet-ke.pdf", pdf("v1")) == "ok"
    assert upload(world, "thiet-ke.pdf", pdf("v2")) == "ok"

    docs = draft.documents
    assert [d.filename for d in docs] == ["thiet-ke.pdf", "thiet-ke.pdf"]
    assert len({d.stored_name for d in docs}) == 2
    assert len(stored_files(world)) == 2


def test_it_refuses_the_same_content_twice_and_keeps_the_first(world: World, draft: Dossier) -> None:
    data = b"%PDF-1.7\nsame\n"
    assert upload(world, "first.pdf", io.BytesIO(data)) == "ok"

    assert upload(world, "second.pdf", io.BytesIO(data)) == "upload_duplicate"
    assert [d.filename for d in draft.documents] == ["first.pdf"]
    assert len(stored_files(world)) == 1


def test_it_refuses_an_upload_on_a_stale_view(world: World, draft: Dossier) -> None:
    d = draft
    seen = d.version
    world.upload("officer_a", d, "design")

    with pytest.raises(DossierError) as caught:
        world.service.upload(world.session, world["officer_a"], d.id, kind="other", filename="x.pdf",
                             stream=pdf(), expected_version=seen)  # fmt: skip
    assert caught.value.key == "stale"


def test_it_refuses_an_unknown_document_kind(world: World, draft: Dossier) -> None:
    assert upload(world, "x.pdf", pdf(), kind="selfie") == "upload_kind"
