"""Typed dates, the collection schedule, bookable days and deadlines (today pinned: Fri 2026-11-20)."""

from datetime import date, datetime

import pytest

from common.booking import dates
from common.booking.dates import (JST, Schedule, available_dates, change_deadline, format_date, is_bookable,
                               parse_date)

TODAY = date(2026, 11, 20)  # a Friday; Mon 11-23 is 勤労感謝の日
WARDS = ("中央区", "北区", "東区", "白石区", "厚別区", "豊平区", "清田区", "南区", "西区", "手稲区")


@pytest.fixture(scope="module")
def schedule():
    return Schedule.load()  # the shipped sample: 中央区 collects on 月・木


@pytest.fixture
def without_timex(monkeypatch):
    """As in the gateway environment, which has no ja-timex."""
    monkeypatch.setattr(dates, "_timex_parser", [None])


@pytest.mark.parametrize("text, expected", [
    ("12月3日", date(2026, 12, 3)),
    ("１２月３日", date(2026, 12, 3)),
    ("12/3", date(2026, 12, 3)),
    ("12月3日(木)", date(2026, 12, 3)),
    ("12月の3日でお願いします", date(2026, 12, 3)),
    ("3日", date(2026, 12, 3)),  # the next 3rd
    ("25日", date(2026, 11, 25)),
    ("2026年12月3日", date(2026, 12, 3)),
    ("2026/12/3", date(2026, 12, 3)),
    ("令和8年12月3日", date(2026, 12, 3)),
    ("R8.12.3", date(2026, 12, 3)),
    ("明日", date(2026, 11, 21)),
    ("あした", date(2026, 11, 21)),
    ("あさって", date(2026, 11, 22)),
    ("明後日", date(2026, 11, 22)),
    ("しあさって", date(2026, 11, 23)),
    ("来週の火曜", date(2026, 11, 24)),
    ("来週火曜日", date(2026, 11, 24)),
    ("再来週の月曜日", date(2026, 11, 30)),
    ("火曜", date(2026, 11, 24)),  # the next Tuesday
    ("今週の土曜", date(2026, 11, 21)),
    ("5日後", date(2026, 11, 25)),
    ("来月3日", date(2026, 12, 3)),
    ("1月10日", date(2027, 1, 10)),  # year wrap: no year → the next occurrence
    ("31日", date(2026, 12, 31)),  # November has no 31st
])
def test_typed_dates(text, expected):
    assert parse_date(text, TODAY) == dates.DateResult(expected)


def test_year_wrap_in_december():
    assert parse_date("1月5日", date(2026, 12, 20)).date == date(2027, 1, 5)
    assert parse_date("12月25日", date(2026, 12, 20)).date == date(2026, 12, 25)
    assert parse_date("5日", date(2026, 12, 20)).date == date(2027, 1, 5)
    assert parse_date("来週の月曜", date(2026, 12, 31)).date == date(2027, 1, 4)


def test_kanji_numerals_through_ja_timex():
    assert parse_date("十二月三日", TODAY).date == date(2026, 12, 3)


def test_listed_forms_work_without_ja_timex(without_timex):
    for text, expected in [("12月3日", date(2026, 12, 3)), ("12/3", date(2026, 12, 3)), ("3日", date(2026, 12, 3)),
                           ("令和8年12月3日", date(2026, 12, 3)), ("来週の火曜", date(2026, 11, 24)),
                           ("あさって", date(2026, 11, 22)), ("2026年12月3日", date(2026, 12, 3))]:
        assert parse_date(text, TODAY).date == expected, text
    assert parse_date("十二月三日", TODAY).error  # kanji numerals need ja-timex


@pytest.mark.parametrize("text, words", [
    ("2月30日", ["2月30日", "ありません"]),
    ("13月1日", ["13月", "ありません"]),
    ("12月32日", ["12月32日", "ありません"]),
    ("2027年2月29日", ["2027年2月29日", "ありません"]),
    ("2025年12月3日", ["過ぎた日付"]),
    ("令和元年5月1日", ["過ぎた日付"]),
    ("今週の月曜", ["過ぎています", "11月16日"]),
    ("12月3日(水)", ["木曜日です"]),
    ("ソファ", ["日付が分かりませんでした"]),
    ("", ["日付が分かりませんでした"]),
])
def test_impossible_past_and_unknown_dates(text, words):
    result = parse_date(text, TODAY)
    assert result.date is None and not result.ok
    for word in words:
        assert word in result.error


def test_shipped_schedule_covers_the_ten_wards(schedule):
    assert set(schedule.weekdays) == set(WARDS)
    assert all(len(schedule.weekdays[w]) == 2 for w in WARDS)
    assert all(schedule.capacity(w) == 30 for w in WARDS)
    assert schedule.sample is True
    assert (schedule.lead_days, schedule.deadline_days_before, schedule.deadline_time.hour) == (2, 2, 17)
    assert {"12-29", "12-30", "12-31", "01-01", "01-02", "01-03"} <= schedule.no_collection


def test_available_dates_skip_holidays(schedule):
    now = datetime(2026, 11, 20, 10, 0, tzinfo=JST)
    found = available_dates(schedule, "中央区", TODAY, count=5, now=now)
    # 11-23 (Mon) is 勤労感謝の日
    assert found == [date(2026, 11, 26), date(2026, 11, 30), date(2026, 12, 3), date(2026, 12, 7), date(2026, 12, 10)]
    assert "勤労感謝の日" in is_bookable(schedule, "中央区", date(2026, 11, 23), TODAY)


def test_available_dates_skip_year_end_and_full_days(schedule):
    today = date(2026, 12, 20)
    found = available_dates(schedule, "中央区", today, count=5, counts={date(2026, 12, 24): 30, date(2026, 12, 28): 29})
    # 12-24 full, 12-31 year-end, 01-11 成人の日
    assert found == [date(2026, 12, 28), date(2027, 1, 4), date(2027, 1, 7), date(2027, 1, 14), date(2027, 1, 18)]
    assert "年末年始" in is_bookable(schedule, "中央区", date(2026, 12, 31), today)
    assert "年末年始" in is_bookable(schedule, "北区", date(2027, 1, 1), today)


def test_is_bookable_reasons(schedule):
    assert is_bookable(schedule, "中央区", date(2026, 12, 3), TODAY) is None
    assert "収集日ではありません" in is_bookable(schedule, "中央区", date(2026, 12, 2), TODAY)
    assert "月・木" in is_bookable(schedule, "中央区", date(2026, 12, 2), TODAY)
    assert "過ぎた日付" in is_bookable(schedule, "中央区", date(2026, 11, 19), TODAY)
    assert "締め切りました" in is_bookable(schedule, "中央区", date(2026, 11, 19), date(2026, 11, 18))  # lead time
    assert "まだ受け付けていません" in is_bookable(schedule, "中央区", date(2027, 11, 18), TODAY)
    assert "見つかりません" in is_bookable(schedule, "札幌区", date(2026, 12, 3), TODAY)


def test_deadline_to_the_minute(schedule):
    day = date(2026, 11, 26)  # Thursday
    assert change_deadline(day, schedule) == datetime(2026, 11, 24, 17, 0, tzinfo=JST)
    today = date(2026, 11, 24)
    assert is_bookable(schedule, "中央区", day, today, datetime(2026, 11, 24, 16, 59, tzinfo=JST)) is None
    late = is_bookable(schedule, "中央区", day, today, datetime(2026, 11, 24, 17, 0, tzinfo=JST))
    assert "締め切りました" in late and "17時00分" in late
    assert available_dates(schedule, "中央区", today, 1, now=datetime(2026, 11, 24, 17, 0, tzinfo=JST)) == [
        date(2026, 11, 30)]


def test_schedule_from_a_city_file(tmp_path):
    path = tmp_path / "schedule.yml"
    path.write_text("sample: false\ndaily_capacity: 12\nwards:\n  南区: {weekdays: [水曜日, fri], daily_capacity: 3}\n"
                    "  西区: {weekdays: [月]}\nno_collection: ['2027-02-05']\n"
                    "change_deadline: {days_before: 3, time: '12:30'}\nlead_days: 4\n", encoding="utf-8")
    schedule = Schedule.load(path)
    assert schedule.weekdays["南区"] == (2, 4) and schedule.capacity("南区") == 3 and schedule.capacity("西区") == 12
    assert change_deadline(date(2027, 2, 10), schedule) == datetime(2027, 2, 7, 12, 30, tzinfo=JST)
    assert "お休み" in is_bookable(schedule, "南区", date(2027, 2, 5), date(2027, 1, 20))
    with pytest.raises(ValueError):
        Schedule.from_dict({"wards": {"南区": {"weekdays": ["水木"]}}})


def test_format_date():
    assert format_date(date(2026, 12, 3)) == "12月3日（木）"
    assert format_date(date(2027, 1, 4), year=True) == "2027年1月4日（月）"
