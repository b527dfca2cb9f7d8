"""Server-side masking of personal data per audience, and the leak scanner used by wall/export tests."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.masking import (
    COMPOUND_SURNAMES,
    Audience,
    FieldKind,
    Leak,
    find_leaks,
    id_check_digit_ok,
    mask_card,
    mask_child,
    mask_id_card,
    mask_name,
    mask_phone,
    mask_record,
    mask_value,
    mask_visitor_plate,
    split_surname,
)

WALL, OFF, FULL = Audience.WALL, Audience.OFFICER, Audience.FULL

VALID_ID = "440304198805123455"
VALID_ID_X = "11010519491231002X"


@pytest.mark.parametrize(("name", "wall", "officer"), [
    ("张明", "张*", "张*"),
    ("李小龙", "李**", "李*龙"),
    ("张小龙", "张**", "张*龙"),
    ("王大小明", "王***", "王**明"),
    ("欧阳明", "欧阳*", "欧阳*"),
    ("欧阳小明", "欧阳**", "欧阳*明"),
    ("司马相如", "司马**", "司马*如"),
    ("诸葛孔明明", "诸葛***", "诸葛**明"),
    ("欧阳", "欧*", "欧*"),  # two characters: never a compound surname alone
    (" 张明 ", "张*", "张*"),
    ("张", "张", "张"),
    ("阿依古丽·买买提", "阿***·***", "阿***·**提"),
    ("Zhang Ming", "Z**** ****", "Z**** M***"),
    ("Anna", "A***", "A***"),
    ("Mary-Jane O'Neil", "M***-**** *'****", "M***-J*** O'N***"),
])
def test_mask_name(name: str, wall: str, officer: str) -> None:
    assert mask_name(name, WALL) == wall
    assert mask_name(name, OFF) == officer
    assert mask_name(name, FULL) == name


@pytest.mark.parametrize(("name", "officer"), [
    ("张明", "张*"), ("张小龙", "张**"), ("欧阳小明", "欧阳**"), ("欧阳明", "欧阳*"), ("Anna Li", "A*** **"),
])
def test_mask_child_never_on_a_wall(name: str, officer: str) -> None:
    assert mask_child(name, WALL) is None
    assert mask_child(name, OFF) == officer
    assert mask_child(name, FULL) == name


@pytest.mark.parametrize(("value", "officer"), [
    (VALID_ID, "440304********3455"),
    (VALID_ID_X, "110105********002X"),
    ("11010519491231002x", "110105********002x"),
    ("4403 0419 8805 1234 55", "440304********3455"),  # spaces removed before masking
    ("110105491231002", "110105*****1002"),  # legacy 15-digit number
    ("1234567", "***4567"),  # too short for first 6 / last 4
    ("1234", "****"),
])
def test_mask_id_card(value: str, officer: str) -> None:
    assert mask_id_card(value, WALL) is None
    assert mask_id_card(value, OFF) == officer
    assert mask_id_card(value, FULL) == value


@pytest.mark.parametrize(("value", "masked"), [
    ("13812345678", "138****5678"),
    ("138-1234-5678", "138****5678"),
    ("138 1234 5678", "138****5678"),
    ("010-12345678", "010****5678"),
    ("12345678", "****5678"),
    ("110", "***"),
])
def test_mask_phone(value: str, masked: str) -> None:
    assert mask_phone(value, WALL) == masked
    assert mask_phone(value, OFF) == masked
    assert mask_phone(value, FULL) == value


@pytest.mark.parametrize(("value", "wall", "officer"), [
    ("6222021234563256", "****3256", "6222********3256"),
    ("6222 0212 3456 3256", "****3256", "6222********3256"),
    ("A0123456789", "****6789", "A012***6789"),
    ("123456789", "****6789", "1234*6789"),
    ("12345678", "****5678", "****5678"),
    ("123256", "****3256", "**3256"),
    ("3256", "****", "****"),
    ("12", "****", "**"),
])
def test_mask_card(value: str, wall: str, officer: str) -> None:
    assert mask_card(value, WALL) == wall
    assert mask_card(value, OFF) == officer
    assert mask_card(value, FULL) == value


@pytest.mark.parametrize(("value", "masked"), [
    ("京A12348", "京A1***8"),
    ("京A·12348", "京A·1***8"),
    ("京AD12348", "京AD****8"),
    ("京A·D12348", "京A·D****8"),
    ("粤B12345F", "粤B1****F"),
    ("京a12348", "京A1***8"),
    ("京A", "京A"),
])
def test_mask_visitor_plate(value: str, masked: str) -> None:
    assert mask_visitor_plate(value, WALL) == masked
    assert mask_visitor_plate(value, OFF) == masked
    assert mask_visitor_plate(value, FULL) == value


@pytest.mark.parametrize("fn", [mask_name, mask_child, mask_id_card, mask_phone, mask_card, mask_visitor_plate])
@pytest.mark.parametrize("audience", list(Audience))
@pytest.mark.parametrize("value", [None, ""])
def test_none_and_empty_pass_through(fn: Callable[[str | None, Audience], str | None], audience: Audience,
                                     value: str | None) -> None:
    assert fn(value, audience) == value


def test_audience_accepts_plain_strings_and_rejects_unknown() -> None:
    assert mask_name("张小龙", "officer") == "张*龙"  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        mask_name("张小龙", "guest")  # type: ignore[arg-type]


def test_split_surname_and_compound_set() -> None:
    assert {"欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒",
            "夏侯", "轩辕", "令狐", "端木", "独孤", "南宫", "西门", "万俟", "闻人", "赫连", "澹台", "濮阳",
            "申屠"} <= COMPOUND_SURNAMES
    assert split_surname("欧阳明") == ("欧阳", "明")
    assert split_surname("欧阳") == ("欧", "阳")
    assert split_surname("张小龙") == ("张", "小龙")


@pytest.mark.parametrize(("kind", "value", "wall", "officer"), [
    (FieldKind.NAME, "李小龙", "李**", "李*龙"),
    (FieldKind.CHILD, "李小龙", None, "李**"),
    (FieldKind.ID_CARD, VALID_ID_X, None, "110105********002X"),
    (FieldKind.PHONE, "13812345678", "138****5678", "138****5678"),
    (FieldKind.PHONE, 13812345678, "138****5678", "138****5678"),  # a number stored as int still masks
    (FieldKind.CARD, "6222021234563256", "****3256", "6222********3256"),
    (FieldKind.VISITOR_PLATE, "京AD12348", "京AD****8", "京AD****8"),
    (FieldKind.FLEET_PLATE, "京A·G1234", "京A·G1234", "京A·G1234"),
    (FieldKind.PHOTO, "photos/0012.jpg", None, None),
    (FieldKind.PLAIN, 42, 42, 42),
])
def test_mask_value_dispatch(kind: FieldKind, value: object, wall: object, officer: object) -> None:
    assert mask_value(kind, value, WALL) == wall
    assert mask_value(kind, value, OFF) == officer
    assert mask_value(kind, value, FULL) == value


def test_mask_record_drops_none_copies_others_and_does_not_mutate() -> None:
    record = {"name": "欧阳小明", "child": "欧阳小红", "id": VALID_ID, "phone": "13812345678",
              "photo": "p/1.jpg", "plate": "京A12348", "car": "京A·G1234", "dept": "办公室", "count": 3}
    kinds = {"name": FieldKind.NAME, "child": FieldKind.CHILD, "id": FieldKind.ID_CARD, "phone": FieldKind.PHONE,
             "photo": FieldKind.PHOTO, "plate": FieldKind.VISITOR_PLATE, "car": FieldKind.FLEET_PLATE,
             "missing": FieldKind.NAME}
    before = dict(record)
    assert mask_record(record, kinds, WALL) == {"name": "欧阳**", "phone": "138****5678", "plate": "京A1***8",
                                             "car": "京A·G1234", "dept": "办公室", "count": 3}
    assert mask_record(record, kinds, OFF) == {"name": "欧阳*明", "child": "欧阳**", "id": "440304********3455",
                                             "phone": "138****5678", "plate": "京A1***8", "car": "京A·G1234",
                                             "dept": "办公室", "count": 3}
    full = mask_record(record, kinds, FULL)
    assert full == record and full is not record
    assert record == before
    assert mask_record({"name": None}, {"name": FieldKind.NAME}, WALL) == {}


def test_find_leaks_phone_in_chinese_text() -> None:
    assert find_leaks("联系人张三13812345678。") == [Leak("phone", "13812345678", 5)]
    assert find_leaks("单号138123456789，已脱敏138****5678，座机12345678901") == []


def test_find_leaks_id_numbers_need_a_valid_check_digit() -> None:
    text = f"身份证{VALID_ID}，另{VALID_ID_X.lower()}；错误440304198805123456；工单号4403041988051234550"
    assert find_leaks(text) == [Leak("id_card", VALID_ID, 3), Leak("id_card", VALID_ID_X.lower(), 23)]
    assert id_check_digit_ok(VALID_ID_X) and not id_check_digit_ok("440304198805123456")
    assert find_leaks(mask_id_card(VALID_ID, OFF) or "") == []


def test_find_leaks_known_names_longest_first() -> None:
    text = "值班:欧阳小明、张三丰；张* 与 李**"
    assert find_leaks(text, ["张三", "张三丰", "欧阳小明", "李四", "王", ""]) == [
        Leak("name", "欧阳小明", 3), Leak("name", "张三丰", 8)]


def test_find_leaks_listed_plates_with_or_without_dot() -> None:
    text = "访客车辆京AD12348入场，京A·D12348离场，公务车京A·G1234，已脱敏京A1***8"
    assert find_leaks(text, plates=["京A·D12348", "京A12348"]) == [
        Leak("plate", "京AD12348", 4), Leak("plate", "京A·D12348", 15)]
    assert find_leaks(text) == []


def test_find_leaks_scans_thousands_of_names_fast() -> None:
    surnames, given_chars = "张王李赵刘陈杨黄周吴徐孙胡朱高林何郭马罗", "明华伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛超"
    names = ["".join(p) for p in itertools.product(surnames, given_chars, given_chars[:8])][:3000]
    assert len(names) == 3000
    payload = ("今日来访" + "".join(mask_name(n, WALL) or "" for n in names[:400]) + "门岗正常。") * 5 + names[-1]
    start = time.perf_counter()
    leaks = find_leaks(payload, names)
    assert time.perf_counter() - start < 0.2  # typically a few milliseconds
    assert leaks == [Leak("name", names[-1], len(payload) - 3)]


_SINGLE = list("张王李赵刘陈杨黄周吴孙")  # none of these starts a compound surname
_GIVEN = list("明华伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛超小龙阳")
names_st = st.builds(lambda s, g: (s, "".join(g)), st.sampled_from(_SINGLE + sorted(COMPOUND_SURNAMES)),
                     st.lists(st.sampled_from(_GIVEN), min_size=1, max_size=2))


@settings(max_examples=100, deadline=None)
@given(names_st)
def test_wall_name_masks_every_given_character(parts: tuple[str, str]) -> None:
    surname, given_name = parts
    name = surname + given_name
    masked = mask_name(name, WALL)
    assert masked is not None and len(masked) == len(name)
    assert masked == surname + "*" * len(given_name)
    assert find_leaks(masked, [name]) == []


@settings(max_examples=100, deadline=None)
@given(st.integers(3, 9), st.integers(0, 999_999_999))
def test_wall_phone_never_leaks(second: int, rest: int) -> None:
    mobile = f"1{second}{rest:09d}"
    masked = mask_phone(mobile, WALL)
    assert masked == mobile[:3] + "****" + mobile[-4:]
    assert find_leaks(f"联系人{masked}。") == []
