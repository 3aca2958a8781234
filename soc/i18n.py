"""User-facing text in English and Vietnamese, kept side by side so neither falls behind."""

from __future__ import annotations

from typing import Any

LANGS = ("vi", "en")
MESSAGES: dict[str, dict[str, str]] = {
    "title": {"en": "SOC monitoring service", "vi": "Hệ thống giám sát an toàn thông tin (SOC)"},
    "status": {"en": "Status", "vi": "Trạng thái"},
    "store": {"en": "Event store", "vi": "Kho sự kiện"},
    "events": {"en": "Events", "vi": "Sự kiện"},
    "agency": {"en": "Agency", "vi": "Cơ quan"},
    "dataset": {"en": "Dataset", "vi": "Nguồn dữ liệu"},
    "total": {"en": "Total", "vi": "Tổng cộng"},
    "no_events": {"en": "No events yet.", "vi": "Chưa có sự kiện nào."},
    "alerts": {"en": "Latest alerts", "vi": "Cảnh báo mới nhất"},
    "no_alerts": {"en": "No alerts yet.", "vi": "Chưa có cảnh báo nào."},
    "level": {"en": "Level", "vi": "Mức độ"},
    "rule": {"en": "Rule", "vi": "Luật"},
    "host": {"en": "Host", "vi": "Máy chủ"},
    "first_seen": {"en": "First seen (UTC+7)", "vi": "Lần đầu (giờ Việt Nam)"},
    "links": {"en": "Health, metrics and API", "vi": "Tình trạng, số liệu và API"},
    "demo.ready": {"en": "SOC demo is running.", "vi": "Bản trình diễn SOC đang chạy."},
    "demo.url": {"en": "Open", "vi": "Mở"},
    "demo.login": {"en": "Login", "vi": "Đăng nhập"},
    "demo.password": {"en": "password", "vi": "mật khẩu"},
    "demo.shipped": {
        "en": "Collector shipped {lines} lines from {file}: {created} new events, "
        "{duplicates} already stored, "
        "{rejected} rejected (kept in quarantine), {unparsed} kept as unparsed.",
        "vi": "Collector đã gửi {lines} dòng từ {file}: {created} sự kiện mới, {duplicates} đã có, "
        "{rejected} bị từ chối (giữ trong khu cách ly), {unparsed} giữ nguyên dạng chưa phân tích.",
    },
    "demo.collector": {
        "en": "Collector configuration (as on an agency server)",
        "vi": "Cấu hình collector (như trên máy chủ của cơ quan)",
    },
    "demo.tailing": {
        "en": "The collector keeps reading {log}: lines appended to it reach the service within a second.",
        "vi": "Collector vẫn tiếp tục đọc {log}: "
        "dòng mới ghi thêm vào tệp sẽ tới hệ thống trong vòng một giây.",
    },
    "demo.detected": {
        "en": "Detection ran {rules} rules over the new events: {alerts} new alerts.",
        "vi": "Đã chạy {rules} luật phát hiện trên các sự kiện mới: {alerts} cảnh báo mới.",
    },
    "demo.dossiers": {"en": "Security-level dossiers", "vi": "Hồ sơ cấp độ an toàn hệ thống thông tin"},
    "demo.others": {
        "en": "Also: {users} (same password; an analyst and the demo agency's officer)",
        "vi": "Ngoài ra: {users} (cùng mật khẩu; chuyên viên phân tích và cán bộ của cơ quan demo)",
    },
    "demo.data": {"en": "Data directory", "vi": "Thư mục dữ liệu"},
    "demo.mail": {
        "en": "Alert e-mails: {n} delivered to the local SMTP sink, saved as .eml files in {dir}",
        "vi": "Thư cảnh báo: {n} thư đã gửi tới hộp thư SMTP cục bộ, lưu dạng .eml trong {dir}",
    },
    "demo.ack": {"en": "Acknowledge link (first e-mail)", "vi": "Liên kết xác nhận (thư đầu tiên)"},
    "demo.stop": {"en": "Press Ctrl+C to stop.", "vi": "Nhấn Ctrl+C để dừng."},
    "demo.stopped": {"en": "Demo stopped.", "vi": "Đã dừng bản trình diễn."},
    "serve.listening": {"en": "Serving on {url}", "vi": "Đang phục vụ tại {url}"},
    "error.config": {"en": "Configuration problems:", "vi": "Cấu hình có lỗi:"},
    "ack.title": {"en": "Acknowledge alert group", "vi": "Xác nhận nhóm cảnh báo"},
    "ack.confirm": {
        "en": "Acknowledge this alert group as {user}? Paging stops until the acknowledgement times out.",
        "vi": "Xác nhận nhóm cảnh báo này với tư cách {user}? "
        "Việc gọi trực sẽ dừng cho tới khi hết hạn xác nhận.",
    },
    "ack.button": {"en": "Acknowledge", "vi": "Xác nhận"},
    "ack.done": {
        "en": "Acknowledged by {user} at {at}. Escalation stopped.",
        "vi": "Đã xác nhận bởi {user} lúc {at}. Đã dừng chuyển cấp.",
    },
    "ack.already": {
        "en": "Already acknowledged by {by} at {at}.",
        "vi": "Nhóm cảnh báo đã được {by} xác nhận lúc {at}.",
    },
    "ack.resolved": {
        "en": "This alert group was resolved at {at}; nothing to acknowledge.",
        "vi": "Nhóm cảnh báo đã kết thúc lúc {at}; không cần xác nhận.",
    },
    "ack.changed": {
        "en": "This alert group changed since the e-mail was sent; use the link in the newest e-mail.",
        "vi": "Nhóm cảnh báo đã thay đổi kể từ khi gửi thư; hãy dùng liên kết trong thư mới nhất.",
    },
    "ack.forged": {
        "en": "This acknowledge link is not valid (damaged or not issued by this SOC).",
        "vi": "Liên kết xác nhận không hợp lệ (bị hỏng hoặc không do SOC này cấp).",
    },
    "ack.foreign": {
        "en": "This acknowledge link belongs to another alert group or recipient.",
        "vi": "Liên kết xác nhận này thuộc về nhóm cảnh báo hoặc người nhận khác.",
    },
    "ack.expired": {
        "en": "This acknowledge link has expired; use the link in a newer e-mail or the web UI.",
        "vi": "Liên kết xác nhận đã hết hạn; hãy dùng liên kết trong thư mới hơn hoặc giao diện web.",
    },
}


def register(messages: dict[str, dict[str, str]], origin: str) -> None:
    """Add a module's messages (e.g. one web area's). Every key needs both languages and must be
    new, so two areas cannot silently overwrite each other's wording."""
    problems = [f"{origin}: '{k}' is already defined" for k in messages if k in MESSAGES]
    problems += [
        f"{origin}: '{k}' lacks {lang}" for k, v in messages.items() for lang in LANGS if not v.get(lang)
    ]
    if problems:
        raise ValueError("; ".join(problems))
    MESSAGES.update(messages)


def t(key: str, lang: str, **values: Any) -> str:
    entry = MESSAGES[key]
    return (entry.get(lang) or entry["en"]).format(**values)


def texts(lang: str) -> dict[str, str]:
    """All messages in one language, for templates."""
    return {key.replace(".", "_"): t(key, lang) for key in MESSAGES if "{" not in MESSAGES[key]["en"]}


def pick_lang(explicit: str | None, accept_language: str | None, default: str) -> str:
    """?lang= wins, then the browser's first supported language, then the configured default."""
    if explicit in ("en", "vi"):
        return explicit
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in ("en", "vi"):
            return code
    return default
