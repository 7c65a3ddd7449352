"""Japanese texts the gateway itself says (the engine's texts live in domain.yml)."""

from common.formats import CALL_CENTER  # noqa: F401  (texts here and in the engine name the same line)

ENGINE_DOWN = (
    "申し訳ありません。ただいまシステムが応答できません。しばらくしてからもう一度お試しいただくか、"
    f"{CALL_CENTER}へお問い合わせください。"
)
EMPTY_MESSAGE = "メッセージが空のようです。ご用件を文章で送ってください。"
NOT_TEXT = "申し訳ありません、文字で送ってください。"


def too_long(limit: int) -> str:
    return f"メッセージが長すぎます（{limit}文字まで）。短く分けて送ってください。"

# ---- limits on the public doors (gateway/http_limits.py, gateway/rate_limits.py, gateway/input_checks.py).
# Every refusal a citizen may see ends with the emergency line: the one refused may be a child in danger.
REQUEST_TOO_LARGE = "リクエストが大きすぎます。"
BAD_CHARACTERS = "申し訳ありません、読み取れない文字が含まれていました。文字を確かめて、もう一度送ってください。"
BAD_REQUEST = "リクエストの形式が正しくありません（UTF-8 の JSON で、sender と message を文字列で送ってください）。"
RATE_LIMITED = ("申し訳ありません。ただいま同じ接続元からのご利用が集中しているため、このメッセージをお受けできませんでした。"
                "少し時間をおいてから、もう一度送ってください。"
                "今すぐ危ないときは、110番（警察）か119番（救急）に電話してください。"
                "24時間子供SOSダイヤル 0120-0-78310（無料）でも話を聞いてもらえます。")
# A turn the gateway could not handle at all (its database unreachable for a moment, e.g. a PostgreSQL restart):
# the citizen is told to send again, never left without an answer (the message may not have been kept).
TURN_FAILED = ("申し訳ありません。システムの一時的な不具合のため、このメッセージをお受けできませんでした。"
               "少し時間をおいてから、もう一度送ってください。"
               "今すぐ危ないときは、110番（警察）か119番（救急）に電話してください。"
               "24時間子供SOSダイヤル 0120-0-78310（無料）でも話を聞いてもらえます。")
REST_API_OFF = "この窓口は使われていません。"
REST_API_TOKEN = "認証が必要です。"

# ---- handoff to a person (gateway/handoff/router.py)
HUMAN_BUTTON = {"title": "担当者と話す", "payload": "/request_human"}
CANCEL_HANDOFF_BUTTON = {"title": "キャンセル", "payload": "/cancel_handoff"}  # while waiting for a person

# ---- youth counseling (gateway/counseling/desk.py). REVIEW: counselors and city staff must confirm the
# wording and every number before going live; numbers are those of ../shared/data/hotlines/hotlines.yml
# (a test checks that every number here is listed there).
COUNSELOR_BUTTON = {"title": "相談員と話す", "payload": "/request_counselor"}
EMERGENCY_NUMBERS = ("今すぐ危ないときは、110番（警察）か119番（救急）に電話してください。"
                     "24時間子供SOSダイヤル 0120-0-78310（無料）、児童相談所 189、"
                     "北海道いのちの電話 011-231-4343（24時間）でも話を聞いてもらえます。")
EMERGENCY_STAY = "すぐに相談員につなぎます。ここで待っていてくださいね。"
HIGH_RISK = "話してくれてありがとうございます。相談員（相談を聞く専門のスタッフ）におつなぎします。"
NORMAL_RISK = ("話してくれてありがとうございます。このチャットで、相談員（相談を聞く専門のスタッフ）と話せます。"
               "名前を言わなくても大丈夫です。")
# A worry only the classifier saw (no rule fired: 「サングラス ふんでわれた」 may be a garbage question): the menu also
# offers this; tapped or typed (「ちがう」「ごみの質問」), the held message goes to the assistant after all.
NOT_A_WORRY_BUTTON = {"title": "ごみ・市の質問でした", "payload": "/not_a_worry"}
NOT_A_WORRY_LOST = "ごめんなさい、どのご質問だったかわからなくなりました。もう一度送ってください。"
HOTLINES_24H = ("24時間いつでも話せる窓口：24時間子供SOSダイヤル 0120-0-78310（無料）、"
                "北海道いのちの電話 011-231-4343。")
INTAKE_AGE_OPTIONS = ["小学生", "中学生", "高校生", "19歳以上", "答えない"]
INTAKE_TOPIC_OPTIONS = ["いじめ", "家族のこと", "学校のこと", "友だち・恋愛", "からだ・こころ", "その他", "答えない"]
INTAKE_AGE_QUESTION = "よければ教えてください（とばしても大丈夫です）。あなたは？"
INTAKE_TOPIC_QUESTION = "どんなことを相談したいですか？（とばしても大丈夫です）"
INTAKE_DONE = "ありがとうございます。相談員が来るまで、話したいことを先に書いておいても大丈夫です。"
IDLE_CHECK = "まだお話しできますか？ ゆっくりで大丈夫です。何か送ってもらえれば、このまま続けられます。"
IDLE_CLOSED = ("しばらくメッセージがなかったので、いったん相談を終わります。"
               "また話したくなったら、いつでも「相談したい」と送ってください。"
               "今すぐ危ないときは、110番（警察）か119番（救急）に電話してください。")


def _place(position, minutes) -> str:
    """「ただいま2番目です（待ち時間の目安：約20分）。」, or nothing when the place is unknown."""
    if not position:
        return ""
    return f"ただいま{position}番目です" + (f"（待ち時間の目安：約{minutes}分）" if minutes else "") + "。"


def intake(hours: str, position, minutes) -> str:
    """The first message of a counseling chat: who answers, anonymity, confidentiality and its one exception,
    hours, the wait."""
    wait = _place(position, minutes)
    return ("ここからは相談員（相談を聞く専門のスタッフ）がお返事します。名前や学校名は言わなくて大丈夫です。"
            "話してくれたことは秘密にします。ただ、あなたや誰かの命や安全が危ないときだけは、守るために"
            f"関係する機関と連絡をとることがあります。受付時間：{hours}。{wait}"
            "順番が来たら、このままここでお返事します。")


def off_hours(hours: str, next_open, keep: bool) -> str:
    when = f"次は{next_open}から受け付けます。" if next_open else ""
    kept = ("メッセージはお預かりして、受付が始まったら相談員が読みます。" if keep
            else "受付時間になったら、もう一度メッセージを送ってください。")
    return f"相談員のチャットの受付時間は、{hours}です。{when}{kept}{HOTLINES_24H}"


def counseling_waiting(position, minutes) -> str:
    return f"相談員におつなぎするまでお待ちください。{_place(position, minutes)}メッセージはお預かりしています。"
STAFF_JOINED = "担当者が対応します。ご用件をお送りください。"
COUNSELOR_JOINED = "相談員が対応します。ゆっくりで大丈夫です。お話を聞かせてください。"
HANDED_BACK = "担当者との会話を終わります。ここからは自動応答でご案内します。"
CLOSED = "担当者との会話を終了しました。ご利用ありがとうございました。"
HANDOFF_CANCELLED = "担当者へのおつなぎを取り消しました。ここからは自動応答でご案内します。"


def _who(queue):
    return "相談員" if queue == "counseling" else "担当者"


def waiting(position, queue=None) -> str:
    place = f"ただいま{position}番目です。" if position else ""
    return (f"{_who(queue)}におつなぎします。{place}順番が来ましたら、このままこちらでお返事します。"
            "取り消すときは「キャンセル」と送ってください。")


def still_waiting(position, queue=None) -> str:
    place = f"現在{position}番目です。" if position else ""
    return f"{_who(queue)}におつなぎするまでお待ちください。{place}メッセージはお預かりしています。"


# ---- LINE channel (connectors/line/channel.py)
LINE_WELCOME = ("札幌市のAIアシスタントです。友だち追加ありがとうございます。"
                "よくある質問、ごみの出し方、大型ごみの申込、ご相談をご案内します。"
                "下のメニューから選ぶか、ご質問を文章で送ってください。")
# REVIEW: privacy notice (city staff to confirm the wording).
LINE_PRIVACY = ("【個人情報について】お名前やご住所などは、大型ごみの申込でおたずねしたときだけ送ってください。"
                "ご相談の内容は秘密として扱います。")
LINE_MENU = [
    {"title": "よくある質問", "payload": "/menu_faq"},
    {"title": "ごみの出し方", "payload": "/menu_garbage"},
    {"title": "大型ごみの申込", "payload": "/menu_bulky_booking"},
    {"title": "相談したい", "payload": "/menu_counseling"},
]
LINE_SEND_TEXT = "恐れ入りますが、文字で送ってください。"
LINE_ONE_TO_ONE = ("このアカウントの自動応答は、1対1のトークでご利用いただけます。"
                   "グループやトークルームではお答えできません。")
LINE_CHOOSE = "次から選んでください。"  # a bot message with buttons but no text (LINE needs a text)
LINE_STAFF_SENDER = "担当者"  # the name LINE shows above a staff member's or counselor's message
# The gateway stopped (a crash, a deploy) after the message had gone to the engine: it is never sent twice,
# so the answer is lost; this is pushed instead (with 「担当者と話す」).
LINE_INTERRUPTED = ("申し訳ありません。システムの再起動のため、先ほどのメッセージにお答えできませんでした。"
                    "お手数ですが、もう一度送っていただくか、「担当者と話す」を選んでください。")
# What the staff console shows when the citizen sent something other than text while a person has the chat.
LINE_MEDIA_NOTES = {
    "sticker": "（スタンプが送られました）",
    "image": "（画像が送られました）",
    "video": "（動画が送られました）",
    "audio": "（音声が送られました）",
    "file": "（ファイルが送られました）",
}


def line_location(address, latitude, longitude) -> str:
    """A shared location as the text the conversation reads (an address where one is asked for)."""
    if address:
        return f"住所: {address}"
    return f"緯度 {latitude} 経度 {longitude}"


# ---- staff console (gateway/staff/console/): what staff, counselors and admins read there
STAFF_CANNED_DEFAULTS = {  # canned replies seeded for each queue (supervisors add and delete more)
    "general": ["お問い合わせありがとうございます。担当の者がお答えします。",
                "確認いたしますので、少々お待ちください。",
                f"詳しくは{CALL_CENTER}でもご案内しています。"],
    "counseling": ["話してくれてありがとう。ここでは、あなたのペースで大丈夫です。",
                   "今、安全な場所にいますか？",
                   "今すぐ危ないときは、110番（警察）か119番（救急）に電話してください。"],
}
STAFF_LOGIN_REQUIRED = "ログインしてください。"
STAFF_FORBIDDEN = "権限がありません。"
STAFF_CSRF = "画面を再読み込みしてください（CSRF）。"
STAFF_LOGIN_EXPIRED = "もう一度ログインしてください（画面の有効期限切れ）。"
STAFF_LOGIN_RATE_LIMITED = "ログインの失敗が続いたため、しばらくしてからお試しください。"
STAFF_LOGIN_FAILED = "ユーザー名またはパスワードが違います。"
STAFF_NO_CONVERSATION = "会話が見つかりません。"
STAFF_CHOOSE_RISK = "リスクの段階を選んでください。"
STAFF_NOT_QUEUED = "この会話は待ち行列にありません。"
STAFF_NOT_OWNER = "この会話の担当ではありません。"
STAFF_EMPTY_TEXT = "本文を入力してください。"
STAFF_CANNOT_TRANSFER_TO = "その職員には引き継げません。"
STAFF_CHOOSE_TRANSFER = "引き継ぎ先を選んでください。"
STAFF_TRANSFER_FAILED = "引き継ぎできませんでした。"
STAFF_CHOOSE_OUTCOME = "対応結果を選んでください。"
STAFF_CLOSE_FAILED = "終了できませんでした。"
STAFF_RELEASE_FAILED = "ボットに戻せませんでした。"
STAFF_CANNED_INVALID = "キューと本文を指定してください。"
STAFF_NOT_FOUND = "見つかりません。"
STAFF_NO_BOOKING = "受付番号が見つかりません。"


def staff_already_claimed(who: str) -> str:
    """A claim that lost: someone else took the chat first."""
    return f"{who} さんがすでに担当しています。"


# ---- console tools (gateway/staff/console/canned.py, presence.py, history.py; static/staff/console_tools.js)
TOOLS_CANNED_TITLE_INVALID = "タイトルは80文字以内で入力してください。"
TOOLS_CANNED_KEYWORD_INVALID = "キーワードは空白と「/」を含まない32文字以内で入力してください。"
TOOLS_PRESENCE_INVALID = "状態は「対応可」「離席」「オフライン」から選んでください。"
TOOLS_HISTORY_INVALID = "検索条件を確認してください（日付は YYYY-MM-DD、ページは1以上）。"
TOOLS_ASSIGNED = "チャットが自動で割り当てられました。"


# ---------------------------------------------------------------------------------------------- console-core
# Staff console transcript (gateway/staff/console/transcript.py): what a pressed button is shown as when the
# message that offered it did not keep its buttons (older messages), by the payload's intent. Alerts for long
# waits (gateway/counseling/jobs.py).
STAFF_PAYLOAD_LABELS = {
    "greet": "（チャットを開始）",
    "affirm": "はい",
    "deny": "いいえ",
    "request_human": "担当者と話す",
    "request_counselor": "相談員と話す",
    "cancel_handoff": "キャンセル",
    "menu_faq": "よくある質問",
    "menu_garbage": "ごみの出し方",
    "menu_bulky_booking": "大型ごみの申込",
    "menu_bulky": "大型ごみ",
    "menu_procedures": "手続き",
    "menu_counseling": "相談したい",
    "collection_day": "収集日",
    "ask_capabilities": "何ができますか",
}
STAFF_EDIT_FIELD_LABELS = {"items": "品目を直す", "address": "住所を直す", "date": "日付を直す"}
STAFF_PRESSED_OTHER = "ボタン（{intent}）"


def staff_long_wait(minutes: int, who: str, label: str = "") -> str:
    """A waiting chat's long-wait alert (every role that answers the queue, and supervisors)."""
    return f"{label + '：' if label else ''}{minutes}分待っている{who}があります"


# ---- Dashboard (/staff/dashboard; gateway/staff/console/dashboard.py, gateway/storage/reports.py) ----
DASHBOARD_RANGE_ERRORS = {
    "format": "{name} の日付は YYYY-MM-DD の形で指定してください（{value}）。",
    "impossible": "{name} の日付 {value} は存在しません。",
    "year": "{value} は対象外の年です（2000〜2100年で指定してください）。",
    "order": "開始日が終了日より後になっています。",
    "long": "期間は{days}日以内で指定してください。",
}
DASHBOARD_UNKNOWN_CHART = "CSV のグラフ名が正しくありません（{names} のいずれか）。"
DASHBOARD_LABELS = {
    "channels": {"web": "ウェブ", "line": "LINE"},
    "volume": {"conversations": "会話数", "turns": "発言数"},
    "outcomes": {"answered": "回答した（推定）", "candidates": "もしかして（候補を提示）",
                 "not_understood": "理解できなかった", "out_of_scope": "対象外（他の自治体・サービス）",
                 "handoff": "担当者へ引き継ぎ"},
    "kinds": {"fallback": "理解できず", "garbage_item": "不明なごみの品目", "faq_candidates": "もしかして",
              "other_municipality": "他の自治体", "other_service": "対象外のサービス"},
    "queues": {"general": "一般", "counseling": "相談"},
    "handoffs": {"handoffs": "引き継ぎ", "taken": "対応した", "untaken": "対応前に終了", "waiting": "待機中",
                 "p50_minutes": "待ち時間 中央値（分）", "p90_minutes": "待ち時間 90%（分）"},
    "risks": {"none": "なし", "normal": "通常", "high": "高", "emergency": "緊急"},
    "bookings": {"booked": "予約数", "capacity": "受付上限"},
}
# CSV files of the dashboard: file name and header row, by chart.
DASHBOARD_CSV = {
    "volume": ("volume", ["日付", "チャネル", "会話数", "発言数"]),
    "outcomes": ("outcomes", ["日付", "回答した（推定）", "もしかして", "理解できなかった", "対象外", "担当者へ引き継ぎ",
                              "ボットが返答した発言"]),
    "unanswered": ("unanswered-top", ["期間", "種類", "質問", "件数"]),
    "handoffs": ("handoffs", ["キュー", "引き継ぎ", "対応した", "対応前に終了", "待機中", "待ち時間 中央値（分）",
                              "待ち時間 90%（分）"]),
    "counseling": ("counseling", ["日付", "リスク", "件数"]),
    "bookings": ("bookings", ["収集日", "区", "予約数", "受付上限"]),
}

# ---- Bookings: change on a citizen's behalf (gateway/staff/console/bookings.py) ----
STAFF_BOOKING_NO_VERSION = "画面を再読み込みしてから、もう一度お試しください（予約の版がありません）。"
STAFF_BOOKING_BAD_DATE = "収集日の日付が正しくありません。"
STAFF_BOOKING_BAD_ITEMS = "品目の指定が正しくありません。"
STAFF_BOOKING_NOTHING_TO_CHANGE = "変更する収集日か品目を指定してください。"
STAFF_BOOKING_STALE = "この予約は、画面を開いた後に変更されています（市民のチャットなど）。最新の内容を確認してから、もう一度変更してください。"
STAFF_BOOKING_CANCELLED = "この予約はキャンセルされているため、変更できません。"
STAFF_BOOKING_TOO_LATE = "収集日の当日以降は、予約を変更できません。"

# ---- Console context: この方の履歴 (gateway/staff/console/context.py) ----
CONTEXT_BOOKINGS_UNAVAILABLE = "大型ごみの予約を読み込めませんでした。しばらくしてから開き直してください。"
