"""The usual collection days read from a calendar (bot/knowledge/citydata/patterns.py, CityDataStore.usual_pattern):
on the official calendar for every area and category, checked against the CSV read here with the csv module,
and on small made-up calendars for the shapes the official one does not have (第2・第4, holidays, no pattern)."""

import csv
from datetime import date, timedelta

import pytest

from bot.knowledge.citydata.patterns import derive
from bot.knowledge.citydata.store import CityDataStore
from tests.official_data import OFFICIAL_DATA, calendar_day

WEEKDAYS = "月火水木金土日"
CATEGORIES = {"燃やせるごみ": 1, "燃やせないごみ": 2, "びん・缶・ペットボトル": 8, "容器包装プラスチック": 9, "雑がみ": 10,
              "枝・葉・草": 11, "スプレー缶・カセットボンベ": 1, "ライター": 2}
LAST_MONTHS = (date(2025, 7, 1), date(2025, 9, 30))  # the official calendar ends 2025-09-30


@pytest.fixture(scope="module")
def store(official_city_data):
    return CityDataStore(f"sqlite:///{official_city_data / 'citydata.db'}")


def csv_columns():
    """area → [(day, code)], read independently of the importer and the store."""
    with open(OFFICIAL_DATA / "gomi_calendar.csv", encoding="utf-8-sig") as handle:
        table = list(csv.DictReader(handle))
    areas = [c for c in table[0] if c not in ("日付", "曜")]
    return {a: [(calendar_day(r["日付"]), int(r[a])) for r in table] for a in areas}


def expected_text(column, code):
    """「毎週月・木曜日」 from the last three months of the CSV: the weekdays, and the weeks between two days."""
    days = [d for d, c in column if c == code and LAST_MONTHS[0] <= d <= LAST_MONTHS[1]]
    weekdays = sorted({d.weekday() for d in days})
    first_weekday = [d for d in days if d.weekday() == weekdays[0]]
    weeks = min((b - a).days for a, b in zip(first_weekday, first_weekday[1:])) // 7
    cadence = {1: "毎週", 2: "隔週"}.get(weeks, f"{weeks}週に1回の")
    return cadence + "・".join(WEEKDAYS[w] for w in weekdays) + "曜日"


def test_every_area_and_category_of_the_official_calendar_has_the_pattern_the_csv_shows(store):
    columns = csv_columns()
    assert len(columns) == 46
    seen = set()
    for area, column in columns.items():
        for category, code in CATEGORIES.items():
            pattern = store.usual_pattern(store.area(area), category, today=date(2026, 11, 30))
            assert pattern.clean, (area, category)
            assert pattern.window == LAST_MONTHS
            assert pattern.text() == expected_text(column, code), (area, category)
            assert pattern.last_day == max(d for d, c in column if c == code)
            seen.add(pattern.text()[:2])
    assert seen == {"毎週", "隔週", "4週"}  # weekly, every other week, every four weeks all occur


def test_official_cadences_by_category(store):
    area = store.area("中央区1")
    assert store.usual_pattern(area, "燃やせるごみ").text() == "毎週月・木曜日"
    assert store.usual_pattern(area, "燃やせないごみ").text() == "4週に1回の水曜日"
    assert store.usual_pattern(area, "雑がみ").text() == "隔週水曜日"
    assert store.usual_pattern(area, "燃やせるごみ").weekly and not store.usual_pattern(area, "雑がみ").weekly
    assert store.usual_pattern(area, codes=(9,)).text() == "毎週金曜日"


def test_seasonal_category_names_the_months_without_collection(store):
    columns = csv_columns()
    pattern = store.usual_pattern(store.area("中央区1"), "枝・葉・草")
    missing = sorted({(d.year, d.month) for d, _ in columns["中央区1"]}
                     - {(d.year, d.month) for d, c in columns["中央区1"] if c == 11})
    assert missing == [(2024, 12), (2025, 1), (2025, 2), (2025, 3), (2025, 4)]
    assert pattern.months_without == tuple(missing) and pattern.months_without_text() == "12月〜4月"
    assert store.usual_pattern(store.area("中央区1"), "燃やせるごみ").months_without_text() is None


def test_no_pattern_for_categories_without_a_fixed_day(store):
    assert store.usual_pattern(store.area("中央区1"), "大型ごみ") is None
    assert store.usual_pattern(store.area("中央区1"), "集団資源回収など") is None


def test_before_the_calendar_starts_its_first_months_are_read(store):
    pattern = store.usual_pattern(store.area("白石区1"), "容器包装プラスチック", today=date(2024, 9, 1))
    assert pattern.window == (date(2024, 10, 1), date(2024, 12, 31)) and pattern.text() == "毎週月曜日"


# ---------------------------------------------------------------------------------------- made-up calendars
FIRST, LAST = date(2026, 1, 1), date(2026, 6, 30)


def days_where(keep):
    day, found = FIRST, []
    while day <= LAST:
        if keep(day):
            found.append((day, 5))
        day += timedelta(days=1)
    return found


def test_second_and_fourth_wednesday_is_read_as_weeks_of_the_month():
    days = days_where(lambda d: d.weekday() == 2 and (d.day - 1) // 7 + 1 in (2, 4))
    pattern = derive("x", (5,), days, FIRST, LAST)
    assert pattern.clean and pattern.text() == "毎月第2・第4水曜日"


def test_a_holiday_gap_and_a_one_off_substitute_day_keep_the_pattern():
    skipped = date(2026, 5, 4)  # a Monday off
    days = days_where(lambda d: d.weekday() == 0 and d != skipped) + [(date(2026, 5, 9), 5)]  # a Saturday instead
    pattern = derive("x", (5,), sorted(days), FIRST, LAST)
    assert pattern.clean and pattern.text() == "毎週月曜日"


def test_irregular_days_give_no_pattern():
    irregular = [date(2026, 4, 3), date(2026, 4, 21), date(2026, 5, 6), date(2026, 5, 8), date(2026, 5, 27),
                 date(2026, 6, 2), date(2026, 6, 12), date(2026, 6, 15), date(2026, 6, 17), date(2026, 6, 29)]
    pattern = derive("x", (5,), [(d, 5) for d in irregular], FIRST, LAST)
    assert not pattern.clean and pattern.text() is None and pattern.collections == len(irregular)


def test_mixed_cadences_are_named_per_weekday():
    days = days_where(lambda d: d.weekday() == 0 or (d.weekday() == 3 and (d - date(2026, 1, 1)).days % 14 == 0))
    pattern = derive("x", (5,), days, FIRST, LAST)
    assert pattern.text() == "毎週月曜日と隔週木曜日"


def test_collection_that_stopped_before_the_end_is_read_from_its_own_last_months():
    days = days_where(lambda d: d.weekday() == 4 and d <= date(2026, 3, 31))
    pattern = derive("x", (5,), days, FIRST, LAST)
    assert pattern.window[1] == date(2026, 3, 27) and pattern.text() == "毎週金曜日"
    assert pattern.months_without_text() == "4月〜6月"
    assert derive("x", (6,), days, FIRST, LAST).collections == 0
