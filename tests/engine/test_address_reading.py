"""Addresses as citizens type them (kana, kanji numerals, typos of 条/丁目, Sapporo's 「南3西5」, a town without its
区), read by the collection-day form on the city's official postcode file (../shared/data/sapporo/sapporo_ken.csv).

Every expected (区, 町名, calendar area) below is checked against the official file itself first
(test_every_expectation_is_in_the_official_file), so the cases cannot drift from the data. What the file does not
have stays unknown: the form asks again instead of guessing (a wrong area is worse than a question).
"""

import csv
import re
import unicodedata

import pytest

from tests.engine import trackers
from tests.engine.trackers import run
from tests.official_data import OFFICIAL_DATA

WARDS = ("中央区", "北区", "東区", "白石区", "厚別区", "豊平区", "清田区", "南区", "西区", "手稲区")

# text typed by a citizen → (区, official 町名 of sapporo_ken.csv — or a name whose every 条 row shares one area,
# such as 「あいの里」 for あいの里1条〜5条 —, calendar column of gomi_calendar.csv)
ANSWERED = [
    # 中央区
    ("中央区南三条西五丁目", "中央区", "南3条西（１〜１８丁目）", "中央区6"),
    ("ちゅうおうく みなみ3じょう にし5ちょうめ", "中央区", "南3条西（１〜１８丁目）", "中央区6"),
    ("南3西5", "中央区", "南3条西（１〜１８丁目）", "中央区6"),
    ("南３条西２２丁目", "中央区", "南3条西（２０〜２８丁目）", "中央区5"),
    ("宮の森", "中央区", "宮の森", "中央区5"),
    ("みやのもり3じょう", "中央区", "宮の森3条", "中央区5"),
    ("札幌市中央区大通西２２丁目", "中央区", "大通西（２０〜２８丁目）", "中央区5"),
    ("中央区 宮ヶ丘", "中央区", "宮ケ丘", "中央区5"),
    ("中央区大通西5", "中央区", "大通西（１〜１９丁目）", "中央区6"),
    ("中央区南1条西22-3", "中央区", "南1条西（２０〜２８丁目）", "中央区5"),
    ("まるやまにしまち", "中央区", "円山西町", "中央区5"),
    ("中央区北3条東", "中央区", "北3条東", "中央区6"),
    ("北海道札幌市中央区旭ケ丘2丁目5-10", "中央区", "旭ケ丘", "中央区3"),
    # 北区
    ("北区屯田5丈", "北区", "屯田5条", "北区4"),
    ("北区あいのさと2条", "北区", "あいの里2条", "北区6"),
    ("あいの里", "北区", "あいの里", "北区6"),
    ("北区北２４条西５丁目", "北区", "北24条西", "北区1"),
    ("北24西5", "北区", "北24条西", "北区1"),
    ("しんことに7じょう", "北区", "新琴似7条", "北区2"),
    ("新琴似町です", "北区", "新琴似町", "北区2"),
    ("篠路3-5", "北区", "篠路3条", "北区6"),
    ("北区 篠路町上篠路", "北区", "篠路町上篠路", "北区6"),
    ("たくほく3じょう", "北区", "拓北3条", "北区6"),
    # 東区
    ("東区伏古３条２丁目", "東区", "伏古3条", "東区3"),
    ("ふしこ7じょう", "東区", "伏古7条", "東区3"),
    ("東区北二十四条東", "東区", "北24条東", "東区4"),
    ("栄町", "東区", "栄町", "東区2"),
    ("東区なえぼちょう", "東区", "苗穂町", "東区6"),
    ("東苗穂5-3", "東区", "東苗穂5条", "東区3"),
    ("北8条東3丁目", "東区", "北8条東（１〜７丁目）", "東区4"),
    # 白石区
    ("しろいしくほんどおり", "白石区", "本通", "白石区1"),
    ("白石区東札幌3上", "白石区", "東札幌3条", "白石区3"),
    ("菊水5-2", "白石区", "菊水5条", "白石区3"),
    ("〒００３−０８３３", "白石区", "北郷3条", "白石区2"),
    ("白石区 北郷 3条", "白石区", "北郷3条", "白石区2"),
    ("白石区中央1条", "白石区", "中央1条", "白石区1"),
    ("菊水上町2条", "白石区", "菊水上町2条", "白石区2"),
    # 厚別区
    ("もみじ台南", "厚別区", "もみじ台南", "厚別区4"),
    ("もみじだいきた", "厚別区", "もみじ台北", "厚別区4"),
    ("厚別区厚別中央３条", "厚別区", "厚別中央3条", "厚別区2"),
    ("あつべつく おおやちひがし", "厚別区", "大谷地東", "厚別区3"),
    ("上野幌2条", "厚別区", "上野幌2条", "厚別区3"),
    ("厚別区しものっぽろてくのぱあく", "厚別区", "下野幌テクノパーク", "厚別区4"),  # a typo in a long name
    # 豊平区
    ("平岸5条", "豊平区", "平岸5条", "豊平区2"),
    ("豊平区平岸3状", "豊平区", "平岸3条", "豊平区2"),
    ("ひらぎし3じょう5ちょうめ", "豊平区", "平岸3条", "豊平区2"),
    ("月寒東２条５丁目", "豊平区", "月寒東2条", "豊平区4"),
    ("豊平区美園十二条", "豊平区", "美園12条", "豊平区2"),
    ("豊平区福住2条3丁目10-5", "豊平区", "福住2条", "豊平区3"),
    ("とよひらく つきさむにし2じょう", "豊平区", "月寒西2条", "豊平区2"),
    # 清田区 (the postcode file numbers its areas 1, 2; the calendar 清田区5, 清田区6)
    ("清田区美しヶ丘3条", "清田区", "美しが丘3条", "清田区5"),
    ("美しが丘5条", "清田区", "美しが丘5条", "清田区6"),
    ("きよたく さとづか", "清田区", "里塚", "清田区6"),
    ("真栄3条目", "清田区", "真栄3条", "清田区5"),
    ("清田区北野5ジョウ", "清田区", "北野5条", "清田区5"),
    # 南区
    ("南区真駒内緑町", "南区", "真駒内緑町", "南区4"),
    ("まこまないみどりまち", "南区", "真駒内緑町", "南区4"),
    ("南区澄川4条3丁目", "南区", "澄川4条", "南区1"),
    ("石山2条", "南区", "石山2条", "南区2"),
    ("南区川沿十八条", "南区", "川沿18条", "南区7"),
    ("かわぞえ5じょう", "南区", "川沿5条", "南区5"),
    # 西区
    ("にしく はっさむ5じょう", "西区", "発寒5条", "西区1"),
    ("西区八軒5条西3丁目", "西区", "八軒5条西", "西区4"),
    ("八軒8条東", "西区", "八軒八条東", "西区4"),
    ("宮の沢3条", "西区", "宮の沢3条", "西区3"),
    ("琴似2-4", "西区", "琴似2条", "西区1"),
    ("西区二十四軒3条", "西区", "二十四軒3条", "西区1"),
    # 手稲区 (the postcode file numbers its areas 1–3; the calendar 手稲区5–7)
    ("手稲区星置2条", "手稲区", "星置2条", "手稲区7"),
    ("西宮の沢3条", "手稲区", "西宮の沢3条", "手稲区5"),
    ("ていねく まえだ5じょう", "手稲区", "前田5条", "手稲区6"),
    ("ほしおき3条", "手稲区", "星置3条", "手稲区7"),
    ("曙5条", "手稲区", "曙5条", "手稲区6"),
    ("手稲区曙7条", "手稲区", "曙7条", "手稲区7"),
]

# A town in several wards, no ward typed: ask which 区, offering only those.
WARD_ASKED = [
    ("北11条西3丁目", ["中央区", "北区"]),
    ("南30条西", ["中央区", "南区"]),
    ("北1条東", ["中央区", "東区"]),
]

# The ward is known but the text fits rows of several areas: ask which town (no answer yet).
TOWN_ASKED = [
    ("ちゅうおうく みなみ1じょうにし", "中央区"),  # 南1条西 is split by 丁目 between two areas
    ("中央区南3条西19丁目", "中央区"),  # 19 is in neither range (１〜１８, ２０〜２８)
    ("南区 真駒内", "南区"),  # 真駒内（１７番地） and 真駒内（その他） are two areas
    ("南区川沿1条", "南区"),  # two rows named 川沿1条 (the file's 10条 became 1条) in two areas
]

# Not in the file: never guessed (the ward, when typed, is kept and the town asked for).
UNKNOWN = [
    ("宮の森5条", None),  # 宮の森1条〜4条 only: not the bare town 宮の森
    ("西区西野10条", "西区"),  # the file has no 西野10条 (its 10条 rows read 1条)
    ("中央区本通", "中央区"),  # 本通 is in 白石区
    ("札幌駅の近く", None),
    ("北区屯田15条", "北区"),
    ("豊平区平崖3条", "豊平区"),  # a one-character typo in a two-character name is not corrected
    ("北10西3", None),  # 北10条西 is not in the file (transcribed as 北1条西)
    ("中央図書館", None),  # 中央 is a 白石区 town only with its 条 (中央1条〜3条)
]


def _nfkc(text):
    return unicodedata.normalize("NFKC", text)


@pytest.fixture(scope="module")
def official_rows():
    with open(OFFICIAL_DATA / "sapporo_ken.csv", encoding="utf-8-sig") as handle:
        rows = [r for r in csv.DictReader(handle) if r["part"] != "0"]
    with open(OFFICIAL_DATA / "gomi_calendar.csv", encoding="utf-8-sig") as handle:
        columns = [c for c in next(csv.reader(handle)) if c not in ("日付", "曜")]

    def column(ward, part):  # 清田区 and 手稲区: the part-th column of the ward (tests/engine/test_collection_day_actions)
        own = sorted((c for c in columns if c.startswith(ward) and c[len(ward):].isdigit()), key=lambda c: int(c[len(ward):]))
        return f"{ward}{part}" if f"{ward}{part}" in own else own[int(part) - 1]

    return [(r["kanji_district"], r["kanji_chome"], column(r["kanji_district"], r["part"])) for r in rows]


def _rows_named(rows, ward, town):
    """Rows of ``ward`` called ``town``, or (for 「あいの里」「本通」) its 条 rows / its （北）（南） rows."""
    exact = [r for r in rows if r[0] == ward and r[1] == town]
    if exact:
        return exact
    return [r for r in rows if r[0] == ward and (re.match(re.escape(town) + r"\d+条", _nfkc(r[1]))
                                                 or r[1].startswith(town + "（"))]


@pytest.fixture(scope="module", autouse=True)
def official_data(official_city_data):
    return official_city_data


def test_every_expectation_is_in_the_official_file(official_rows):
    assert len(ANSWERED) >= 60 and {w for _, w, _, _ in ANSWERED} == set(WARDS)
    for text, ward, town, area in ANSWERED:
        found = _rows_named(official_rows, ward, town)
        assert found, (text, ward, town)
        assert {a for _, _, a in found} == {area} or any(t == town and a == area for _, t, a in found), (text, found)
    for text, wards in WARD_ASKED:
        town = re.sub(r"\d+丁目$", "", text)
        assert sorted({w for w, t, _ in official_rows if _nfkc(t).split("(")[0] == town}, key=WARDS.index) == wards
    names = {(w, _nfkc(t)) for w, t, _ in official_rows}
    assert ("中央区", "宮の森") in names and not any(t == "宮の森5条" for _, t in names)
    assert not any(t in ("西野10条", "屯田15条", "北10条西") for _, t in names)
    assert [w for w, t in names if t == "本通(北)"] == ["白石区"]
    assert sorted({a for w, t, a in official_rows if (w, t) == ("南区", "川沿1条")}) == ["南区5", "南区7"]


def form(text, slots=None, requested_slot=None):
    from actions.collection_day import ValidateCollectionDayForm
    t = trackers.tracker(text, slots=slots, intent="inform_address", requested_slot=requested_slot,
                         active_loop="collection_day_form")
    if requested_slot in ("gc_ward", "gc_town"):  # the domain's from_text mapping, as the engine's form sets it
        t.slots[requested_slot] = text
        t.events = [{"event": "user", "text": text}, {"event": "slot", "name": requested_slot, "value": text}]
    messages, events = run(ValidateCollectionDayForm(), t, {"forms": {}, "slots": {}})
    return messages, {e["name"]: e["value"] for e in events if e["event"] == "slot"}


@pytest.mark.parametrize("text,ward,town,area", ANSWERED, ids=[c[0] for c in ANSWERED])
def test_a_typed_address_finds_its_area(text, ward, town, area):
    _, slots = form(text)
    assert (slots.get("gc_ward"), slots.get("gc_area")) == (ward, area), slots
    assert slots.get("gc_address", "").startswith(ward + _nfkc(town).split("(")[0].replace("ヶ", "ケ")), slots


@pytest.mark.parametrize("text,wards", WARD_ASKED, ids=[c[0] for c in WARD_ASKED])
def test_a_town_in_several_wards_asks_which_ward_offering_only_those(text, wards):
    messages, slots = form(text)
    assert not slots.get("gc_area") and not slots.get("gc_ward")
    buttons = [b for m in messages for b in m.get("buttons") or []]
    assert [b["title"] for b in buttons] == wards, messages
    assert "区" in messages[-1]["text"]


def test_the_ward_chosen_after_the_question_completes_the_address():
    messages, slots = form("北11条西3丁目")
    assert slots.get("requested_slot") == "gc_area"  # no second, generic question: the buttons are the question
    pending = {k: v for k, v in slots.items() if k != "requested_slot"}
    for answer in ("北区", next(b["payload"] for m in messages for b in m.get("buttons") or [] if b["title"] == "北区")):
        _, chosen = form(answer, slots=pending, requested_slot="gc_area")
        assert (chosen.get("gc_ward"), chosen.get("gc_area")) == ("北区", "北区1"), (answer, chosen)
    _, chosen = form("中央区", slots=pending, requested_slot="gc_area")
    assert (chosen.get("gc_ward"), chosen.get("gc_area")) == ("中央区", "中央区4")


@pytest.mark.parametrize("text,ward", TOWN_ASKED, ids=[c[0] for c in TOWN_ASKED])
def test_a_town_of_several_areas_asks_which_town(text, ward):
    messages, slots = form(text)
    assert slots.get("gc_ward") == ward and not slots.get("gc_area"), slots
    buttons = [b for m in messages for b in m.get("buttons") or []]
    assert len(buttons) >= 2, messages
    for b in buttons:  # each button is an address the form reads to one area
        _, chosen = form(b["payload"])
        assert chosen.get("gc_ward") == ward and chosen.get("gc_area"), (b, chosen)


@pytest.mark.parametrize("text,ward", UNKNOWN, ids=[c[0] for c in UNKNOWN])
def test_what_the_file_does_not_have_is_not_guessed(text, ward):
    _, slots = form(text)
    assert not slots.get("gc_area") and not slots.get("gc_town"), slots
    assert slots.get("gc_ward") == ward


@pytest.mark.parametrize("answer", ["ちゅうおうく", "チュウオウク", "ﾁｭｳｵｳｸ", "中央区です"])
def test_the_ward_answer_in_kana(answer):
    _, slots = form(answer, requested_slot="gc_ward")
    assert slots.get("gc_ward") == "中央区" and not slots.get("gc_area")


@pytest.mark.parametrize("ward,answer,area", [
    ("豊平区", "平岸3状", "豊平区2"), ("中央区", "みやのもり3じょう", "中央区5"), ("西区", "はっさむ5じょう", "西区1"),
    ("中央区", "南三条西五丁目", "中央区6"), ("北区", "あいのさと", "北区6"), ("手稲区", "曙７条", "手稲区7"),
])
def test_the_town_answer_as_typed(ward, answer, area):
    _, slots = form(answer, requested_slot="gc_town", slots={"gc_ward": ward})
    assert (slots.get("gc_ward"), slots.get("gc_area")) == (ward, area), slots


def test_a_town_answer_from_another_ward_is_offered_not_taken():
    messages, slots = form("宮の森3条", requested_slot="gc_town", slots={"gc_ward": "北区"})
    assert not slots.get("gc_area")
    assert [b["payload"] for m in messages for b in m.get("buttons") or []] == ["中央区宮の森3条"]


def test_the_store_reads_kanji_numerals_and_typos():
    from bot.knowledge.garbage_knowledge import store
    data = store()
    assert [a.town for a in data.addresses_for_town("中央区", "南三条西五丁目")] == ["南3条西（１〜１８丁目）"]
    assert [a.town for a in data.addresses_for_town("豊平区", "平岸3状")] == ["平岸3条"]
    assert [a.town for a in data.addresses_for_town("西区", "八軒8条東")] == ["八軒八条東"]
    assert [a.town for a in data.addresses_for_town("白石区", "本通（南）")] == ["本通（南）"]
    assert data.addresses_for_town("中央区", "宮の森5条") == []


@pytest.mark.parametrize("text,area", [
    ("白石区東札幌3上", "白石区3"), ("北区あいのさと2条", "北区6"), ("にしく はっさむ5じょう", "西区1"),
    ("豊平区平岸3状", "豊平区2"), ("中央区 宮ヶ丘", "中央区5"), ("〒００３−０８３３", "白石区2"),
])
def test_the_booking_address_lookup_reads_them_too(text, area):
    """actions.garbage.resolve_address (the booking form's) uses the same reader functions."""
    from actions.garbage import resolve_address
    assert resolve_address(text, None).get("gc_area") == area


@pytest.mark.parametrize("text,expected", [
    ("南3西5 もえるごみ", True), ("００３−０８３３ ざつがみ", True), ("にしく はっさむ5じょう もえるごみ", True),
    ("郵便番号063-0034です", True), ("中央区宮ヶ丘のごみの日", True), ("豊平区美園十二条", True), ("白石区東札幌3上", True),
    ("バスタオル3枚", False), ("テレビ 32型", False), ("燃えるごみの日はいつ", False), ("いきたくない", False),
])
def test_names_a_place_without_the_city_data(text, expected):
    from bot.nlu.address_text import names_a_place
    assert names_a_place(text) is expected


@pytest.mark.parametrize("text,category", [
    ("もえないゴミ", "燃やせないごみ"), ("モエルゴミ", "燃やせるごみ"), ("ざつガミ", "雑がみ"), ("中央区宮の森3条", None),
])
def test_the_category_typed_in_mixed_kana(text, category):
    from bot.nlu.address_text import find_category
    assert find_category(text) == category
