"""Japanese texts the gateway itself says (the engine's texts live in domain.yml)."""

CALL_CENTER = "札幌市コールセンター（011-222-4894）"

ENGINE_DOWN = (
    "申し訳ありません。ただいまシステムが応答できません。しばらくしてからもう一度お試しいただくか、"
    f"{CALL_CENTER}へお問い合わせください。"
)
EMPTY_MESSAGE = "メッセージが空のようです。ご用件を文章で送ってください。"
NOT_TEXT = "申し訳ありません、文字で送ってください。"


def too_long(limit: int) -> str:
    return f"メッセージが長すぎます（{limit}文字まで）。短く分けて送ってください。"
