"""The console's words in Vietnamese (the default) and English.

``t(key, lang)`` looks a key up in the language, then in English, then gives the key itself, so
a missing translation shows as English text rather than breaking a page. Pages add their words
with :func:`add` (one call per page module, at import), which keeps each module's words beside
its templates.
"""

from __future__ import annotations

from collections.abc import Mapping

DEFAULT_LANG = "vi"
LANGS = ("vi", "en")

_WORDS: dict[str, dict[str, str]] = {"vi": {}, "en": {}}


def add(words: Mapping[str, tuple[str, str]]) -> None:
    """Register words: ``{key: (vietnamese, english)}``."""
    for key, (vi, en) in words.items():
        _WORDS["vi"][key] = vi
        _WORDS["en"][key] = en


def t(key: str, lang: str = DEFAULT_LANG) -> str:
    """The text of ``key`` in ``lang`` (English, then the key, when missing)."""
    return _WORDS.get(lang, {}).get(key) or _WORDS["en"].get(key) or key


def pick(requested: str | None, cookie: str | None) -> str:
    """The language of a request: ``?lang=`` first, then the ``lang`` cookie, else Vietnamese."""
    for lang in (requested, cookie):
        if lang in LANGS:
            return str(lang)
    return DEFAULT_LANG


add({
    "app.title": ("Bảng điều khiển SOC", "SOC console"),
    "nav.alerts": ("Cảnh báo", "Alerts"),
    "nav.search": ("Tìm kiếm", "Search"),
    "nav.logout": ("Đăng xuất", "Log out"),
    "nav.lang": ("English", "Tiếng Việt"),
    "nav.read_only": ("Chỉ đọc", "Read-only"),
    "login.title": ("Đăng nhập", "Log in"),
    "login.username": ("Tên đăng nhập", "Username"),
    "login.password": ("Mật khẩu", "Password"),
    "login.submit": ("Đăng nhập", "Log in"),
    "login.failed": ("Sai tên đăng nhập hoặc mật khẩu.", "Wrong username or password."),
    "login.throttled": ("Quá nhiều lần thử. Hãy đợi {seconds} giây.",
                        "Too many attempts. Wait {seconds} seconds."),
    "login.expired": ("Phiên đăng nhập đã hết hạn; hãy thử lại.",
                      "The login form expired; try again."),
    "error.title": ("Lỗi", "Error"),
    "error.forbidden": ("Vai trò của bạn không được phép làm việc này.",
                        "Your role may not do this."),
    "error.csrf": ("Mã chống giả mạo (CSRF) thiếu hoặc sai; hãy tải lại trang.",
                   "The anti-forgery (CSRF) token is missing or wrong; reload the page."),
    "error.read_only": ("Bảng điều khiển đang ở chế độ chỉ đọc (soc web --read-only).",
                        "The console is read-only (soc web --read-only)."),
    "error.not_found": ("Không tìm thấy.", "Not found."),
    "common.page": ("Trang", "Page"),
    "common.next": ("Trang sau", "Next"),
    "common.prev": ("Trang trước", "Previous"),
    "common.filter": ("Lọc", "Filter"),
    "common.any": ("(tất cả)", "(any)"),
    "common.none": ("Không có.", "None."),
    "common.more": ("còn {n} nữa", "{n} more"),
})
